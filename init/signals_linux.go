package pid1

import (
	"os"
	"os/signal"

	"golang.org/x/sys/unix"
)

// catchSignals routes every signal to a channel. It must run before
// anything else: a Go program that does not catch SIGTERM, SIGHUP, SIGINT,
// SIGQUIT or SIGPIPE exits on them, and when PID 1 exits the kernel
// panics. Catching (not ignoring) keeps default dispositions for children.
func catchSignals() chan os.Signal {
	ch := make(chan os.Signal, 32)
	signal.Notify(ch)
	return ch
}

// signalAction maps a signal to what PID 1 does about it: a shutdown op,
// "" to log and carry on, or "-" to drop silently.
func signalAction(sig os.Signal) string {
	switch sig {
	case unix.SIGTERM, // what `kill 1` and systemd's own conventions send
		unix.SIGINT: // Ctrl-Alt-Del once the kernel is told to signal us
		return OpReboot
	case unix.SIGUSR2:
		return OpPoweroff
	case unix.SIGUSR1:
		return OpHalt
	case unix.SIGCHLD, unix.SIGURG, unix.SIGWINCH, unix.SIGPIPE:
		// Reaping, goroutine preemption, the keyboard, dead consoles.
		return "-"
	}
	return ""
}
