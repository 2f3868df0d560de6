package pid1

import (
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/handoff"
)

// testState is a state file that keeps the test off the network: the
// SSH server on a loopback port, no captured network.
func testState() *handoff.State {
	return &handoff.State{
		Method:    "reexec",
		OldInit:   "systemd 252",
		StartedAt: time.Now(),
		Listen:    []string{"127.0.0.1:0"},
	}
}

func TestPID1Core(t *testing.T) {
	p := startPID1(t, testState())

	// The descriptor systemd would have leaked is closed: the pipe's only
	// other write end was PID 1's.
	got := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(p.fdPipe)
		got <- err
	}()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("read inherited pipe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("inherited descriptor 3 still open in PID 1")
	}

	st := p.status()
	if st.Pid != 1 || st.Method != "reexec" || st.FDsClosed < 1 {
		t.Errorf("status: pid %d, method %q, fds closed %d", st.Pid, st.Method, st.FDsClosed)
	}
	if len(st.Argv) != 3 || st.Argv[1] != "--system" || st.Argv[2] != "--deserialize=12" {
		t.Errorf("argv %q", st.Argv)
	}
	if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/comm"); strings.TrimSpace(string(comm)) != "systemd" {
		t.Errorf("comm %q, want systemd", comm)
	}
	for _, m := range []string{"/proc", "/sys", "/run", "/dev/pts"} {
		if !logHas(p, "on "+m) {
			t.Errorf("PID 1 did not mount %s", m)
		}
	}

	var out strings.Builder
	if err := RunStatus(cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out},
		[]string{"--socket", p.path(ControlSocket)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"paroodise init: PID 1, started by reexec from systemd 252", "dead-man: off", "old root: none"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, out.String())
		}
	}

	// Children inherit the mask of the thread that forks them; after the
	// clean re-exec no thread that can fork has anything blocked. Go's
	// signal thread keeps its own mask, so one thread may differ.
	nonzero := 0
	for _, m := range sigBlk(t, p.pid) {
		if strings.Trim(m, "0") != "" {
			nonzero++
		}
	}
	if nonzero > 1 {
		t.Errorf("threads with a blocked signal mask: %v", sigBlk(t, p.pid))
	}
}

func logHas(p *pid1, substr string) bool {
	found := false
	_ = p.client().Log(false, 0, func(e Entry) error {
		found = found || strings.Contains(e.Msg, substr)
		return nil
	})
	return found
}

