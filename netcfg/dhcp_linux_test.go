package netcfg

import (
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dnsmasq runs a DHCP server on the provider's link until the test ends.
func (tn *testNet) dnsmasq(link string, args ...string) {
	tn.t.Helper()
	bin, err := exec.LookPath("dnsmasq")
	if err != nil {
		tn.t.Skip("needs dnsmasq (Debian: dnsmasq-base)")
	}
	dir := tn.t.TempDir()
	cmd := exec.Command("ip", append([]string{"netns", "exec", tn.provider, bin,
		"--keep-in-foreground", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--port=0",
		"--user=root", "--interface=" + link, "--bind-interfaces",
		"--dhcp-leasefile=" + filepath.Join(dir, "leases"), "--pid-file=" + filepath.Join(dir, "pid"),
		"--no-ping", "--log-dhcp", "--log-facility=" + filepath.Join(dir, "log")}, args...)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		tn.t.Fatalf("dnsmasq: %v", err)
	}
	// dnsmasq writes its pid file once it is serving.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "pid")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			tn.t.Fatal("dnsmasq did not start within 5s")
		}
	}
	tn.t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tn.t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "log"))
			tn.t.Logf("dnsmasq log:\n%s", b)
		}
	})
}

// The captured lease is stale (another address, a gateway that is gone):
// the gateway probe fails and DHCPv4 brings the server back.
func TestApplyDHCPFallback(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 10.9.0.1/24 dev p0")
	tn.dnsmasq("p0", "--dhcp-range=10.9.0.100,10.9.0.150,255.255.255.0,1h",
		"--dhcp-option=option:router,10.9.0.1", "--dhcp-option=option:dns-server,10.9.0.53")
	tn.ip("addr add 10.9.0.200/24 dev eth0 valid_lft 60 preferred_lft 60\nroute add default via 10.9.0.254 dev eth0 proto dhcp metric 1024")
	s, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	s.DNS = DNS{}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	rep := Apply(s, ApplyOptions{ResolvConf: resolv, DHCPFallback: true, ProbeTimeout: 2 * time.Second, DHCPTimeout: 20 * time.Second})
	if err := rep.Err(); err != nil {
		t.Fatalf("apply: %v\n%s", err, rep)
	}
	if !strings.Contains(rep.String(), "lease 10.9.0.1") {
		t.Fatalf("no lease in report:\n%s", rep)
	}
	after, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	var leased netip.Prefix
	for _, a := range after.Link("eth0").Addrs {
		if a.Prefix.Addr().Is4() && a.Prefix.Addr() != netip.MustParseAddr("10.9.0.200") {
			leased = a.Prefix
			if a.ValidLft != Forever {
				t.Errorf("leased address %s lifetime %s, want forever", a.Prefix, a.ValidLft)
			}
		}
	}
	if !netip.MustParsePrefix("10.9.0.96/27").Overlaps(leased) || leased.Bits() != 24 {
		t.Fatalf("leased address %s, want one of 10.9.0.100-150/24\n%s", leased, text(after))
	}
	if got := routeStrings(after); len(got) != 1 || got[0] != "default via 10.9.0.1 dev eth0 proto dhcp metric 1024" {
		t.Errorf("routes after DHCP: %q", got)
	}
	if b, err := os.ReadFile(resolv); err != nil || !strings.Contains(string(b), "nameserver 10.9.0.53") {
		t.Errorf("resolv.conf from the lease: %v\n%s", err, b)
	}
	checkGateways(t, 1)
}

// ip=dhcp on the kernel command line overrides a captured static setup.
func TestApplyKernelIPDHCP(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 10.9.0.1/24 dev p0")
	tn.dnsmasq("p0", "--dhcp-range=10.9.0.100,10.9.0.150,255.255.255.0,1h", "--dhcp-option=option:router,10.9.0.1")
	tn.ip("addr add 192.0.2.5/24 dev eth0\nroute add default via 192.0.2.1 dev eth0")
	s, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	ks, err := ParseKernelIP("console=ttyS0 ip=eth0:dhcp quiet")
	if err != nil || len(ks) != 1 {
		t.Fatalf("ParseKernelIP: %v %v", ks, err)
	}
	if err := s.Override(ks[0]); err != nil {
		t.Fatal(err)
	}
	tn.flushAll(s)
	rep := Apply(s, ApplyOptions{DHCPTimeout: 20 * time.Second})
	if err := rep.Err(); err != nil {
		t.Fatalf("apply: %v\n%s", err, rep)
	}
	after, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range after.Link("eth0").Addrs {
		if a.Prefix.Addr() == netip.MustParseAddr("192.0.2.5") {
			t.Errorf("overridden static address %s still there", a.Prefix)
		}
	}
	if got := routeStrings(after); len(got) != 1 || got[0] != "default via 10.9.0.1 dev eth0 proto dhcp" {
		t.Errorf("routes after DHCP: %q", got)
	}
	checkGateways(t, 1)
}
