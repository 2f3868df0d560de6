package sshd

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// testServer is a server on a loopback port with all three host key
// types, and a client key in its authorized_keys.
type testServer struct {
	t        testing.TB
	dir      string
	addr     *net.TCPAddr
	hostKeys map[string]gossh.Signer // by key type
	client   string                  // client private key file
	clientSg gossh.Signer
	authKeys string // authorized_keys file
	user     string
	logs     *logBuffer
	cfg      Config
}

// logBuffer collects server logs; they are printed if the test fails.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor polls the log until it contains s.
func (l *logBuffer) waitFor(t testing.TB, s string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !strings.Contains(l.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("server log never said %q", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func needTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (apt-get install openssh-client)", n)
		}
	}
}

var (
	keyOnce  sync.Once
	keyCache map[string]any
)

// testKeys returns private keys made once per test binary: RSA
// generation is slow on a loaded machine.
func testKeys(t testing.TB) map[string]any {
	keyOnce.Do(func() {
		keyCache = map[string]any{}
		_, ed, _ := ed25519.GenerateKey(rand.Reader)
		keyCache["ed25519"] = ed
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		keyCache["ecdsa"] = ec
		r, _ := rsa.GenerateKey(rand.Reader, 2048)
		keyCache["rsa"] = r
		_, cl, _ := ed25519.GenerateKey(rand.Reader)
		keyCache["client"] = cl
		_, other, _ := ed25519.GenerateKey(rand.Reader)
		keyCache["other"] = other
	})
	return keyCache
}

func writeKey(t testing.TB, file string, key any) gossh.Signer {
	t.Helper()
	block, err := gossh.MarshalPrivateKey(key, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// startServer starts a server; tweak may adjust its Config.
func startServer(t testing.TB, tweak func(*Config)) *testServer {
	t.Helper()
	needTool(t, "ssh")
	dir := t.TempDir()
	ts := &testServer{t: t, dir: dir, hostKeys: map[string]gossh.Signer{}, logs: &logBuffer{}}
	keys := testKeys(t)
	var hostFiles []string
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		f := filepath.Join(dir, "ssh_host_"+typ+"_key")
		ts.hostKeys[typ] = writeKey(t, f, keys[typ])
		hostFiles = append(hostFiles, f)
	}
	ts.client = filepath.Join(dir, "id_client")
	ts.clientSg = writeKey(t, ts.client, keys["client"])
	writeKey(t, filepath.Join(dir, "id_other"), keys["other"])
	ts.authKeys = filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(ts.authKeys, gossh.MarshalAuthorizedKey(ts.clientSg.PublicKey()), 0o600); err != nil {
		t.Fatal(err)
	}
	ts.user, _, _ = whoAmI()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().(*net.TCPAddr)
	ts.cfg = Config{
		Listeners:           []net.Listener{ln},
		HostKeyFiles:        hostFiles,
		AuthorizedKeysFiles: []string{ts.authKeys},
		StateDir:            filepath.Join(dir, "state"),
		Shell:               "/bin/sh",
		Logf:                ts.logs.Logf,
		// Generous: the test machine may be heavily loaded.
		MaxAuthFailures: 1000,
	}
	if tweak != nil {
		tweak(&ts.cfg)
	}
	ts.writeKnownHosts("ed25519", "ecdsa", "rsa")

	srv, err := New(ts.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("Serve did not return after cancel")
		}
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs)
		}
	})
	return ts
}

// writeKnownHosts trusts the host keys of the given types.
func (ts *testServer) writeKnownHosts(types ...string) {
	var b bytes.Buffer
	host := fmt.Sprintf("[127.0.0.1]:%d", ts.addr.Port)
	for _, typ := range types {
		fmt.Fprintf(&b, "%s %s", host, gossh.MarshalAuthorizedKey(ts.hostKeys[typ].PublicKey()))
	}
	if err := os.WriteFile(filepath.Join(ts.dir, "known_hosts"), b.Bytes(), 0o600); err != nil {
		ts.t.Fatal(err)
	}
}

// sshArgs are the options of a strict, non-interactive OpenSSH client
// that knows only this test's files.
func (ts *testServer) sshOpts(key string) []string {
	return []string{
		"-F", "/dev/null",
		"-i", key,
		"-o", "IdentitiesOnly=yes",
		"-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile=" + filepath.Join(ts.dir, "known_hosts"),
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes",
		"-o", "LogLevel=ERROR",
		"-o", "ConnectTimeout=30",
		"-o", "User=" + ts.user,
	}
}

// ssh builds an ssh command from args: options, then optionally the host
// 127.0.0.1 and a command. The given options come before the defaults,
// since OpenSSH keeps the first value of each.
func (ts *testServer) ssh(args ...string) *exec.Cmd {
	opts, rest := splitSSHArgs(args)
	// -i adds to the identities: a test naming one uses only that one.
	key := ts.client
	for i := 0; i+1 < len(opts); i++ {
		if opts[i] == "-i" {
			key = opts[i+1]
			opts = append(opts[:i:i], opts[i+2:]...)
			break
		}
	}
	full := append(opts, ts.sshOpts(key)...)
	full = append(full, "-p", fmt.Sprint(ts.addr.Port), "127.0.0.1")
	return exec.Command("ssh", append(full, rest...)...)
}

// splitSSHArgs separates leading ssh options (with their values) from
// the command, dropping the host.
func splitSSHArgs(args []string) (opts, rest []string) {
	withValue := map[string]bool{"-o": true, "-W": true, "-R": true, "-L": true, "-p": true, "-i": true, "-F": true, "-c": true, "-l": true}
	i := 0
	for i < len(args) && strings.HasPrefix(args[i], "-") {
		if withValue[args[i]] && i+1 < len(args) {
			i++
		}
		i++
	}
	opts, rest = args[:i:i], args[i:]
	if len(rest) > 0 && rest[0] == "127.0.0.1" {
		rest = rest[1:]
	}
	return opts, rest
}

// sshRun runs ssh with args (options, then the command) and returns
// stdout, stderr and the exit code.
func (ts *testServer) sshRun(stdin []byte, args ...string) (string, string, int) {
	ts.t.Helper()
	cmd := ts.ssh(args...)
	var out, errb bytes.Buffer
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			ts.t.Fatalf("ssh: %v", err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

func (ts *testServer) home() string {
	_, _, home := whoAmI()
	return home
}

// goClient logs in with x/crypto/ssh, for what the OpenSSH client cannot
// ask for (signals, direct channel requests).
func (ts *testServer) goClient() *gossh.Client {
	ts.t.Helper()
	c, err := gossh.Dial("tcp", ts.addr.String(), &gossh.ClientConfig{
		User:              ts.user,
		Auth:              []gossh.AuthMethod{gossh.PublicKeys(ts.clientSg)},
		HostKeyCallback:   gossh.FixedHostKey(ts.hostKeys["ed25519"].PublicKey()),
		HostKeyAlgorithms: []string{gossh.KeyAlgoED25519},
		Timeout:           30 * time.Second,
	})
	if err != nil {
		ts.t.Fatalf("x/crypto ssh dial: %v", err)
	}
	ts.t.Cleanup(func() { c.Close() })
	return c
}