func TestPID1ReapsOrphans(t *testing.T) {
	p := startPID1(t, testState())
	// The shell exits at once; its sleeps are re-parented to PID 1 and
	// must not stay zombies.
	out, err := exec.Command("nsenter", "-t", strconv.Itoa(p.pid), "--pid", "--",
		"/bin/sh", "-c", "sleep 0.3 >/dev/null 2>&1 & sleep 0.3 >/dev/null 2>&1 & exit 0").CombinedOutput()
	if err != nil {
		t.Fatalf("nsenter: %v: %s", err, out)
	}
	p.waitLog("reaped orphan", 10*time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		z := zombiesOf(p.pid)
		if len(z) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("zombie children of PID 1: %v", z)
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.alive()
}

// zombiesOf lists the zombie children of pid in our /proc.
func zombiesOf(pid int) []int {
	var out []int
	for _, pr := range listProcs("/proc") {
		if pr.PPid == pid && pr.State == 'Z' {
			out = append(out, pr.Pid)
		}
	}
	return out
}

func TestPID1SurvivesSignals(t *testing.T) {
	p := startPID1(t, testState())
	for _, sig := range []syscall.Signal{unix.SIGHUP, unix.SIGQUIT, unix.SIGPIPE, unix.SIGALRM,
		unix.SIGTTIN, unix.SIGTTOU, unix.SIGWINCH, unix.SIGPWR, unix.SIGVTALRM, unix.SIGXCPU, unix.Signal(40)} {
		if err := syscall.Kill(p.pid, sig); err != nil {
			t.Fatal(err)
		}
	}
	p.waitLog("signal hangup: ignored", 5*time.Second)
	time.Sleep(300 * time.Millisecond)
	p.alive()
	if st := p.status(); st.ShuttingDown != "" {
		t.Fatalf("shutting down after harmless signals: %q", st.ShuttingDown)
	}
}

// In a PID namespace reboot(2) kills the namespace's init: with SIGHUP
// for a restart, with SIGINT for power-off and halt (reboot(2)).
func TestPID1ShutdownSignals(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		op   string
		want syscall.Signal
	}{
		{unix.SIGTERM, OpReboot, unix.SIGHUP},
		{unix.SIGINT, OpReboot, unix.SIGHUP},
		{unix.SIGUSR2, OpPoweroff, unix.SIGINT},
		{unix.SIGUSR1, OpHalt, unix.SIGINT},
		{sigRTMIN + 5, OpReboot, unix.SIGHUP},
		{sigRTMIN + 4, OpPoweroff, unix.SIGINT},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			p := startPID1(t, testState())
			// An orphan that must be stopped on the way down.
			out, err := exec.Command("nsenter", "-t", strconv.Itoa(p.pid), "--pid", "--",
				"/bin/sh", "-c", "sleep 600 >/dev/null 2>&1 & exit 0").CombinedOutput()
			if err != nil {
				t.Fatalf("nsenter: %v: %s", err, out)
			}
			if err := syscall.Kill(p.pid, tc.sig); err != nil {
				t.Fatal(err)
			}
			ws := p.waitExit(60 * time.Second)
			if !ws.Signaled() || ws.Signal() != tc.want {
				t.Fatalf("PID 1 ended with %v, want killed by %v", ws, tc.want)
			}
			if !strings.Contains(p.stderr.String(), tc.op+": signal") {
				t.Errorf("log lacks %q:\n%s", tc.op+": signal", p.stderr.String())
			}
			if !strings.Contains(p.stderr.String(), "stopping 1 processes") {
				t.Errorf("the orphan was not stopped:\n%s", p.stderr.String())
			}
		})
	}
}

func TestPID1DeadMan(t *testing.T) {
	st := testState()
	st.ConfirmWithin = handoff.Duration{Duration: 2 * time.Second}
	p := startPID1(t, st)
	if s := p.status(); s.DeadMan.State != DeadManArmed {
		t.Fatalf("dead-man %q, want armed", s.DeadMan.State)
	}
	ws := p.waitExit(60 * time.Second)
	if !ws.Signaled() || ws.Signal() != unix.SIGHUP {
		t.Fatalf("PID 1 ended with %v, want a reboot (SIGHUP)", ws)
	}
	if !strings.Contains(p.stderr.String(), "dead-man: no login within 2s") {
		t.Errorf("log:\n%s", p.stderr.String())
	}
}

func TestPID1RebootCommand(t *testing.T) {
	p := startPID1(t, testState())
	var errb strings.Builder
	err := RunReboot(cliIO(&errb), []string{"--socket", p.path(ControlSocket)})
	if err != nil {
		t.Fatal(err)
	}
	ws := p.waitExit(60 * time.Second)
	if !ws.Signaled() || ws.Signal() != unix.SIGHUP {
		t.Fatalf("PID 1 ended with %v, want a reboot (SIGHUP)", ws)
	}
}

// When reboot(2) fails (here: CAP_SYS_BOOT dropped from the bounding set
// PID 1 starts with), PID 1 stays up and keeps answering.
func TestPID1NeverExits(t *testing.T) {
	p := startPID1(t, testState(), func(string) error {
		// Only this (discarded) thread and PID 1 lose the capability.
		return unix.Prctl(unix.PR_CAPBSET_DROP, unix.CAP_SYS_BOOT, 0, 0, 0)
	})
	if err := syscall.Kill(p.pid, unix.SIGTERM); err != nil {
		t.Fatal(err)
	}
	p.waitLog("reboot failed", 30*time.Second)
	if err := syscall.Kill(p.pid, unix.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	p.waitLog("already shutting down", 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	p.alive()
	if st := p.status(); st.ShuttingDown != OpReboot {
		t.Fatalf("shutting down %q", st.ShuttingDown)
	}
}
