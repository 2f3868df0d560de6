package sshd

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/paroodise/paroodise/internal/testutil"
	"github.com/paroodise/paroodise/reaper"
)

func TestHostKeyTypesCheckedAgainstKnownHosts(t *testing.T) {
	ts := startServer(t, nil)
	algs := map[string]string{
		"ed25519": "ssh-ed25519",
		"ecdsa":   "ecdsa-sha2-nistp256",
		"rsa":     "rsa-sha2-512",
	}
	for typ, alg := range algs {
		t.Run(typ, func(t *testing.T) {
			ts.writeKnownHosts(typ)
			out, errOut, code := ts.sshRun(nil, "-o", "HostKeyAlgorithms="+alg, "echo", "in")
			if code != 0 || out != "in\n" {
				t.Fatalf("login with %s host key: code %d, out %q, err %q", alg, code, out, errOut)
			}
			// The same algorithm against a known_hosts holding only a
			// different key must fail: the check is real.
			other := "ed25519"
			if typ == "ed25519" {
				other = "ecdsa"
			}
			ts.writeKnownHosts(other)
			_, errOut, code = ts.sshRun(nil, "-o", "HostKeyAlgorithms="+alg, "true")
			if code != 255 || !strings.Contains(errOut, "Host key verification failed") {
				t.Fatalf("unknown %s host key accepted: code %d, err %q", alg, code, errOut)
			}
		})
	}
}

func TestUnknownKeyRefused(t *testing.T) {
	ts := startServer(t, nil)
	cmd := ts.ssh("-i", filepath.Join(ts.dir, "id_other"), "echo", "in")
	out, err := cmd.CombinedOutput()
	if code := exitOf(t, err); code != 255 || !strings.Contains(string(out), "Permission denied (publickey)") {
		t.Fatalf("unknown key: code %d, output %q", code, out)
	}
	ts.logs.waitFor(t, "login refused from 127.0.0.1", 5*time.Second)
}

func TestWrongUserRefused(t *testing.T) {
	ts := startServer(t, nil)
	_, errOut, code := ts.sshRun(nil, "-o", "User=nobody-here", "true")
	if code != 255 || !strings.Contains(errOut, "Permission denied") {
		t.Fatalf("login as another user: code %d, err %q", code, errOut)
	}
	ts.logs.waitFor(t, `user "nobody-here" is not accepted`, 5*time.Second)
}

// TestPasswordNeverOffered runs the client on a terminal, where it would
// prompt if the server offered passwords.
func TestPasswordNeverOffered(t *testing.T) {
	ts := startServer(t, nil)
	cmd := ts.ssh("-o", "BatchMode=no", "-o", "PreferredAuthentications=password,keyboard-interactive",
		"-o", "NumberOfPasswordPrompts=1", "127.0.0.1", "true")
	ptm, err := pty.Start(cmd)
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { io.Copy(&out, ptm); close(copied) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("client still waiting (a prompt?): %q", out.String())
	}
	<-copied
	if code := exitOf(t, err); code != 255 {
		t.Fatalf("exit %d, output %q", code, out.String())
	}
	if s := strings.ToLower(out.String()); strings.Contains(s, "password:") || !strings.Contains(s, "permission denied (publickey)") {
		t.Fatalf("want a refusal naming only publickey, no prompt; got %q", out.String())
	}
}

