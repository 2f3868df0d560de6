package pid1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/handoff"
	"github.com/paroodise/paroodise/internal/testutil"
)

// pid1 is the paroodise binary running as PID 1 of a new PID and mount
// namespace, chrooted into a fresh tmpfs that plays the new root.
type pid1 struct {
	t      *testing.T
	cmd    *exec.Cmd
	pid    int // in our namespace
	stderr *syncBuffer
	fdPipe *os.File // read end of a pipe whose write end only PID 1 holds
	done   chan struct{}
	waited chan struct{}
	ws     syscall.WaitStatus
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rootSetup adds files or mounts to the new root before PID 1 starts; it
// runs in the private mount namespace that PID 1 will copy.
type rootSetup func(root string) error

// startPID1 starts the binary as /usr/lib/systemd/systemd with systemd's
// re-exec argv, with st as its state file (nil: none), a blocked signal
// mask and an extra inherited descriptor, as systemd leaves them.
func startPID1(t *testing.T, st *handoff.State, setup ...rootSetup) *pid1 {
	testutil.Root(t)
	bin := testutil.Binary(t)
	p := &pid1{t: t, stderr: &syncBuffer{}, done: make(chan struct{}), waited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// This thread gets its own mount namespace; it is never unlocked,
		// so the runtime discards it when the goroutine ends.
		runtime.LockOSThread()
		started <- p.start(bin, st, setup)
		<-p.done
	}()
	if err := <-started; err != nil {
		close(p.done)
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.ws = p.cmd.ProcessState.Sys().(syscall.WaitStatus)
		close(p.waited)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.waited
		close(p.done)
		if t.Failed() {
			t.Logf("PID 1 stderr:\n%s", p.stderr.String())
		}
	})
	p.waitControl()
	return p
}

func (p *pid1) start(bin string, st *handoff.State, setup []rootSetup) error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("unshare(CLONE_NEWNS): %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / rprivate: %w", err)
	}
	root := p.t.TempDir()
	if err := unix.Mount("tmpfs", root, "tmpfs", 0, "size=64m"); err != nil {
		return fmt.Errorf("mount tmpfs: %w", err)
	}
	// /dev is "already mounted" so that PID 1 leaves the host's devtmpfs
	// and kernel log alone; /proc, /sys, /dev/pts and /run it mounts.
	if err := os.MkdirAll(root+"/dev", 0o755); err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", root+"/dev", "tmpfs", 0, ""); err != nil {
		return fmt.Errorf("mount tmpfs on dev: %w", err)
	}
	exe := root + "/usr/lib/systemd/systemd"
	if err := copyFile(bin, exe); err != nil {
		return err
	}
	if st != nil {
		if err := st.Save(root + handoff.StateFile); err != nil {
			return err
		}
	}
	for _, s := range setup {
		if err := s(root); err != nil {
			return err
		}
	}
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	p.fdPipe = r
	// systemd keeps most signals blocked across its re-exec.
	var mask unix.Sigset_t
	for _, s := range []unix.Signal{unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGPWR} {
		mask.Val[0] |= 1 << (uint(s) - 1)
	}
	var old unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_BLOCK, &mask, &old); err != nil {
		return err
	}
	defer unix.PthreadSigmask(unix.SIG_SETMASK, &old, nil)

	p.cmd = exec.Command("/usr/lib/systemd/systemd", "--system", "--deserialize=12")
	p.cmd.Env = []string{"PATH=/bin", "TERM=vt220"}
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	p.cmd.ExtraFiles = []*os.File{w}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot: root,
		// PID 1 shares this thread's private mount namespace, so that
		// processes the test starts here can hold its mounts.
		Cloneflags: unix.CLONE_NEWPID,
		Pdeathsig:  unix.SIGKILL,
	}
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		return err
	}
	p.pid = p.cmd.Process.Pid
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// path names a file in PID 1's root, from our namespace.
func (p *pid1) path(name string) string {
	return fmt.Sprintf("/proc/%d/root%s", p.pid, name)
}

func (p *pid1) client() Client {
	return Client{Path: p.path(ControlSocket), Timeout: 5 * time.Second}
}

func (p *pid1) waitControl() {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := p.client().Status(); err == nil {
			return
		} else if time.Now().After(deadline) {
			p.t.Fatalf("control socket never answered: %v", err)
		}
		select {
		case <-p.waited:
			p.t.Fatalf("PID 1 exited early: %v", p.ws)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (p *pid1) status() *Status {
	p.t.Helper()
	st, err := p.client().Status()
	if err != nil {
		p.t.Fatalf("status: %v", err)
	}
	return st
}

// waitLog waits for a log line containing substr.
func (p *pid1) waitLog(substr string, within time.Duration) string {
	p.t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		var hit string
		_ = p.client().Log(false, 0, func(e Entry) error {
			if hit == "" && strings.Contains(e.Msg, substr) {
				hit = e.Msg
			}
			return nil
		})
		if hit != "" {
			return hit
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("no log line with %q within %s", substr, within)
	return ""
}

// waitExit waits for PID 1 to be gone and returns how it ended.
func (p *pid1) waitExit(within time.Duration) syscall.WaitStatus {
	p.t.Helper()
	select {
	case <-p.waited:
		return p.ws
	case <-time.After(within):
		p.t.Fatalf("PID 1 still running after %s", within)
	}
	return 0
}

// alive fails the test if PID 1 has exited.
func (p *pid1) alive() {
	p.t.Helper()
	select {
	case <-p.waited:
		p.t.Fatalf("PID 1 exited: %v", p.ws)
	default:
	}
}

// sigBlk returns the SigBlk masks of the threads of pid.
func sigBlk(t *testing.T, pid int) []string {
	t.Helper()
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, task := range tasks {
		f, err := os.Open(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "SigBlk:"); ok {
				out = append(out, strings.TrimSpace(v))
			}
		}
		f.Close()
	}
	return out
}

// cliIO gives a command empty stdin and discards stdout.
func cliIO(stderr io.Writer) cli.IO {
	return cli.IO{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: stderr}
}
