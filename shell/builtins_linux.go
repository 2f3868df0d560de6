package shell

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"mvdan.cc/sh/v3/interp"
)

// callHandler implements two builtins a rescue shell needs that
// mvdan.cc/sh reserves but does not implement (kill, umask). They act in
// the shell process and the call is then replaced by true or false, the
// only way a call handler can set a status.
func (s *shell) callHandler(ctx context.Context, args []string) ([]string, error) {
	var ok bool
	switch args[0] {
	case "kill":
		ok = kill(interp.HandlerCtx(ctx), args[1:])
	case "umask":
		ok = umask(interp.HandlerCtx(ctx), args[1:])
	default:
		return args, nil
	}
	if ok {
		return []string{"true"}, nil
	}
	return []string{"false"}, nil
}

// kill: kill [-s SIGNAL | -SIGNAL] PID... | kill -l
func kill(hc interp.HandlerContext, args []string) bool {
	sig := syscall.SIGTERM
	if len(args) > 0 && args[0] == "-l" {
		for n := 1; n < 32; n++ {
			if name := unix.SignalName(syscall.Signal(n)); name != "" {
				fmt.Fprintf(hc.Stdout, "%2d %s\n", n, strings.TrimPrefix(name, "SIG"))
			}
		}
		return true
	}
	if len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "--" {
		name := args[0][1:]
		args = args[1:]
		if name == "s" {
			if len(args) == 0 {
				fmt.Fprintln(hc.Stderr, "kill: -s needs a signal")
				return false
			}
			name, args = args[0], args[1:]
		}
		var ok bool
		if sig, ok = parseSignal(name); !ok {
			fmt.Fprintf(hc.Stderr, "kill: unknown signal %q\n", name)
			return false
		}
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 {
		fmt.Fprintln(hc.Stderr, "usage: kill [-s SIGNAL | -SIGNAL] PID... | kill -l")
		return false
	}
	ok := true
	for _, a := range args {
		pid, err := strconv.Atoi(a)
		if err != nil {
			fmt.Fprintf(hc.Stderr, "kill: %s: not a process id (no job control)\n", a)
			ok = false
			continue
		}
		if err := syscall.Kill(pid, sig); err != nil {
			fmt.Fprintf(hc.Stderr, "kill: (%d): %v\n", pid, err)
			ok = false
		}
	}
	return ok
}

func parseSignal(name string) (syscall.Signal, bool) {
	if n, err := strconv.Atoi(name); err == nil {
		return syscall.Signal(n), n >= 0 && n < 65
	}
	name = strings.ToUpper(name)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	return sig, sig != 0
}

// umask: umask [OCTAL]
func umask(hc interp.HandlerContext, args []string) bool {
	switch len(args) {
	case 0:
		m := syscall.Umask(0)
		syscall.Umask(m)
		fmt.Fprintf(hc.Stdout, "%04o\n", m)
		return true
	case 1:
		m, err := strconv.ParseUint(args[0], 8, 32)
		if err != nil || m > 0o777 {
			fmt.Fprintf(hc.Stderr, "umask: %q: not an octal mode\n", args[0])
			return false
		}
		syscall.Umask(int(m))
		return true
	}
	fmt.Fprintln(hc.Stderr, "usage: umask [OCTAL]")
	return false
}
