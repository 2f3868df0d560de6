package pid1

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/cli"
)

// RunInit is `paroodise init`, also reached as systemd and init from every
// path an old init re-executes (/lib/systemd/systemd, /sbin/init, /init).
// As PID 1 it takes any arguments (--system --deserialize=N,
// --switched-root, kernel command-line words) and never returns.
func RunInit(stdio cli.IO, args []string) error {
	if os.Getpid() == 1 {
		boot(os.Args)
		select {} // boot does not return; PID 1 must never exit
	}
	if slices.ContainsFunc(args, func(a string) bool { return a == "-h" || a == "-help" || a == "--help" }) {
		fmt.Fprint(stdio.Stderr, `usage: paroodise init [ANY ARGUMENTS]
Run as PID 1 after 'paroodise takeover' (or as the kernel's init=): keep the
machine up, serve SSH, release the old root disk, reboot into the old system
when nobody logs in before the deadline. Arguments are accepted and ignored.
`)
		return nil
	}
	return fmt.Errorf("must run as PID 1, this is pid %d ('paroodise takeover' makes it PID 1)", os.Getpid())
}

// RunStatus is `paroodise status`.
func RunStatus(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise status", "[--json]",
		"Show PID 1's state: how it started, SSH, the dead-man, the network, and whether the old disk is free.")
	asJSON := fs.Bool("json", false, "print the status as one JSON document")
	sock := fs.String("socket", ControlSocket, "PID 1's control socket")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	st, err := Client{Path: *sock}.Status()
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdio.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	st.WriteText(stdio.Stdout)
	return nil
}

// RunLog is `paroodise log`.
func RunLog(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise log", "[-f] [-n LINES]", "Print PID 1's log.")
	follow := fs.Bool("f", false, "keep printing new lines")
	n := fs.Int("n", 0, "print only the last `LINES` lines kept (0: all)")
	sock := fs.String("socket", ControlSocket, "PID 1's control socket")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if *n < 0 {
		return cli.Usagef("-n must not be negative")
	}
	show := func(e Entry) error {
		_, err := fmt.Fprintf(stdio.Stdout, "%s %s\n", e.Time.Format(time.DateTime), e.Msg)
		return err
	}
	if *n == 0 {
		return Client{Path: *sock}.Log(*follow, 0, show)
	}
	var kept []Entry
	err := Client{Path: *sock}.Log(false, 0, func(e Entry) error {
		kept = append(kept, e)
		if len(kept) > *n {
			kept = kept[1:]
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range kept {
		if err := show(e); err != nil {
			return err
		}
	}
	if *follow {
		var since uint64
		if len(kept) > 0 {
			since = kept[len(kept)-1].Seq
		}
		return Client{Path: *sock}.Log(true, since, show)
	}
	return nil
}

// RunReboot is `reboot` and `paroodise reboot`.
func RunReboot(stdio cli.IO, args []string) error { return runShutdown(stdio, "reboot", args) }

// RunPoweroff is `poweroff` and `paroodise poweroff`.
func RunPoweroff(stdio cli.IO, args []string) error { return runShutdown(stdio, "poweroff", args) }

func runShutdown(stdio cli.IO, op string, args []string) error {
	fs := cli.NewFlagSet(stdio, op, "[-f]",
		"Ask paroodise's PID 1 to stop every process, unmount, sync and "+op+".")
	force := fs.Bool("f", false, "when PID 1 is not paroodise: sync and "+op+" at once, without stopping anything")
	sock := fs.String("socket", ControlSocket, "PID 1's control socket")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	err := Client{Path: *sock}.Shutdown(op)
	if err == nil {
		fmt.Fprintf(stdio.Stderr, "%s: PID 1 is shutting down\n", op)
		return nil
	}
	if !*force {
		return fmt.Errorf("%w; use -f to %s without it", err, op)
	}
	unix.Sync()
	cmd := unix.LINUX_REBOOT_CMD_RESTART
	if op == OpPoweroff {
		cmd = unix.LINUX_REBOOT_CMD_POWER_OFF
	}
	if err := unix.Reboot(cmd); err != nil {
		return fmt.Errorf("reboot(%#x): %w", cmd, err)
	}
	return nil
}
