package pid1

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/paroodise/paroodise/handoff"
)

// DefaultConfirmWithin arms the dead-man when a state file exists but
// cannot be read: a takeover happened, so there is an old system to go
// back to, and nobody may be able to log in.
const DefaultConfirmWithin = 10 * time.Minute

// loadState reads the handoff state at root+handoff.StateFile. Without one
// (the kernel started paroodise as init=) it builds the state from what
// the root holds: its SSH host keys and root's authorized keys, :22, and no
// dead-man, since a reboot would only start paroodise again. A state file
// that cannot be read gets the same defaults with the dead-man armed. The
// note says which case happened, for the log.
func loadState(root string, argv []string) (*handoff.State, string) {
	path := filepath.Join(root, handoff.StateFile)
	st, err := handoff.Load(path)
	if err == nil {
		if st.Method == "" {
			st.Method = methodFromArgv(argv)
		}
		if len(st.Listen) == 0 {
			st.Listen = []string{":22"}
		}
		return st, "state from " + path
	}
	def := defaultState(root, argv)
	if errors.Is(err, fs.ErrNotExist) {
		return def, "no " + path + ": using the root's own keys, no dead-man"
	}
	def.ConfirmWithin = handoff.Duration{Duration: DefaultConfirmWithin}
	return def, "unreadable state (" + err.Error() + "): using the root's own keys, dead-man " + DefaultConfirmWithin.String()
}

func defaultState(root string, argv []string) *handoff.State {
	st := &handoff.State{
		Version:   handoff.Version,
		Method:    methodFromArgv(argv),
		StartedAt: time.Now(),
		Listen:    []string{":22"},
	}
	st.HostKeys, _ = filepath.Glob(filepath.Join(root, "/etc/ssh/ssh_host_*_key"))
	for _, f := range []string{"/root/.ssh/authorized_keys", "/root/.ssh/authorized_keys2"} {
		if _, err := os.Stat(filepath.Join(root, f)); err == nil {
			st.AuthorizedKeys = append(st.AuthorizedKeys, filepath.Join(root, f))
		}
	}
	return st
}

// methodFromArgv guesses how we were started when no state file says so:
// systemd passes --deserialize on re-exec and --switched-root after a
// switch-root or soft-reboot.
func methodFromArgv(argv []string) string {
	method := "kernel"
	for _, a := range argv {
		switch {
		case a == "--switched-root":
			return "soft-reboot"
		case strings.HasPrefix(a, "--deserialize"):
			method = "reexec"
		}
	}
	return method
}