func TestExecExitCodesAndStreams(t *testing.T) {
	ts := startServer(t, nil)
	cases := []struct {
		cmd            string
		code           int
		stdout, stderr string
	}{
		{"echo out; echo err >&2", 0, "out\n", "err\n"},
		{"exit 1", 1, "", ""},
		{"exit 42", 42, "", ""},
		{"no-such-command-here", 127, "", "not found"},
		{"kill -TERM $$", 128 + 15, "", ""},
		{"kill -KILL $$", 128 + 9, "", ""},
	}
	for _, c := range cases {
		out, errOut, code := ts.sshRun(nil, c.cmd)
		if code != c.code || !strings.HasPrefix(out, c.stdout) || !strings.Contains(errOut, c.stderr) ||
			(c.stdout != "" && c.stdout[len(c.stdout)-1] == '\n' && out != c.stdout) {
			t.Errorf("%q: code %d stdout %q stderr %q; want %d %q %q", c.cmd, code, out, errOut, c.code, c.stdout, c.stderr)
		}
	}
	env, _, _ := ts.sshRun(nil, `printf '%s|' "$SSH_CONNECTION" "$SSH_CLIENT" "$USER" "$LOGNAME" "$HOME" "$SHELL" "$PATH" "$SSH_TTY" "$TERM"`)
	want := fmt.Sprintf(`^127\.0\.0\.1 \d+ 127\.0\.0\.1 %d\|127\.0\.0\.1 \d+ %d\|%s\|%s\|%s\|/bin/sh\|%s\|\|\|$`,
		ts.addr.Port, ts.addr.Port, ts.user, ts.user, regexp.QuoteMeta(ts.home()), regexp.QuoteMeta(DefaultPath))
	if !regexp.MustCompile(want).MatchString(env) {
		t.Errorf("session environment %q does not match %s", env, want)
	}
	// Each login names its user, address and key fingerprint.
	pub := ts.clientSg.PublicKey()
	ts.logs.waitFor(t, fmt.Sprintf("login %s from 127.0.0.1:", ts.user), 5*time.Second)
	ts.logs.waitFor(t, fmt.Sprintf(" with key %s %s ", pub.Type(), gossh.FingerprintSHA256(pub)), 5*time.Second)
	ts.logs.waitFor(t, `exec "exit 42"`, 5*time.Second)
	ts.logs.waitFor(t, "exit 42 after", 5*time.Second)
}

func TestMissingShellIs127(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Shell = "/nonexistent/sh" })
	_, errOut, code := ts.sshRun(nil, "true")
	if code != 127 || !strings.Contains(errOut, "/nonexistent/sh") {
		t.Fatalf("code %d, stderr %q", code, errOut)
	}
}

func TestSignalRequestDelivered(t *testing.T) {
	ts := startServer(t, nil)
	client := ts.goClient()
	for _, withPty := range []bool{false, true} {
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if withPty {
			// Under a terminal the signal goes to its foreground job.
			if err := sess.RequestPty("xterm", 24, 80, nil); err != nil {
				t.Fatal(err)
			}
		}
		stdout, _ := sess.StdoutPipe()
		if err := sess.Start("echo started; sleep 60"); err != nil {
			t.Fatal(err)
		}
		line := make([]byte, 7)
		if _, err := io.ReadFull(stdout, line); err != nil || string(line) != "started" {
			t.Fatalf("read %q: %v", line, err)
		}
		if err := sess.Signal(gossh.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err = sess.Wait()
		ee, ok := err.(*gossh.ExitError)
		if !ok || ee.ExitStatus() != 128+15 {
			t.Fatalf("pty %v: want exit status 143, got %v", withPty, err)
		}
	}
}

// TestStdin1GiB streams 1 GiB of zeros through the remote sha256sum.
func TestStdin1GiB(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	needTool(t, "sha256sum", "head")
	ts := startServer(t, nil)
	const want = "49bc20df15e412a64472421e13fe86ff1c5165e18b2afccf160d4dc19fe68a14" // sha256 of 1 GiB of zeros
	cmd := ts.ssh("127.0.0.1", "sha256sum")
	defer feedGiB(t, cmd)()
	start := time.Now()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh sha256sum: %v", err)
	}
	if got := strings.Fields(string(out)); len(got) == 0 || got[0] != want {
		t.Fatalf("remote sum %q, want %s", out, want)
	}
	t.Logf("1 GiB in %s", time.Since(start).Round(time.Millisecond))
}

