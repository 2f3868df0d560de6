package takeover

import (
	"fmt"
	"os"
	"os/exec"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/handoff"
	pid1 "github.com/paroodise/paroodise/init"
	"github.com/paroodise/paroodise/reaper"
	"github.com/paroodise/paroodise/rootfs"
)

// Execute carries out a plan that Preflight accepted. It returns when the
// new PID 1 answers on its control socket with its SSH server up, or with
// an error that says what failed and what state the machine is in.
func Execute(stdio cli.IO, p *Plan, wait time.Duration) error {
	st := p.State(time.Now())
	spec := *p.Root
	spec.Files = append(append([]rootfs.File(nil), p.Root.Files...),
		rootfs.File{Path: handoff.StateFile, Save: st.Save, Mode: 0o600})
	size := spec.TmpfsSize()
	r := &rootfs.Runner{Out: stdio.Stdout}
	out := func(format string, args ...any) { fmt.Fprintf(stdio.Stdout, format+"\n", args...) }

	if p.Method == MethodSoftReboot {
		out("handing over by soft-reboot:")
		if err := r.Run(rootfs.SoftRebootSteps("/proc", &spec, size)...); err != nil {
			return err
		}
		out("%s", footprint(rootfs.NextRoot, size))
		out("systemd now stops every service and closes this session too.")
		out("In a minute or so, log in to the new server with: %s", p.SSHCommand())
		out("  - systemctl soft-reboot")
		cmd := exec.Command("systemctl", "soft-reboot")
		cmd.Stdout, cmd.Stderr = stdio.Stdout, stdio.Stderr
		if err := reaper.Run(cmd); err != nil {
			err = fmt.Errorf("systemctl soft-reboot: %w", err)
			if uerr := r.Undo(); uerr != nil {
				return fmt.Errorf("%w; rolling back failed too: %v", err, uerr)
			}
			return fmt.Errorf("%w; every change was undone, the system is as before", err)
		}
		return nil
	}

	out("handing over by %s:", p.Method)
	if err := r.Run(rootfs.PivotSteps("/proc", rootfs.PivotDir, &spec, size)...); err != nil {
		return err
	}
	out("%s", footprint("/", size))
	t := triggers[p.Method]
	out("  - %s", t.what)
	if err := t.fire(); err != nil {
		return rollback(r, fmt.Errorf("%s: %w", t.what, err))
	}

	// Phase 1: PID 1 runs our binary.
	deadline := time.Now().Add(wait)
	for !pid1IsUs() {
		if time.Now().After(deadline) {
			if pid1IsUs() {
				break
			}
			return rollback(r, fmt.Errorf("PID 1 (%s) did not re-execute within %s", p.Init, wait))
		}
		time.Sleep(100 * time.Millisecond)
	}
	out("PID 1 is paroodise (%.1fs after takeover started)", time.Since(p.Began).Seconds())

	// Phase 2: its control socket answers and its SSH server is up.
	cl := pid1.Client{Path: pid1.ControlSocket, Timeout: 2 * time.Second}
	var last error
	for {
		s, err := cl.Status()
		if err == nil && s.SSH.Running {
			out("the new SSH server is up on %v (%.1fs after takeover started)", s.SSH.Listen, time.Since(p.Began).Seconds())
			break
		}
		if err == nil {
			last = fmt.Errorf("SSH server not running: %s", s.SSH.LastError)
		} else {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PID 1 is paroodise, but its SSH server is not up after %s (%v); "+
				"the old root is still mounted at /oldroot and, with no login, paroodise reboots into the old system %s after the hand-over",
				wait, last, p.Options.ConfirmWithin)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out("")
	out("Log in to the new server with: %s", p.SSHCommand())
	out("(or the address and port you used for this session: the host key is the same, known_hosts still matches).")
	if p.Options.ConfirmWithin > 0 {
		out("Do it within %s, or paroodise reboots into the old system.", p.Options.ConfirmWithin)
	}
	out("This session stays open until then, but the old system's commands are gone from it (the old root is at /oldroot).")
	return nil
}

// triggers make the old PID 1 re-execute; a seam, since tests must never
// signal the host's PID 1.
var triggers = map[string]struct {
	fire func() error
	what string
}{
	MethodReexec:  {rootfs.Reexec, "SIGTERM to PID 1: systemd re-executes, now into paroodise"},
	MethodTelinit: {rootfs.Telinit, "telinit u through /run/initctl: sysvinit re-executes /sbin/init, now paroodise"},
}

// footprint says how much of the tmpfs the new root uses: RAM it holds
// for as long as paroodise runs.
func footprint(dir string, size uint64) string {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return fmt.Sprintf("the new root's use of its tmpfs is unknown: statfs(%s): %v", dir, err)
	}
	used := (st.Blocks - st.Bfree) * uint64(st.Bsize)
	return fmt.Sprintf("the new root uses %.1f MiB of its %d MiB tmpfs", float64(used)/MiB, size/MiB)
}

// pid1IsUs reports whether PID 1 now runs the binary of the new root.
func pid1IsUs() bool {
	a, err1 := os.Stat("/proc/1/exe")
	b, err2 := os.Stat(rootfs.BinaryPath)
	return err1 == nil && err2 == nil && os.SameFile(a, b)
}

// rollback undoes the pivot when PID 1 verifiably did not take the
// hand-over, and says what state the machine is left in.
func rollback(r *rootfs.Runner, err error) error {
	if uerr := r.Undo(); uerr != nil {
		return fmt.Errorf("%w; rolling back failed too: %v", err, uerr)
	}
	return fmt.Errorf("%w; the hand-over was rolled back, the old system runs as before", err)
}
