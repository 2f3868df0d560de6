//go:build qemu

package qemutests

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	pid1 "github.com/paroodise/paroodise/init"
	"github.com/paroodise/paroodise/internal/testutil"
	"github.com/paroodise/paroodise/qemu-tests/vm"
)

// bin is where the guests get the binary under test.
const bin = "/usr/local/bin/paroodise"

// TestTakeoverBookworm runs, on one bookworm guest (systemd 252) with only
// 512 MiB of RAM: the refusals and a dry run, a re-exec takeover with a
// login, the disk freed and a reboot into the unchanged old system, then
// the dead-man: a takeover nobody logs in to reboots into the old system.
func TestTakeoverBookworm(t *testing.T) {
	g := bootWithBinary(t, vm.Bookworm, vm.Options{MemoryMiB: 512})
	t.Run("refusals", func(t *testing.T) { refusals(t, g, "reexec") })
	t.Run("reexec", func(t *testing.T) {
		// A swap file on the old root keeps it busy until swapoff.
		g.MustRun(t, "dd if=/dev/zero of=/swapfile bs=1M count=32 status=none && chmod 600 /swapfile && mkswap -q /swapfile && swapon /swapfile")
		takeoverLoginReboot(t, g, "reexec", "systemd", true)
	})
	t.Run("dead-man", func(t *testing.T) { deadMan(t, g, "systemd") })
	t.Run("kernel-init", func(t *testing.T) { kernelInit(t, g) })
}