// feedGiB makes head -c 1G /dev/zero cmd's stdin, as an admin's
// `head … | ssh …` does: a real pipe, no copying here. The returned func
// waits for head.
func feedGiB(t testing.TB, cmd *exec.Cmd) func() {
	t.Helper()
	head := exec.Command("head", "-c", "1G", "/dev/zero")
	out, err := head.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := head.Start(); err != nil {
		t.Fatal(err)
	}
	cmd.Stdin = out
	return func() { head.Wait() }
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// ptyClient runs ssh -tt on a terminal of the given size and lets the
// test type and wait for output.
type ptyClient struct {
	t    *testing.T
	cmd  *exec.Cmd
	ptm  *os.File
	out  *testutil.Capture
	done chan error
}

func (ts *testServer) ptyLogin(t *testing.T, rows, cols uint16, extra ...string) *ptyClient {
	cmd := ts.ssh(append([]string{"-tt", "127.0.0.1"}, extra...)...)
	cmd.Env = append(os.Environ(), "TERM=xterm-256color")
	ptm, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	c := &ptyClient{t: t, cmd: cmd, ptm: ptm, out: testutil.CaptureFrom(ptm), done: make(chan error, 1)}
	go func() { c.done <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		ptm.Close()
	})
	return c
}

func (c *ptyClient) send(s string) {
	if _, err := c.ptm.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// waitExit waits for ssh to end and checks its exit status.
func (c *ptyClient) waitExit(want int) {
	c.t.Helper()
	select {
	case err := <-c.done:
		if code := exitOf(c.t, err); code != want {
			c.t.Fatalf("shell exit %d, want %d", code, want)
		}
	case <-time.After(30 * time.Second):
		c.t.Fatal("shell did not end")
	}
}

func (c *ptyClient) expect(re string) string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := rx.FindString(c.out.String()); m != "" {
			return m
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatalf("no %q in terminal output %q", re, c.out.String())
	return ""
}

func TestPTYShellWindowChangeAndBanner(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Banner = func() string { return "paroodise test banner\nsecond line\n" }
	})
	c := ts.ptyLogin(t, 24, 80)
	c.expect(`paroodise test banner\r\nsecond line\r\n`)
	c.send("stty size; echo \"T=$TERM\"; echo \"tty=$SSH_TTY\"\r")
	c.expect(`\b24 80\r\n`)
	c.expect(`T=xterm-256color`)
	c.expect(`tty=/dev/pts/\d+`)
	if err := pty.Setsize(c.ptm, &pty.Winsize{Rows: 50, Cols: 132}); err != nil {
		t.Fatal(err)
	}
	// ssh forwards the change on SIGWINCH; poll until the shell sees it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.send("stty size\r")
		time.Sleep(200 * time.Millisecond)
		seen := strings.Contains(c.out.String(), "50 132")
		if seen || time.Now().After(deadline) {
			break
		}
	}
	c.expect(`\b50 132\r\n`)
	c.send("exit 7\r")
	c.waitExit(7)
}

// TestPTYRawOutputUntouched checks that "\n" from a raw-mode program
// arrives as "\n": the server must not rewrite PTY output.
func TestPTYRawOutputUntouched(t *testing.T) {
	ts := startServer(t, nil)
	out, errOut, code := ts.sshRun(nil, "-tt", `stty raw -echo; printf 'a\nb\r\nc\n'; stty sane`)
	if code != 0 || !strings.Contains(out, "a\nb\r\nc\n") {
		t.Fatalf("code %d stdout %q stderr %q: want raw bytes a\\nb\\r\\nc\\n", code, out, errOut)
	}
	// And with the line discipline cooking, onlcr is the terminal's doing.
	out, _, _ = ts.sshRun(nil, "-tt", `printf 'x\ny\n'`)
	if !strings.Contains(out, "x\r\ny\r\n") {
		t.Fatalf("cooked pty output %q, want x\\r\\ny\\r\\n", out)
	}
}

func TestPTYInteractiveProgram(t *testing.T) {
	needTool(t, "od")
	ts := startServer(t, nil)
	c := ts.ptyLogin(t, 24, 80)
	// A program reading the terminal raw, byte by byte, as editors do;
	// ^C must arrive as a byte, not as SIGINT.
	c.send("stty raw -echo; echo RE''ADY; head -c 3 | od -An -c; stty sane\r")
	c.expect(`READY`)
	c.send("q\x03\n")
	c.expect(`q +003 +\\n`)
	c.send("exit\r")
}

func randomFile(t *testing.T, file string, size int64) {
	t.Helper()
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
}

