package pid1

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// killAll signals nothing outside PID 1. The fake /proc lists only a
// child of this test, so a broken guard could kill that child alone.
func TestKillAllRefusesOutsidePID1(t *testing.T) {
	if os.Getpid() == 1 {
		t.Skip("running as PID 1")
	}
	child := exec.Command("sleep", "30")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	proc := t.TempDir()
	pid := strconv.Itoa(child.Process.Pid)
	if err := os.Symlink("/proc/"+pid, filepath.Join(proc, pid)); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	left := killAll(func(f string, a ...any) { log.WriteString(f) }, proc, nil, 0)
	if len(left) != 1 || left[0].Pid != child.Process.Pid || !strings.Contains(log.String(), "not PID 1") {
		t.Fatalf("left %+v, log %q", left, log.String())
	}
	time.Sleep(100 * time.Millisecond)
	if err := child.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the child was signalled: %v", err)
	}
	var ws syscall.WaitStatus
	if wpid, _ := syscall.Wait4(child.Process.Pid, &ws, syscall.WNOHANG, nil); wpid != 0 {
		t.Fatalf("the child ended: %v", ws)
	}
}
