//go:build qemu

package qemutests

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	pid1 "github.com/paroodise/paroodise/init"
	"github.com/paroodise/paroodise/qemu-tests/vm"
)

// TestNetcfgTakeover proves that a server stays reachable once the program
// that configured its network is gone, on trixie (systemd 257, networkd):
// with a DHCP lease through soft-reboot, where networkd's stop deletes the
// leased address and only the captured state brings it back, and with a
// static networkd configuration through re-exec.
func TestNetcfgTakeover(t *testing.T) {
	g := bootWithBinary(t, vm.Trixie, vm.Options{})
	t.Run("netns-suite", func(t *testing.T) { netnsSuite(t, g) })
	t.Run("dhcp-soft-reboot", func(t *testing.T) {
		if out := g.MustRun(t, "ip -o -4 addr show scope global"); !strings.Contains(out, "10.0.2.15/24") || !strings.Contains(out, "dynamic") {
			t.Fatalf("guest not on a DHCP lease: %s", out)
		}
		netTakeover(t, g, "soft-reboot")
	})
	t.Run("static-reexec", func(t *testing.T) {
		bootID := g.MustRun(t, "cat /proc/sys/kernel/random/boot_id")
		g.MustRun(t, `cat >/etc/systemd/network/50-dhcp.network <<EOF
[Match]
Type=ether

[Network]
Address=10.0.2.15/24
Gateway=10.0.2.2
DNS=10.0.2.3
EOF`)
		// The old system is back: its own systemd reboots it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		g.SSH(ctx, nil, "systemctl reboot")
		if err := g.WaitReboot(bootID, vm.BootTimeout); err != nil {
			t.Fatal(err)
		}
		if out := g.MustRun(t, "ip -o -4 addr show scope global"); !strings.Contains(out, "10.0.2.15/24") || strings.Contains(out, "dynamic") {
			t.Fatalf("guest not on a static address: %s", out)
		}
		netTakeover(t, g, "reexec")
	})
}

// netTakeover takes the guest over by method and checks the network of
// the new server: reachable over SSH (with the old known_hosts), the
// address back with an infinite lifetime, networkd dead, DNS kept, and
// `paroodise status` reporting it; then it reboots into the old system.
func netTakeover(t *testing.T, g *vm.Guest, method string) {
	bootID := g.MustRun(t, "cat /proc/sys/kernel/random/boot_id")
	oldDNS := g.MustRun(t, "grep -c '^nameserver' /etc/resolv.conf || true")
	// soft-reboot ends this session as systemd stops every service.
	if _, _, code := runTakeover(t, g, "--method "+method+" --confirm-within 10m"); code != 0 && method != "soft-reboot" {
		t.Fatalf("takeover exit %d", code)
	}
	if err := g.WaitSSH(3 * time.Minute); err != nil {
		t.Fatalf("log in to the new server: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var s *pid1.Status
	for {
		var err error
		if s, err = status(ctx, g); err == nil && s.Network.State != "pending" && s.Network.Reachable != nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("status: %v (last %+v)", err, s)
		}
		time.Sleep(2 * time.Second)
	}
	if s.Method != method || s.Network.State != "applied" || !*s.Network.Reachable ||
		!strings.Contains(s.Network.Reach, "gateway 10.0.2.2 on ") {
		t.Errorf("network status %+v (method %s)", s.Network, s.Method)
	}
	show := g.MustRun(t, "paroodise netcfg show")
	t.Logf("network of the new server:\n%s", show)
	if !strings.Contains(show, "10.0.2.15/24") || !strings.Contains(show, "default via 10.0.2.2") {
		t.Errorf("address or default route missing")
	}
	for line := range strings.SplitSeq(show, "\n") {
		// No lease expiry may remove what the dead DHCP client set.
		if strings.Contains(line, "10.0.2.15/24") && !strings.Contains(line, "valid_lft forever preferred_lft forever") {
			t.Errorf("finite lifetime: %s", line)
		}
	}
	if comms := g.MustRun(t, "cat /proc/[0-9]*/comm"); strings.Contains(comms, "systemd-network") || strings.Contains(comms, "dhclient") {
		t.Errorf("a network daemon still runs:\n%s", comms)
	}
	if oldDNS != "0" {
		if dns := g.MustRun(t, "grep -c '^nameserver' /etc/resolv.conf || true"); dns == "0" {
			t.Errorf("DNS servers lost: %s", g.MustRun(t, "cat /etc/resolv.conf"))
		}
	}
	reboot(t, g, bootID)
}

// netnsSuite runs netcfg's network namespace tests inside the guest, on a
// stock Debian kernel, which has what the build host's kernel may lack
// (802.1Q VLANs): the VLAN round trip must run there, not be skipped.
func netnsSuite(t *testing.T, g *vm.Guest) {
	suite := filepath.Join(t.TempDir(), "netcfg.test")
	build := exec.Command("go", "test", "-c", "-o", suite, "github.com/paroodise/paroodise/netcfg")
	build.Env = append(build.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	g.MustPut(t, suite, "/root/netcfg.test", 0o755)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	r, err := g.SSH(ctx, nil, "cd /root && ./netcfg.test -test.run '^Test(Apply|Check|Command)' -test.v")
	if err != nil {
		t.Fatal(err)
	}
	if r.Code != 0 || !strings.Contains(r.Stdout, "--- PASS: TestApplyVLAN") {
		t.Fatalf("netcfg suite in the guest: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	t.Logf("netcfg suite in the guest:\n%s", r.Stdout)
}