func TestSFTP100MiB(t *testing.T) {
	needTool(t, "sftp")
	ts := startServer(t, nil)
	src := filepath.Join(ts.dir, "src")
	randomFile(t, src, 100<<20)
	up, down := filepath.Join(ts.dir, "up"), filepath.Join(ts.dir, "down")
	batch := fmt.Sprintf("put %s %s\nget %s %s\n", src, up, up, down)
	args := append(ts.sshOpts(ts.client), "-P", fmt.Sprint(ts.addr.Port), "-b", "-", "127.0.0.1")
	cmd := exec.Command("sftp", args...)
	cmd.Stdin = strings.NewReader(batch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	want := testutil.SHA256File(t, src)
	for _, f := range []string{up, down} {
		if got := testutil.SHA256File(t, f); got != want {
			t.Errorf("%s: sha256 %s, want %s", f, got, want)
		}
	}
}

func TestSCPBothWays(t *testing.T) {
	needTool(t, "scp")
	ts := startServer(t, nil)
	src := filepath.Join(ts.dir, "src")
	randomFile(t, src, 5<<20)
	want := testutil.SHA256File(t, src)
	// OpenSSH 9 scp speaks SFTP; -O is the old protocol, which runs
	// "scp -t" or "scp -f" through the shell.
	for _, mode := range []string{"-s", "-O"} {
		up, down := filepath.Join(ts.dir, "up"+mode), filepath.Join(ts.dir, "down"+mode)
		scp := func(from, to string) {
			args := append([]string{mode}, ts.sshOpts(ts.client)...)
			args = append(args, "-P", fmt.Sprint(ts.addr.Port), from, to)
			if out, err := exec.Command("scp", args...).CombinedOutput(); err != nil {
				t.Fatalf("scp %s %s %s: %v\n%s", mode, from, to, err, out)
			}
		}
		scp(src, "127.0.0.1:"+up)
		scp("127.0.0.1:"+up, down)
		for _, f := range []string{up, down} {
			if got := testutil.SHA256File(t, f); got != want {
				t.Errorf("%s: sha256 %s, want %s", f, got, want)
			}
		}
	}
}

func TestConcurrentSessions(t *testing.T) {
	ts := startServer(t, nil)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, errOut, code := ts.sshRun([]byte(fmt.Sprint(i)),
				fmt.Sprintf(`read x; sleep 1; echo "$x-%d"; echo e%d >&2; exit %d`, i, i, i))
			if code != i || out != fmt.Sprintf("%d-%d\n", i, i) || errOut != fmt.Sprintf("e%d\n", i) {
				errs <- fmt.Sprintf("session %d: code %d out %q err %q", i, code, out, errOut)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestForwardingRefused(t *testing.T) {
	ts := startServer(t, nil)
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("reached\n"))
			c.Close()
		}
	}()

	// Local forwarding (-W opens a direct-tcpip channel at once).
	out, errOut, code := ts.sshRun(nil, "-W", target.Addr().String())
	if code != 255 || strings.Contains(out, "reached") || !strings.Contains(errOut, "forwarding failed") {
		t.Errorf("local forward: code %d out %q err %q", code, out, errOut)
	}
	// Remote forwarding.
	_, errOut, code = ts.sshRun(nil, "-o", "ExitOnForwardFailure=yes", "-R", "0:"+target.Addr().String(), "true")
	if code != 255 || !strings.Contains(errOut, "forwarding failed") {
		t.Errorf("remote forward: code %d err %q", code, errOut)
	}
	// The Go client reports refusals directly: a direct-tcpip channel
	// and agent forwarding (refused, not pretended).
	client := ts.goClient()
	if _, err := client.Dial("tcp", target.Addr().String()); err == nil {
		t.Errorf("direct-tcpip channel opened")
	}
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := agent.RequestAgentForwarding(sess); err == nil {
		t.Errorf("agent forwarding accepted")
	}
	x11 := gossh.Marshal(struct {
		Single           bool
		Protocol, Cookie string
		Screen           uint32
	}{false, "MIT-MAGIC-COOKIE-1", "00", 0})
	if ok, err := sess.SendRequest("x11-req", true, x11); ok || err != nil {
		t.Errorf("x11-req: ok %v err %v", ok, err)
	}
	ts.logs.waitFor(t, "refused direct-tcpip channel", 5*time.Second)
	ts.logs.waitFor(t, "refused tcpip-forward request", 5*time.Second)
	ts.logs.waitFor(t, "refused auth-agent-req@openssh.com", 5*time.Second)
	ts.logs.waitFor(t, "refused x11-req", 5*time.Second)
}

