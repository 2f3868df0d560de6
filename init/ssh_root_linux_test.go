package pid1

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/paroodise/paroodise/handoff"
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

// sshPID1 starts PID 1 with an SSH server on loopback that accepts a
// fresh key, /bin/sh and /bin/paroodise, and /bin/sigprobe (pauseELF).
func sshPID1(t *testing.T, st *handoff.State, setup ...rootSetup) (*pid1, *gossh.ClientConfig) {
	t.Helper()
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
	st.Listen = []string{"127.0.0.1:" + freePort(t)}
	st.AuthorizedKeys = []string{"/root/.ssh/authorized_keys"}
	files := func(root string) error {
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
	}
	p := startPID1(t, st, append([]rootSetup{files}, setup...)...)
	return p, &gossh.ClientConfig{
		User:            "root",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(),
		Timeout:         10 * time.Second,
	}
}

// dial logs in, waiting for the server to listen.
func (p *pid1) dial(cfg *gossh.ClientConfig) *gossh.Client {
	p.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; {
		st := p.status()
		if len(st.SSH.Listening) == 0 {
			if time.Now().After(deadline) {
				p.t.Fatalf("the SSH server never listened: %+v", st.SSH)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !slices.Equal(st.SSH.Listening, st.SSH.Listen) {
			p.t.Fatalf("listening on %q, configured %q", st.SSH.Listening, st.SSH.Listen)
		}
		c, err := gossh.Dial("tcp", st.SSH.Listening[0], cfg)
		if err == nil {
			p.t.Cleanup(func() { c.Close() })
			return c
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("ssh: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func run(t *testing.T, c *gossh.Client, cmd string) string {
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

// startProbe runs /bin/sigprobe in a session and returns its pid in our
// namespace: the one in p's PID namespace and alive, since an earlier
// test's probe may linger as a zombie.
func (p *pid1) startProbe(t *testing.T, c *gossh.Client) int {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := s.Start("exec /bin/sigprobe"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", p.pid))
		for _, pr := range listProcs("/proc") {
			prNS, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", pr.Pid))
			if pr.Comm == "sigprobe" && pr.State != 'Z' && prNS == ns {
				t.Cleanup(func() { syscall.Kill(pr.Pid, syscall.SIGKILL) })
				return pr.Pid
			}
		}
	}
	t.Fatal("sigprobe never ran")
	return 0
}

// The first login over SSH disarms the dead-man; sessions get an empty
// signal mask although PID 1 was started with signals blocked; `paroodise
// status --json` and `log` work from a session.
func TestPID1SSHLogin(t *testing.T) {
	st := testState()
	st.ConfirmWithin.Duration = time.Minute
	p, cfg := sshPID1(t, st)
	if s := p.status(); s.DeadMan.State != DeadManArmed {
		t.Fatalf("dead-man %q before login", s.DeadMan.State)
	}
	c := p.dial(cfg)
	// The probe is not a Go program, whose runtime would change its own
	// mask: its SigBlk is exactly what it inherited through the shell.
	if mask := strings.Join(sigBlk(t, p.startProbe(t, c)), " "); mask != "0000000000000000" {
		t.Errorf("a session's child has signal mask %q, want empty", mask)
	}
	var s Status
	if err := json.Unmarshal([]byte(run(t, c, "paroodise status --json")), &s); err != nil {
		t.Fatal(err)
	}
	if s.DeadMan.State != DeadManDisarmed || s.SSH.Logins < 1 || s.SSH.FirstLogin.IsZero() {
		t.Errorf("after login: dead-man %q, logins %d", s.DeadMan.State, s.SSH.Logins)
	}
	if out := run(t, c, "paroodise log -n 3"); strings.Count(out, "\n") != 3 {
		t.Errorf("log -n 3:\n%s", out)
	}
}

// After the first login the old root is released again without sparing
// anyone, while old processes take their time to die: the new server's
// sessions, started meanwhile, must survive it.
func TestPID1SessionsSurviveRelease(t *testing.T) {
	st := testState()
	st.OldRoot = "/oldroot"
	p, cfg := sshPID1(t, st, func(root string) error {
		if err := mountTmpfs(root + "/oldroot"); err != nil {
			return err
		}
		// Outside PID 1's reach (another PID namespace), this keeps the old
		// root busy, so that the release is done again after the login.
		holder := exec.Command("sleep", "300")
		holder.Dir = root + "/oldroot"
		holder.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := holder.Start(); err != nil {
			return err
		}
		t.Cleanup(func() { holder.Process.Kill(); holder.Wait() })
		return nil
	})
	for deadline := time.Now().Add(30 * time.Second); p.status().OldRoot.State != RootBusy; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("old root %+v", p.status().OldRoot)
		}
	}
	// An old service that ignores SIGTERM, adopted by PID 1.
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(p.pid), "--pid", "--",
		"/bin/sh", "-c", `(trap "" TERM; exec sleep 300) >/dev/null 2>&1 & exit 0`).CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	// The backgrounded subshell becomes sleep a moment later (under load,
	// after sh has returned).
	var old int
	for deadline := time.Now().Add(10 * time.Second); old == 0; time.Sleep(50 * time.Millisecond) {
		for _, pr := range listProcs("/proc") {
			if pr.PPid == p.pid && pr.Comm == "sleep" {
				old = pr.Pid
			}
		}
		if old == 0 && time.Now().After(deadline) {
			t.Fatal("no old service under PID 1")
		}
	}
	c := p.dial(cfg)
	p.waitLog("first login: releasing", 10*time.Second)
	probe := p.startProbe(t, c)
	p.waitLog("stopping 1 processes", 10*time.Second)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(old)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the old service survived the release")
		}
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(probe)); err != nil {
		t.Fatalf("the session's process died with the release: %v", err)
	}
	if out := run(t, c, "echo still here"); out != "still here\n" {
		t.Fatalf("session after the release: %q", out)
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