// TestTakeoverTrixie: systemd 257, by soft-reboot and by re-exec.
func TestTakeoverTrixie(t *testing.T) {
	g := bootWithBinary(t, vm.Trixie, vm.Options{})
	t.Run("dry-run", func(t *testing.T) {
		out := g.MustRun(t, bin+" takeover --dry-run --method soft-reboot")
		for _, want := range []string{"systemd 257", "method:      soft-reboot (possible: reexec, soft-reboot)", "dry run: nothing was changed"} {
			if !strings.Contains(out, want) {
				t.Errorf("dry run lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("soft-reboot", func(t *testing.T) { takeoverLoginReboot(t, g, "soft-reboot", "systemd", true) })
	// The last one on this guest: the reboot back was just proven.
	t.Run("reexec", func(t *testing.T) { takeoverLoginReboot(t, g, "reexec", "systemd", false) })
}

// TestTakeoverSysvinit: sysvinit, by `telinit u` through /run/initctl.
func TestTakeoverSysvinit(t *testing.T) {
	g := bootWithBinary(t, vm.BookwormSysvinit, vm.Options{})
	t.Run("telinit", func(t *testing.T) { takeoverLoginReboot(t, g, "telinit", "init", true) })
}

func bootWithBinary(t *testing.T, image string, opts vm.Options) *vm.Guest {
	t.Helper()
	exe := testutil.Binary(t)
	g := vm.Boot(t, image, opts)
	g.MustPut(t, exe, bin, 0o755)
	return g
}

// fingerprint is what must not change across a takeover and a reboot: the
// top directory, the identity of the machine and who may log in.
const fingerprint = `ls -A / | tr '\n' ' '; echo; cat /proc/1/comm; ` +
	`sha256sum /etc/passwd /etc/shadow /etc/fstab /etc/ssh/ssh_host_* /root/.ssh/authorized_keys`

func refusals(t *testing.T, g *vm.Guest, method string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	for _, tc := range []struct{ name, cmd, want string }{
		{"not root", "setpriv --reuid=65534 --regid=65534 --clear-groups " + bin + " takeover --dry-run",
			"paroodise takeover: must run as root"},
		{"unknown init", "unshare --pid --fork --mount-proc /bin/sh -c '" + bin + " takeover --dry-run'",
			"paroodise takeover: unknown init /usr/bin/dash"},
		{"no authorized keys", "unshare --mount sh -c 'mount -t tmpfs none /root/.ssh && " + bin + " takeover --dry-run'",
			"paroodise takeover: no usable authorized SSH key for root"},
	} {
		r, err := g.SSH(ctx, nil, tc.cmd)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(r.Stderr), "\n")
		if r.Code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want exit 1 and one line starting %q", tc.name, r.Code, r.Stderr, tc.want)
		}
	}
	before := g.MustRun(t, "cat /proc/sys/kernel/panic; grep -c . /proc/self/mountinfo")
	out := g.MustRun(t, bin+" takeover --dry-run")
	for _, want := range []string{"method:      " + method, "login key:   ssh-ed25519", "host key:    ssh-ed25519",
		"root:        /dev/vda1 (ext4) on vda1, disk vda", "dry run: nothing was changed"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	if after := g.MustRun(t, "cat /proc/sys/kernel/panic; grep -c . /proc/self/mountinfo; test ! -e /run/paroodise && echo clean"); after != before+"\nclean" {
		t.Errorf("the dry run changed the system: %q, before %q", after, before)
	}
}

// runTakeover starts a takeover over the admin's session and returns its
// output, the time it took and the ssh exit code.
func runTakeover(t *testing.T, g *vm.Guest, args string) (string, time.Duration, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := g.SSH(ctx, nil, bin+" takeover "+args)
	took := time.Since(start)
	t.Logf("takeover %s (%.1fs, exit %d):\n%s%s", args, took.Seconds(), r.Code, r.Stdout, r.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	return r.Stdout + r.Stderr, took, r.Code
}

// status asks the new server for PID 1's status over a fresh login: the
// login itself proves the new server presents the old host key.
func status(ctx context.Context, g *vm.Guest) (*pid1.Status, error) {
	out, err := g.Run(ctx, "paroodise status --json")
	if err != nil {
		return nil, err
	}
	var s pid1.Status
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return nil, fmt.Errorf("status --json: %w: %q", err, out)
	}
	return &s, nil
}

// takeoverLoginReboot hands the guest over by method, logs in to the new
// server with the same known_hosts and waits until the old disk is free;
// with thenReboot it reboots and checks that the old system comes back
// unchanged.
func takeoverLoginReboot(t *testing.T, g *vm.Guest, method, oldComm string, thenReboot bool) {
	before := g.MustRun(t, fingerprint)
	bootID := g.MustRun(t, "cat /proc/sys/kernel/random/boot_id")
	start := time.Now()
	out, _, code := runTakeover(t, g, "--method "+method+" --confirm-within 10m")
	if method == "soft-reboot" {
		// systemd closes the admin's session as it stops everything.
		if !strings.Contains(out, "systemd now stops every service") {
			t.Fatalf("soft-reboot did not warn about the session")
		}
	} else if code != 0 || !strings.Contains(out, "the new SSH server is up") || !strings.Contains(out, "Log in to the new server with: ssh root@10.0.2.15") {
		t.Fatalf("takeover exit %d", code)
	}
	if err := g.WaitSSH(3 * time.Minute); err != nil {
		t.Fatalf("log in to the new server with the old known_hosts: %v", err)
	}
	t.Logf("%s: from takeover to a login on the new server: %.1fs (boot to ssh: see above)", method, time.Since(start).Seconds())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var s *pid1.Status
	for {
		var err error
		s, err = status(ctx, g)
		if err == nil && s.OldRoot.State != pid1.RootPending && s.OldRoot.State != pid1.RootReleasing {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("status: %v (last %+v)", err, s)
		}
		time.Sleep(2 * time.Second)
	}
	if s.Method != method || !s.SSH.Running || s.DeadMan.State != pid1.DeadManDisarmed {
		t.Errorf("status: method %q ssh running %v dead-man %q", s.Method, s.SSH.Running, s.DeadMan.State)
	}
	if !s.OldRoot.DiskFree || (s.OldRoot.State != pid1.RootReleased && s.OldRoot.State != pid1.RootNone) {
		t.Errorf("old root %+v: want it released and the disk free", s.OldRoot)
	}
	if sw := strings.Split(g.MustRun(t, "cat /proc/swaps"), "\n"); len(sw) > 1 {
		t.Errorf("swap still on: %q (status: swap off %q)", sw[1:], s.OldRoot.SwapOff)
	}
	if strings.Contains(out, "swap: ") && len(s.OldRoot.SwapOff) == 0 {
		t.Errorf("the plan had swap to turn off, status lists none")
	}
	if m := g.MustRun(t, "grep -c vda /proc/self/mountinfo || true"); m != "0" {
		t.Errorf("vda still mounted: %s", g.MustRun(t, "cat /proc/self/mountinfo"))
	}
	t.Logf("status:\n%s", g.MustRun(t, "paroodise status"))
	// The rescue toolbox works in the new root: df reads every mount (an
	// orphaned automount would fail it), and the disk is there to flash.
	if out := g.MustRun(t, "df && lsblk && free && ps && ls /bin/sh"); !strings.Contains(out, "vda") {
		t.Errorf("toolbox in the new root: no vda in lsblk:\n%s", out)
	}
	if !thenReboot {
		return
	}
	reboot(t, g, bootID)
	if after := g.MustRun(t, fingerprint); after != before {
		t.Errorf("the old system changed:\nbefore %s\nafter  %s", before, after)
	}
	if comm := g.MustRun(t, "cat /proc/1/comm"); comm != oldComm {
		t.Errorf("after the reboot PID 1 is %q, want %q", comm, oldComm)
	}
}

func reboot(t *testing.T, g *vm.Guest, bootID string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The connection drops as the machine goes down: the exit is moot.
	g.SSH(ctx, nil, "paroodise reboot")
	if err := g.WaitReboot(bootID, vm.BootTimeout); err != nil {
		t.Fatal(err)
	}
}

// deadMan takes over and logs in nowhere: the guest must reboot into the
// old system by itself. Nothing may ssh in meanwhile (a login disarms it),
// so the reboot is seen on the serial console.
func deadMan(t *testing.T, g *vm.Guest, oldComm string) {
	bootID := g.MustRun(t, "cat /proc/sys/kernel/random/boot_id")
	from := len(g.Serial())
	_, _, code := runTakeover(t, g, "--confirm-within 30s")
	if code != 0 {
		t.Fatalf("takeover exit %d", code)
	}
	if _, err := g.WaitSerial("Linux version", from, 5*time.Minute); err != nil {
		t.Fatalf("no reboot after the dead-man deadline: %v", err)
	}
	if err := g.WaitSSH(vm.BootTimeout); err != nil {
		t.Fatal(err)
	}
	if id := g.MustRun(t, "cat /proc/sys/kernel/random/boot_id"); id == bootID {
		t.Error("same boot id: the guest did not reboot")
	}
	if comm := g.MustRun(t, "cat /proc/1/comm"); comm != oldComm {
		t.Errorf("after the dead-man PID 1 is %q, want %q", comm, oldComm)
	}
}

// kernelInit boots the guest's kernel with init= naming paroodise and
// ip=dhcp, as an admin would from a boot loader: PID 1 mounts the API
// filesystems itself, takes the network from the kernel parameter and
// serves SSH with the root's own host keys and authorized keys.
func kernelInit(t *testing.T, g *vm.Guest) {
	g.MustRun(t, "install -m 0755 "+bin+" /usr/local/sbin/paroodise && "+
		`sed -i '/^ *APPEND /s|$| init=/usr/local/sbin/paroodise ip=dhcp|' /boot/extlinux/extlinux.conf && sync`)
	bootID := g.MustRun(t, "cat /proc/sys/kernel/random/boot_id")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	g.SSH(ctx, nil, "systemctl reboot") // the connection drops as it goes down
	cancel()
	if err := g.WaitReboot(bootID, vm.BootTimeout); err != nil {
		t.Fatalf("no login after booting with init=paroodise: %v", err)
	}
	if cmd := g.MustRun(t, "tr '\\0' ' ' </proc/1/cmdline"); !strings.HasPrefix(cmd, "/usr/local/sbin/paroodise") {
		t.Errorf("PID 1 is %q", cmd)
	}
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := status(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if s.Method != "kernel" || s.DeadMan.State != pid1.DeadManOff || !s.SSH.Running || s.Network.State != "applied" {
		t.Errorf("status: method %q dead-man %q ssh %v network %q (%s)", s.Method, s.DeadMan.State, s.SSH.Running, s.Network.State, s.Network.Detail)
	}
	if mounts := g.MustRun(t, "grep -c -E ' /(proc|sys|dev|dev/pts|run) ' /proc/self/mountinfo"); mounts != "5" {
		t.Errorf("API filesystems mounted: %s of 5", mounts)
	}
}
