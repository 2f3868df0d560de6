package vm

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// setDeathSignal makes the kernel kill qemu when the test process dies,
// even if it dies without running its cleanups (a go test time-out).
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// The run directory records every qemu started, as a file named after its
// pid holding the owner's pid. It backs up the death signal: a VM whose
// owner is gone is killed by the next Start.
func runDir() string { return filepath.Join(CacheDir(), "run") }

func register(pid int) {
	if os.MkdirAll(runDir(), 0o755) == nil {
		os.WriteFile(filepath.Join(runDir(), strconv.Itoa(pid)), []byte(strconv.Itoa(os.Getpid())), 0o644)
	}
}

func unregister(pid int) { os.Remove(filepath.Join(runDir(), strconv.Itoa(pid))) }

func sweepStale() {
	entries, _ := os.ReadDir(runDir())
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(runDir(), e.Name()))
		owner, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || alive(owner) {
			continue
		}
		// Only kill the process if it is still the qemu that owner started,
		// not an unrelated process that reused the pid.
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.Contains(string(cmdline), fmt.Sprintf("paroodise-vm-%d\x00", owner)) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		unregister(pid)
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}
