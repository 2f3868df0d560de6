//go:build qemu

package qemutests

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paroodise/paroodise/internal/testutil"
	"github.com/paroodise/paroodise/qemu-tests/vm"
)

// TestSmoke boots each guest image from its own disk and proves what every
// other qemu test relies on: ssh logs in with strict host key checking,
// and the expected init runs as PID 1.
func TestSmoke(t *testing.T) {
	for _, tc := range []struct {
		image, init, release, nic string
		// end is how the guest's run ends, one way per image so every
		// way is covered without extra boots.
		end string
	}{
		{vm.Bookworm, "systemd", "bookworm", "enp0s1", "reboot"},
		{vm.BookwormSysvinit, "init", "bookworm", "eth0", "poweroff"},
		{vm.Trixie, "systemd", "trixie", "enp0s1", "no-reboot"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			g := vm.Boot(t, tc.image, vm.Options{Forward: []int{2222}, NoReboot: tc.end == "no-reboot"})

			t.Run("uname", func(t *testing.T) {
				out := g.MustRun(t, "uname -a")
				if !strings.HasPrefix(out, "Linux "+tc.image+" ") || !strings.Contains(out, "x86_64") {
					t.Errorf("uname -a = %q, want Linux %s ... x86_64", out, tc.image)
				}
			})
			t.Run("os-release", func(t *testing.T) {
				out := g.MustRun(t, ". /etc/os-release && echo $VERSION_CODENAME")
				if out != tc.release {
					t.Errorf("VERSION_CODENAME = %q, want %q", out, tc.release)
				}
			})
			t.Run("pid1", func(t *testing.T) {
				if got := g.MustRun(t, "cat /proc/1/comm"); got != tc.init {
					t.Errorf("/proc/1/comm = %q, want %q", got, tc.init)
				}
				if tc.init != "systemd" {
					// sysvinit's own init, and no systemd anywhere.
					g.MustRun(t, "dpkg-query -W sysvinit-core && test ! -e /run/systemd/system")
					return
				}
				// "degraded" only means some unit failed; the manager runs.
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				r, err := g.SSH(ctx, nil, "systemctl is-system-running --wait")
				if err != nil {
					t.Fatal(err)
				}
				if state := strings.TrimSpace(r.Stdout); state != "running" && state != "degraded" {
					t.Errorf("systemctl is-system-running = %q (exit %d), want running or degraded", state, r.Code)
				}
			})
			t.Run("network", func(t *testing.T) {
				// DHCP gave the NIC slirp's address and a default route.
				out := g.MustRun(t, "ip -4 -o addr show scope global; ip route show default")
				if !strings.Contains(out, tc.nic+"    inet 10.0.2.15/24") || !strings.Contains(out, "default via 10.0.2.2 dev "+tc.nic) {
					t.Errorf("guest network:\n%s\nwant 10.0.2.15/24 on %s and a default route via 10.0.2.2", out, tc.nic)
				}
			})
			t.Run("put-file", func(t *testing.T) {
				exe, err := os.Executable()
				if err != nil {
					t.Fatal(err)
				}
				g.MustPut(t, exe, "/root/copied", 0o755)
				local := testutil.SHA256File(t, exe)
				if remote := strings.Fields(g.MustRun(t, "sha256sum /root/copied"))[0]; remote != local {
					t.Errorf("guest copy sha256 %s, local %s", remote, local)
				}
				if mode := g.MustRun(t, "stat -c %a /root/copied"); mode != "755" {
					t.Errorf("mode %s, want 755", mode)
				}
			})
			t.Run("extra-forward", func(t *testing.T) {
				// A second sshd on guest port 2222 with the same host keys,
				// reached through Options.Forward and Via.
				g.MustRun(t, "/usr/sbin/sshd -p 2222")
				if err := g.Via(2222).WaitSSH(time.Minute); err != nil {
					t.Fatal(err)
				}
				if got := g.Via(2222).MustRun(t, "echo $SSH_CONNECTION"); !strings.HasSuffix(got, " 2222") {
					t.Errorf("SSH_CONNECTION = %q, want a connection to port 2222", got)
				}
			})
			t.Run("wrong-host-key", func(t *testing.T) {
				// Strictness: the same guest behind a known_hosts entry
				// holding another key must be refused.
				defer g.TrustHostKeys(g.Image.HostKeys)
				if err := g.TrustHostKeys([]string{otherHostKey(t)}); err != nil {
					t.Fatal(err)
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				r, err := g.SSH(ctx, nil, "true")
				if err != nil {
					t.Fatal(err)
				}
				if r.Code != 255 || !strings.Contains(r.Stderr, "Host key verification failed") {
					t.Errorf("ssh with a wrong known_hosts entry: exit %d, stderr %q; want 255 and a host key failure", r.Code, r.Stderr)
				}
			})
			switch tc.end {
			case "reboot":
				t.Run("reboot", func(t *testing.T) { testReboot(t, g) })
			case "poweroff":
				t.Run("poweroff", func(t *testing.T) { testExit(t, g, "poweroff") })
			case "no-reboot":
				// With Options.NoReboot a reboot ends qemu instead.
				t.Run("reboot-exits", func(t *testing.T) { testExit(t, g, "reboot") })
			}
		})
	}
}

// testReboot proves that a guest rebooting comes back from its own disk,
// with what was written to the disk before the reboot: the ground a
// re-flash test stands on.
func testReboot(t *testing.T, g *vm.Guest) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := g.BootID(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g.MustRun(t, "echo "+before+" > /root/marker && sync")
	g.MustRun(t, "nohup sh -c 'sleep 1; reboot' >/dev/null 2>&1 &")
	if err := g.WaitReboot(before, vm.BootTimeout); err != nil {
		t.Fatal(err)
	}
	if got := g.MustRun(t, "cat /root/marker"); got != before {
		t.Errorf("/root/marker after reboot = %q, want %q", got, before)
	}
	if n := strings.Count(g.Serial(), "Linux version "); n != 2 {
		t.Errorf("serial console shows %d kernel boots, want 2", n)
	}
}

// testExit runs command (poweroff, or reboot under NoReboot) in the guest
// and checks that ssh stops answering and qemu exits.
func testExit(t *testing.T, g *vm.Guest, command string) {
	g.MustRun(t, "nohup sh -c 'sleep 1; "+command+"' >/dev/null 2>&1 &")
	if err := g.WaitDown(2 * time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := g.WaitExit(3 * time.Minute); err != nil {
		t.Fatal(err)
	}
}