func TestSendEnvFiltered(t *testing.T) {
	ts := startServer(t, nil)
	cmd := ts.ssh("-o", "SendEnv=LD_PRELOAD LD_LIBRARY_PATH LANG LC_TIME NOT_ALLOWED",
		"127.0.0.1", `echo "[$LD_PRELOAD][$LD_LIBRARY_PATH][$LANG][$LC_TIME][$NOT_ALLOWED]"`)
	// LD_PRELOAD must name something harmless: it applies to the client.
	cmd.Env = append(os.Environ(), "LD_PRELOAD=libc.so.6", "LD_LIBRARY_PATH=/tmp/evil", "LANG=C.UTF-8", "LC_TIME=C", "NOT_ALLOWED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "[][][C.UTF-8][C][]\n" {
		t.Fatalf("remote env %q", out)
	}
	ts.logs.waitFor(t, "refused env LD_PRELOAD", 5*time.Second)
	ts.logs.waitFor(t, "refused env LD_LIBRARY_PATH", 5*time.Second)
}

func TestKeyOptions(t *testing.T) {
	ts := startServer(t, nil)
	line := func(opts string) {
		b := append([]byte(opts+" "), gossh.MarshalAuthorizedKey(ts.clientSg.PublicKey())...)
		if err := os.WriteFile(ts.authKeys, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	line(`command="echo forced:$SSH_ORIGINAL_COMMAND"`)
	if out, _, code := ts.sshRun(nil, "echo", "asked"); code != 0 || out != "forced:echo asked\n" {
		t.Errorf("command=: code %d out %q", code, out)
	}
	line(`from="10.9.8.7,192.0.2.0/24"`)
	if _, _, code := ts.sshRun(nil, "true"); code != 255 {
		t.Errorf("from= not matching: code %d, want 255", code)
	}
	ts.logs.waitFor(t, "source not in from=", 5*time.Second)
	line(`from="127.0.0.0/8,!10.0.0.1"`)
	if _, _, code := ts.sshRun(nil, "true"); code != 0 {
		t.Errorf("from= matching: code %d", code)
	}
	line(`no-pty`)
	if _, errOut, code := ts.sshRun(nil, "-tt", "true"); code != 255 || !strings.Contains(errOut, "PTY allocation request failed") {
		t.Errorf("no-pty: code %d err %q", code, errOut)
	}
	sess, err := ts.goClient().NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm", 24, 80, nil); err == nil {
		t.Errorf("no-pty: pty granted")
	}
	if out, err := sess.Output("tty || true"); err != nil || !strings.Contains(string(out), "not a tty") {
		t.Errorf("no-pty: %v %q", err, out)
	}
	line(`expiry-time="20000101"`)
	if _, _, code := ts.sshRun(nil, "true"); code != 255 {
		t.Errorf("expired key: code %d", code)
	}
	line(`cert-authority`)
	if _, _, code := ts.sshRun(nil, "true"); code != 255 {
		t.Errorf("cert-authority key: code %d", code)
	}
	ts.logs.waitFor(t, `option "cert-authority" is not supported`, 5*time.Second)
}

func TestHandshakeTimeoutAndConnectionCaps(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.HandshakeTimeout = 2 * time.Second
		c.MaxUnauthenticatedPerSource = 2
		c.MaxAuthFailures = 3
	})
	dial := func() net.Conn {
		c, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// Two silent connections take the per-source slots (the server's
	// greeting shows each was admitted) ...
	a, b := dial(), dial()
	defer a.Close()
	defer b.Close()
	for _, conn := range []net.Conn{a, b} {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
			t.Fatalf("no greeting: %v", err)
		}
	}
	// ... so a third is closed without a server greeting.
	c := dial()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 64)); err == nil {
		t.Errorf("third unauthenticated connection served (%d bytes)", n)
	}
	c.Close()
	ts.logs.waitFor(t, "too many unauthenticated connections from this address", 5*time.Second)
	// The silent ones are dropped after the handshake timeout.
	for _, conn := range []net.Conn{a, b} {
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.Copy(io.Discard, conn); err != nil {
			t.Errorf("silent connection not closed by the server: %v", err)
		}
	}
	ts.logs.waitFor(t, "no login within 2s", 5*time.Second)
	// Those two failures and one more with a wrong key reach the cap;
	// then even the right key is turned away for a while.
	ts.ssh("-i", filepath.Join(ts.dir, "id_other"), "true").Run()
	if _, _, code := ts.sshRun(nil, "true"); code != 255 {
		t.Errorf("login accepted after %d failures", 3)
	}
	ts.logs.waitFor(t, "too many failed logins from this address", 5*time.Second)
}

