// Command demo is `make demo`: it boots a throwaway Debian VM and walks
// through what paroodise does to a server, step by step, printing each
// step and the ssh command an admin would use to follow along.
package main

import (
	"bufio"
	"context"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/paroodise/paroodise/qemu-tests/vm"
)

// demo is the state the steps share.
type demo struct {
	ctx   context.Context
	out   io.Writer
	bin   string // the paroodise binary on this host
	image string
	guest *vm.Guest
}

// A step is one thing the demo does and shows. Steps run in order; the
// first error stops the demo.
type step struct {
	title string
	run   func(*demo) error
}

// steps is the demo. New capabilities add their steps here, after the
// guest is up and paroodise has been copied in (at guestBinary).
var steps = []step{
	{"Check the paroodise binary", checkBinary},
	{"Prepare the guest disk image", prepareImage},
	{"Boot a throwaway VM from that disk", bootGuest},
	{"Log in over SSH, as an admin would", login},
	{"Copy paroodise into the server", copyBinary},
	{"Plan the takeover (dry run: nothing changes)", planTakeover},
	{"Take the server over", takeover},
	{"Log in to paroodise's own SSH server, same host key", loginNew},
}

// guestBinary is where copyBinary puts paroodise in the guest.
const guestBinary = "/root/paroodise"

func main() {
	bin := flag.String("bin", "build/paroodise", "the paroodise binary to demonstrate")
	image := flag.String("image", vm.Bookworm, "guest image: "+strings.Join(vm.Images, ", "))
	wait := flag.Bool("wait", os.Getenv("CI") == "", "keep the VM running at the end until Enter or Ctrl-C (default off when $CI is set)")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "demo: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d := &demo{ctx: ctx, out: os.Stdout, bin: *bin, image: *image}
	err := d.run(*wait)
	if d.guest != nil {
		d.guest.Close()
		fmt.Fprintln(d.out, "VM stopped and removed.")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		os.Exit(1)
	}
}

func (d *demo) run(wait bool) error {
	for i, s := range steps {
		fmt.Fprintf(d.out, "\n==> [%d/%d] %s\n", i+1, len(steps), s.title)
		start := time.Now()
		if err := s.run(d); err != nil {
			if d.guest != nil {
				d.say("serial console of the VM so far:\n%s", d.guest.Serial())
			}
			return fmt.Errorf("%s: %w", s.title, err)
		}
		d.say("done in %.0fs", time.Since(start).Seconds())
	}
	fmt.Fprintf(d.out, "\nThe demo is complete. Log in yourself with:\n\n    %s\n\n", d.guest.SSHCommand())
	if !wait {
		return nil
	}
	fmt.Fprintln(d.out, "The VM keeps running until you press Enter or Ctrl-C.")
	enter := make(chan struct{})
	go func() {
		bufio.NewReader(os.Stdin).ReadString('\n')
		close(enter)
	}()
	select {
	case <-enter:
	case <-d.ctx.Done():
	case <-d.guest.Exited():
		return errors.New("the VM exited")
	}
	return nil
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, "    "+format+"\n", args...)
}

// sh runs a command line in the guest, showing it and its output.
func (d *demo) sh(command string) (string, error) {
	fmt.Fprintf(d.out, "    guest# %s\n", command)
	ctx, cancel := context.WithTimeout(d.ctx, vm.CommandTimeout)
	defer cancel()
	out, err := d.guest.Run(ctx, command)
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		fmt.Fprintf(d.out, "      %s\n", line)
	}
	return out, err
}

func checkBinary(d *demo) error {
	fi, err := os.Stat(d.bin)
	if err != nil {
		return fmt.Errorf("%w (run `make` first)", err)
	}
	f, err := elf.Open(d.bin)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; it must run on any server", d.bin)
		}
	}
	d.say("%s: %.1f MiB, static %s binary", d.bin, float64(fi.Size())/(1<<20), f.Machine)
	return nil
}

func prepareImage(d *demo) error {
	img, err := vm.EnsureImage(d.ctx, d.image, d.say)
	if err != nil {
		return err
	}
	d.say("%s: Debian %s, extlinux in the MBR, ext4 root labelled vmroot", img.Disk, d.image)
	d.say("its SSH host keys (checked strictly from the first login):")
	for _, k := range img.HostKeys {
		d.say("  %s...", k[:min(len(k), 40)])
	}
	return nil
}

func bootGuest(d *demo) error {
	g, err := vm.Start(d.ctx, d.image, vm.Options{Logf: d.say})
	if err != nil {
		return err
	}
	d.guest = g
	d.say("qemu (TCG) boots the disk through a copy-on-write overlay; the image stays untouched")
	d.say("waiting for SSH (about a minute, up to %v on a busy host)...", vm.BootTimeout)
	return g.WaitSSH(vm.BootTimeout)
}

func login(d *demo) error {
	d.say("$ %s", d.guest.SSHCommand())
	if _, err := d.sh("uname -a"); err != nil {
		return err
	}
	if _, err := d.sh(`. /etc/os-release && echo "$PRETTY_NAME"; echo "PID 1: $(cat /proc/1/comm)"`); err != nil {
		return err
	}
	_, err := d.sh("ip -br addr; ip route")
	return err
}

func copyBinary(d *demo) error {
	d.say("copying %s to the server's %s over ssh", d.bin, guestBinary)
	ctx, cancel := context.WithTimeout(d.ctx, vm.CommandTimeout)
	defer cancel()
	if err := d.guest.PutFile(ctx, d.bin, guestBinary, 0o755); err != nil {
		return err
	}
	_, err := d.sh(guestBinary + " version")
	return err
}

func planTakeover(d *demo) error {
	_, err := d.sh(guestBinary + " takeover --dry-run")
	return err
}

func takeover(d *demo) error {
	d.say("PID 1 re-executes into paroodise in RAM; this very SSH session survives")
	_, err := d.sh(guestBinary + " takeover")
	return err
}

func loginNew(d *demo) error {
	d.say("$ %s   (the known_hosts entry is the server's own: no warning)", d.guest.SSHCommand())
	if err := d.guest.WaitSSH(3 * time.Minute); err != nil {
		return err
	}
	// The old root is released in the background after the first login.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		out, err := d.guest.Run(d.ctx, "paroodise status")
		if err == nil && strings.Contains(out, "disk free: true") || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if _, err := d.sh("paroodise status"); err != nil {
		return err
	}
	_, err := d.sh("lsblk; df")
	d.say("the disk is free to re-image; `reboot` in that shell brings the untouched old system back,")
	d.say("and with no login at all it would have rebooted into it by itself after 10 minutes")
	return err
}
