package pid1

import (
	"os"
	"os/signal"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// earlySignals catches signals from package initialisation on, before
// main and the command dispatch, when this process is PID 1 running init:
// that leaves the shortest window in which a SIGTERM kills PID 1.
var earlySignals chan os.Signal

func init() {
	if os.Getpid() != 1 || len(os.Args) == 0 {
		return
	}
	switch filepath.Base(os.Args[0]) {
	case "systemd", "init":
	default:
		if len(os.Args) < 2 || os.Args[1] != "init" {
			return
		}
	}
	earlySignals = catchSignals()
}

// catchSignals routes every signal to a channel. It must run before
// anything else: a Go program that does not catch SIGTERM, SIGHUP, SIGINT,
// SIGQUIT or SIGPIPE exits on them, and when PID 1 exits the kernel
// panics. Catching (not ignoring) keeps default dispositions for children.
func catchSignals() chan os.Signal {
	ch := make(chan os.Signal, 32)
	signal.Notify(ch)
	return ch
}

// sigRTMIN is SIGRTMIN as the C library (and so systemd and kill(1))
// numbers it: the kernel's 32 and 33 are reserved for threading.
const sigRTMIN = unix.Signal(34)

// signalAction maps a signal to what PID 1 does about it: a shutdown op,
// "" to log and carry on, or "-" to drop silently.
func signalAction(sig os.Signal) string {
	switch sig {
	case unix.SIGTERM, // `kill 1`; reboot, as under gokrazy
		unix.SIGINT: // Ctrl-Alt-Del once the kernel is told to signal us
		return OpReboot
	case unix.SIGUSR2, sigRTMIN + 4: // gokrazy's and systemd's poweroff
		return OpPoweroff
	case unix.SIGUSR1, sigRTMIN + 3: // and halt
		return OpHalt
	case sigRTMIN + 5: // systemd's reboot (`kill -RTMIN+5 1`)
		return OpReboot
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGPIPE:
		// Reaping, goroutine preemption, the keyboard, dead consoles.
		return "-"
	}
	return ""
}