func TestBindRetriedWhileTaken(t *testing.T) {
	blocker, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	taken := blocker.Addr().String()
	ts := startServer(t, func(c *Config) {
		c.Listen = []string{taken}
		c.BindRetry = 100 * time.Millisecond
	})
	// The other listener serves at once.
	if out, _, code := ts.sshRun(nil, "echo", "up"); code != 0 || out != "up\n" {
		t.Fatalf("second listener: code %d out %q", code, out)
	}
	ts.logs.waitFor(t, "listen "+taken, 5*time.Second)
	blocker.Close()
	ts.logs.waitFor(t, "listening on "+taken, 10*time.Second)
	port := blocker.Addr().(*net.TCPAddr).Port
	cmd := ts.ssh("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-p", fmt.Sprint(port), "echo", "late")
	if out, err := cmd.Output(); err != nil || string(out) != "late\n" {
		t.Fatalf("retried listener: %v %q", err, out)
	}
}

// TestSurvivesClientDisconnects kills clients in the middle of each kind
// of session, then checks that the server still serves and that the
// remote children met what they would under OpenSSH: a terminal hang-up,
// EOF on stdin, EPIPE on output, and nothing at all for a command that
// does no I/O.
func TestSurvivesClientDisconnects(t *testing.T) {
	needTool(t, "sftp", "sleep", "dd")
	ts := startServer(t, nil)
	defer killProcessWithArg("1000.101")
	big := filepath.Join(ts.dir, "big")
	randomFile(t, big, 16<<20)

	kills := map[string]*exec.Cmd{
		"exec":   ts.ssh("127.0.0.1", "sleep 1000.101 </dev/null >/dev/null 2>&1; echo never"),
		"stdin":  ts.ssh("127.0.0.1", "dd of=/dev/null bs=1000102"),
		"pty":    ts.ssh("-tt", "127.0.0.1", "sleep 1000.103"),
		"output": ts.ssh("127.0.0.1", "dd if=/dev/zero bs=1000104"),
		"sftp": exec.Command("sftp", append(ts.sshOpts(ts.client), "-l", "20000", "-P", fmt.Sprint(ts.addr.Port),
			"127.0.0.1:"+big, filepath.Join(ts.dir, "partial"))...),
	}
	kills["stdin"].Stdin = io.LimitReader(zeros{}, 1<<40)
	kills["output"].Stdout = io.Discard
	ptm, err := pty.Start(kills["pty"])
	if err != nil {
		t.Fatal(err)
	}
	defer ptm.Close()
	go io.Copy(io.Discard, ptm)
	for name, cmd := range kills {
		if name == "pty" {
			continue
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	for _, marker := range []string{"sleep 1000.101", "bs=1000102", "sleep 1000.103", "bs=1000104", `subsystem "sftp"`} {
		ts.logs.waitFor(t, marker, 20*time.Second)
	}
	time.Sleep(500 * time.Millisecond) // mid-transfer
	for _, cmd := range kills {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	for _, marker := range []string{"bs=1000102", "1000.103", "bs=1000104"} {
		if !waitProcess(marker, false) {
			t.Errorf("remote %s still running after its client died", marker)
		}
	}
	if !processWithArg("1000.101") {
		t.Errorf("a command doing no I/O was killed with its client; OpenSSH leaves it running")
	}
	if out, _, code := ts.sshRun(nil, "echo", "alive"); code != 0 || out != "alive\n" {
		t.Fatalf("after disconnects: code %d out %q", code, out)
	}
}

// pidsWithArg lists the processes that have arg in their command line.
func pidsWithArg(arg string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if slices.ContainsFunc(bytes.Split(b, []byte{0}), func(a []byte) bool { return string(a) == arg }) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// processWithArg reports whether some process has arg in its command line.
func processWithArg(arg string) bool { return len(pidsWithArg(arg)) > 0 }

func TestKeepaliveDropsDeadPeer(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.KeepaliveInterval = 500 * time.Millisecond
		c.KeepaliveMax = 4
	})
	// A proxy that goes silent in both directions, like a dead network.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var frozen sync.WaitGroup
	frozen.Add(1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", ts.addr.String())
		if err != nil {
			return
		}
		pipe := func(dst, src net.Conn) {
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				if err != nil {
					return
				}
				if strings.Contains(ts.logs.String(), "bs=1000201") {
					frozen.Wait() // hold the bytes: the peer is gone
				}
				dst.Write(buf[:n])
			}
		}
		go pipe(s, c)
		pipe(c, s)
	}()
	defer frozen.Done()
	cmd := ts.ssh("-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-p", fmt.Sprint(ln.Addr().(*net.TCPAddr).Port), "dd of=/dev/null bs=1000201")
	// A stdin that never ends: only the dropped connection ends dd.
	stdin, stdinW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdinW.Close()
	cmd.Stdin = stdin
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stdin.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if !waitProcess("bs=1000201", true) {
		t.Fatal("remote dd never ran")
	}
	ts.logs.waitFor(t, "no keepalive reply", 20*time.Second)
	if !waitProcess("bs=1000201", false) {
		t.Fatal("session of the dead peer still running")
	}
}

// waitProcess waits up to 20s until a process with arg exists (or, with
// running false, no longer exists) and says whether that happened.
func waitProcess(arg string, running bool) bool {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if processWithArg(arg) == running {
			return true
		}
	}
	return false
}

