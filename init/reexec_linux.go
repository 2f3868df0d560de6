package pid1

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// reexecEnv marks the second start, after the signal mask was cleared;
// it carries the first start's log lines, JSON-encoded.
const reexecEnv = "PAROODISE_INIT_REEXEC"

// reexecClean replaces the process with itself, started from a thread
// whose signal mask is empty. The old init (systemd) blocks most signals
// and does not unblock them before exec; Go clears the mask only on some
// threads, and children inherit the mask of whichever thread forks them,
// so shells would start with SIGUSR1, SIGWINCH and others blocked. An exec
// from a clean thread makes the mask of every later thread empty. It only
// returns on failure.
func reexecClean(logged []string) error {
	runtime.LockOSThread()
	var empty unix.Sigset_t
	if err := unix.PthreadSigmask(unix.SIG_SETMASK, &empty, nil); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("pthread_sigmask(SIG_SETMASK, {}): %w", err)
	}
	path := selfPath()
	msgs, _ := json.Marshal(logged)
	env := append(os.Environ(), reexecEnv+"="+string(msgs))
	err := syscall.Exec(path, os.Args, env)
	runtime.UnlockOSThread()
	return fmt.Errorf("execve(%s): %w", path, err)
}

// selfPath is the binary's own path, so that the process name stays
// "systemd" or "init" rather than "exe"; /proc/self/exe when the path no
// longer names the same file.
func selfPath() string {
	const self = "/proc/self/exe"
	p, err := os.Readlink(self)
	if err != nil {
		return self
	}
	a, err1 := os.Stat(p)
	b, err2 := os.Stat(self)
	if err1 != nil || err2 != nil || !os.SameFile(a, b) {
		return self
	}
	return p
}

// reexecLogged returns the log lines of the start before the re-exec and
// whether there was one.
func reexecLogged() ([]string, bool) {
	v, ok := os.LookupEnv(reexecEnv)
	if !ok {
		return nil, false
	}
	os.Unsetenv(reexecEnv)
	var msgs []string
	_ = json.Unmarshal([]byte(v), &msgs)
	return msgs, true
}
