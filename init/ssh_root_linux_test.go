package pid1

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/paroodise/paroodise/internal/testutil"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

// The first login over SSH disarms the dead-man; sessions get an empty
// signal mask although PID 1 was started with signals blocked; `paroodise
// status --json` works from a session.
func TestPID1SSHLogin(t *testing.T) {
	testutil.Root(t)
	bin := testutil.Binary(t)
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + freePort(t)
	st := testState()
	st.Listen = []string{addr}
	st.AuthorizedKeys = []string{"/root/.ssh/authorized_keys"}
	st.ConfirmWithin.Duration = time.Minute
	p := startPID1(t, st, func(root string) error {
		if err := os.MkdirAll(root+"/bin", 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(root+"/bin/sigprobe", pauseELF(), 0o755); err != nil {
			return err
		}
		for _, name := range []string{"/bin/sh", "/bin/paroodise"} {
			if err := copyFile(bin, root+name); err != nil {
				return err
			}
		}
		if err := os.MkdirAll(root+"/root/.ssh", 0o700); err != nil {
			return err
		}
		return os.WriteFile(root+"/root/.ssh/authorized_keys", gossh.MarshalAuthorizedKey(signer.PublicKey()), 0o600)
	})
	if s := p.status(); s.DeadMan.State != DeadManArmed {
		t.Fatalf("dead-man %q before login", s.DeadMan.State)
	}
	cfg := &gossh.ClientConfig{
		User:            "root",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}
	var c *gossh.Client
	for deadline := time.Now().Add(20 * time.Second); ; {
		if c, err = gossh.Dial("tcp", addr, cfg); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ssh: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	defer c.Close()
	run := func(cmd string) string {
		t.Helper()
		s, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		out, err := s.CombinedOutput(cmd)
		if err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
		return string(out)
	}
	// The probe is not a Go program, whose runtime would change its own
	// mask: its SigBlk is exactly what it inherited through the shell.
	probe, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if err := probe.Start("exec /bin/sigprobe"); err != nil {
		t.Fatal(err)
	}
	var mask string
	for deadline := time.Now().Add(10 * time.Second); mask == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		for _, pr := range listProcs("/proc") {
			if pr.Comm == "sigprobe" {
				m := sigBlk(t, pr.Pid)
				mask = strings.Join(m, " ")
				syscall.Kill(pr.Pid, syscall.SIGKILL)
			}
		}
	}
	if mask != "0000000000000000" {
		t.Errorf("a session's child has signal mask %q, want empty", mask)
	}
	var s Status
	if err := json.Unmarshal([]byte(run("paroodise status --json")), &s); err != nil {
		t.Fatal(err)
	}
	if s.DeadMan.State != DeadManDisarmed || s.SSH.Logins < 1 || s.SSH.FirstLogin.IsZero() {
		t.Errorf("after login: dead-man %q, logins %d", s.DeadMan.State, s.SSH.Logins)
	}
	if out := run("paroodise log -n 3"); strings.Count(out, "\n") != 3 {
		t.Errorf("log -n 3:\n%s", out)
	}
}

// pauseELF is a minimal static x86-64 program that calls pause(2) forever.
func pauseELF() []byte {
	const base, hdr = 0x400000, 64 + 56
	code := []byte{
		0xb8, 34, 0, 0, 0, // mov eax, SYS_pause
		0x0f, 0x05, // syscall
		0xeb, 0xf7, // jmp back to mov
	}
	b := make([]byte, hdr, hdr+len(code))
	copy(b, "\x7fELF\x02\x01\x01")
	le := binary.LittleEndian
	le.PutUint16(b[16:], 2)    // ET_EXEC
	le.PutUint16(b[18:], 0x3e) // EM_X86_64
	le.PutUint32(b[20:], 1)
	le.PutUint64(b[24:], base+hdr) // entry
	le.PutUint64(b[32:], 64)       // program headers
	le.PutUint16(b[52:], 64)
	le.PutUint16(b[54:], 56)
	le.PutUint16(b[56:], 1)
	ph := b[64:]
	le.PutUint32(ph[0:], 1) // PT_LOAD
	le.PutUint32(ph[4:], 5) // R+X
	le.PutUint64(ph[16:], base)
	le.PutUint64(ph[24:], base)
	le.PutUint64(ph[32:], uint64(hdr+len(code)))
	le.PutUint64(ph[40:], uint64(hdr+len(code)))
	le.PutUint64(ph[48:], 0x1000)
	return append(b, code...)
}