func exitOf(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("run: %v", err)
	}
	return ee.ExitCode()
}

// TestExitCodesUnderReaperLoop serves the way PID 1 does, with the
// reaper's loop collecting every orphan, and checks that no session's
// exit status is stolen. It runs in a child test process, because the
// loop would also collect the other tests' plain exec.Cmd children.
func TestExitCodesUnderReaperLoop(t *testing.T) {
	if os.Getenv("PAROODISE_SSHD_REAPER_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestExitCodesUnderReaperLoop$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "PAROODISE_SSHD_REAPER_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestExitCodesUnderReaperLoop") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	if err := reaper.BecomeSubreaper(); err != nil {
		t.Fatal(err)
	}
	orphans, stop := reaper.Subscribe()
	defer stop()
	reaper.Loop()
	ts := startServer(t, nil)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The background sleep outlives its shell and is re-parented
			// to this process, as orphans are to PID 1.
			cmd := ts.ssh(fmt.Sprintf("sleep 0.2 & exit %d", i+3))
			err := reaper.Run(cmd)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != i+3 {
				t.Errorf("session %d: %v, want exit status %d", i, err, i+3)
			}
		}()
	}
	wg.Wait()
	deadline := time.After(30 * time.Second)
	for got := 0; got < n; got++ {
		select {
		case <-orphans:
		case <-deadline:
			t.Fatalf("only %d of %d orphans reaped by the loop", got, n)
		}
	}
}

// TestProjectShell serves with paroodise's own sh, reached by its argv[0]
// name as in the new root, for commands and an interactive login.
func TestProjectShell(t *testing.T) {
	dir := t.TempDir()
	sh := filepath.Join(dir, "sh")
	if err := os.Symlink(testutil.Binary(t), sh); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *Config) { c.Shell = sh })
	for cmd, want := range map[string]int{"echo $((6*7))": 0, "exit 3": 3, "no-such-command-here": 127} {
		out, errOut, code := ts.sshRun(nil, cmd)
		if code != want || (want == 0 && out != "42\n") {
			t.Errorf("%q: code %d out %q err %q, want %d", cmd, code, out, errOut, want)
		}
	}
	c := ts.ptyLogin(t, 24, 80)
	c.send("echo hi-$((1+1))\r")
	c.expect(`hi-2\r\n`)
	c.send("exit 5\r")
	c.waitExit(5)
}

// TestPanicContained: a panic while serving one session (here in the
// banner hook) ends that session only.
func TestPanicContained(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.Banner = func() string { panic("banner exploded") }
	})
	c := ts.ptyLogin(t, 24, 80)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("session with the panic did not end")
	}
	ts.logs.waitFor(t, "panic in session", 5*time.Second)
	if out, _, code := ts.sshRun(nil, "echo", "still"); code != 0 || out != "still\n" {
		t.Fatalf("after a panic: code %d out %q", code, out)
	}
}

// TestPTYSessionEndsDespiteBackgroundHolder: a job that ignores SIGHUP
// and keeps the terminal open must not keep the session (and the
// client) hanging once the shell has exited.
func TestPTYSessionEndsDespiteBackgroundHolder(t *testing.T) {
	ts := startServer(t, nil)
	defer killProcessWithArg("1000.301")
	cmd := ts.ssh("-tt", "127.0.0.1", `(trap "" HUP; exec sleep 1000.301) & echo started; sleep 0.2; ls -l /proc/$!/fd/ >&2; exit 4`)
	done := make(chan error, 1)
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitOf(t, err); code != 4 || !strings.Contains(out.String(), "started") {
			t.Fatalf("code %d out %q", code, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("session still open while a background job holds its terminal")
	}
}

// killProcessWithArg kills the processes this test started that have
// arg in their command line.
func killProcessWithArg(arg string) {
	for _, pid := range pidsWithArg(arg) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}

// TestIdleTimeout: a logged-in connection with no traffic at all (no
// session, keepalives far apart) is closed.
func TestIdleTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.IdleTimeout = time.Second
		c.KeepaliveInterval = time.Hour
	})
	client := ts.goClient()
	done := make(chan error, 1)
	go func() { done <- client.Wait() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("idle connection still open")
	}
}

// TestExitStatusBeforeClose: every kind of session reports its status
// before closing the channel (a status after the close is lost, and ssh
// exits 255), and all output arrives before EOF.
func TestExitStatusBeforeClose(t *testing.T) {
	ts := startServer(t, nil)
	client := ts.goClient()
	cases := []struct {
		req, arg string
		status   uint32
		bytes    int64
	}{
		{"exec", "echo out; echo err >&2; exit 3", 3, 4},
		{"exec", "head -c 300000 /dev/zero", 0, 300000},
		{"subsystem", "sftp", 0, 0},
	}
	for _, c := range cases {
		ch, reqs, err := client.OpenChannel("session", nil)
		if err != nil {
			t.Fatal(err)
		}
		statuses := make(chan []uint32, 1)
		go func() {
			var got []uint32
			for r := range reqs {
				var st struct{ Status uint32 }
				if r.Type == "exit-status" && gossh.Unmarshal(r.Payload, &st) == nil {
					got = append(got, st.Status)
				}
			}
			statuses <- got // the channel is closed
		}()
		ok, err := ch.SendRequest(c.req, true, gossh.Marshal(struct{ Value string }{c.arg}))
		if !ok || err != nil {
			t.Fatalf("%s %q: %v %v", c.req, c.arg, ok, err)
		}
		ch.CloseWrite() // sftp ends at EOF
		n, _ := io.Copy(io.Discard, ch)
		if n != c.bytes {
			t.Errorf("%s %q: %d bytes before EOF, want %d", c.req, c.arg, n, c.bytes)
		}
		select {
		case got := <-statuses:
			if len(got) != 1 || got[0] != c.status {
				t.Errorf("%s %q: exit statuses before close %v, want [%d]", c.req, c.arg, got, c.status)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%s %q: channel never closed", c.req, c.arg)
		}
	}
}
