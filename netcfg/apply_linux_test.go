package netcfg

import (
	"cmp"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// flushAll removes what Apply must restore: the host's addresses, routes
// and VLAN links; links (loopback too) go down and back to MTU 1500.
func (tn *testNet) flushAll(s *State) {
	tn.t.Helper()
	for _, l := range s.Links {
		switch {
		case l.Kind == "loopback":
			tn.ip("link set lo down") // Apply must bring it up
		case l.VLAN != nil:
			tn.ip("link del " + l.Name)
		default:
			tn.ip("addr flush dev " + l.Name + "\nlink set " + l.Name + " down mtu 1500")
		}
	}
	for _, r := range s.Routes {
		family := "-4"
		if r.Dst.Addr().Is6() {
			family = "-6"
		}
		tn.ip(family + " route flush table " + strconv.Itoa(cmp.Or(r.Table, MainTable)))
	}
	for _, r := range s.Rules {
		family := "-4"
		if r.IPv6 {
			family = "-6"
		}
		tn.ip(family + " rule del priority " + strconv.Itoa(r.Priority))
	}
}

// normalized drops what legitimately differs between two captures: the
// time, and the lifetimes, which Apply turns into forever.
func normalized(s *State) *State {
	c := *s
	c.CapturedAt = time.Time{}
	c.Links = append([]Link(nil), s.Links...)
	for i := range c.Links {
		c.Links[i].Addrs = append([]Addr(nil), s.Links[i].Addrs...)
		for j := range c.Links[i].Addrs {
			c.Links[i].Addrs[j].ValidLft, c.Links[i].Addrs[j].PreferredLft = Forever, Forever
		}
	}
	return &c
}

// roundTrip is the core of the netns tests: capture the host's state,
// flush it, apply the capture, and check that a new capture matches; then
// apply again and check that nothing changes.
func roundTrip(t *testing.T, tn *testNet) (before, after *State) {
	t.Helper()
	tn.waitDAD()
	before, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	// Through the JSON document, as takeover hands it to init.
	path := filepath.Join(t.TempDir(), "net.json")
	if err := before.Save(path); err != nil {
		t.Fatal(err)
	}
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	tn.flushAll(loaded)
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	rep := Apply(loaded, ApplyOptions{ResolvConf: resolv})
	if err := rep.Err(); err != nil {
		t.Fatalf("apply: %v\n%s", err, rep)
	}
	tn.waitDAD()
	after, err = Capture()
	if err != nil {
		t.Fatal(err)
	}
	if a, b := normalized(before), normalized(after); !reflect.DeepEqual(a, b) {
		t.Fatalf("state after apply differs\nbefore:\n%s\nafter:\n%s", text(a), text(b))
	}
	for _, l := range after.Links {
		for _, a := range l.Addrs {
			if a.ValidLft != Forever || a.PreferredLft != Forever {
				t.Errorf("%s %s: lifetimes %s/%s after apply, want forever", l.Name, a.Prefix, a.ValidLft, a.PreferredLft)
			}
		}
	}
	if len(before.DNS.Servers) > 0 {
		if b, err := os.ReadFile(resolv); err != nil || !strings.Contains(string(b), "nameserver "+before.DNS.Servers[0].String()) {
			t.Errorf("resolv.conf not written: %v\n%s", err, b)
		}
	}
	rep2 := Apply(loaded, ApplyOptions{ResolvConf: resolv})
	if err := rep2.Err(); err != nil || rep2.Changed() != 0 {
		t.Fatalf("second apply changed %d items (err %v):\n%s", rep2.Changed(), err, rep2)
	}
	again, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	if a, b := normalized(after), normalized(again); !reflect.DeepEqual(a, b) {
		t.Fatalf("second apply changed the state\nafter first:\n%s\nafter second:\n%s", text(a), text(b))
	}
	return before, after
}

func text(s *State) string {
	var b strings.Builder
	s.WriteText(&b)
	return b.String()
}

// checkGateways asserts that every default gateway answers.
func checkGateways(t *testing.T, want int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r := Check(ctx, "")
	if !r.OK() || len(r.Gateways) != want {
		t.Fatalf("reachability: want %d answering gateways, got %s", want, r)
	}
	for _, g := range r.Gateways {
		if !g.Answered {
			t.Fatalf("reachability: %s", r)
		}
	}
}

func TestApplyStatic24(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 192.0.2.1/24 dev p0")
	tn.ip(`addr add 192.0.2.5/24 dev eth0
		route add default via 192.0.2.1 dev eth0 proto static metric 100
		route add blackhole 10.0.0.0/8
		-6 route add unreachable 2001:db8:dead::/48`)
	_, after := roundTrip(t, tn)
	got := routeStrings(after)
	want := []string{"default via 192.0.2.1 dev eth0 proto static metric 100", "blackhole 10.0.0.0/8 proto boot",
		"unreachable 2001:db8:dead::/48 dev lo proto boot metric 1024"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes %q, want %q", got, want)
	}
	checkGateways(t, 1)
}

// Hetzner style: a /32 address and a gateway outside it, reached on-link.
func TestApplyOnLink32(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 172.31.1.1/32 dev p0\nroute add 203.0.113.5/32 dev p0")
	tn.ip("addr add 203.0.113.5/32 dev eth0\nroute add 172.31.1.1 dev eth0 scope link proto dhcp\nroute add default via 172.31.1.1 dev eth0 proto dhcp onlink metric 100")
	_, after := roundTrip(t, tn)
	got := routeStrings(after)
	slices.Sort(got)
	want := []string{"172.31.1.1/32 dev eth0 proto dhcp scope link", "default via 172.31.1.1 dev eth0 proto dhcp metric 100 onlink"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes %q, want %q", got, want)
	}
	checkGateways(t, 1)
}

// The same without the host route: only the onlink flag makes the
// gateway reachable.
func TestApplyOnLinkFlagOnly(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 172.31.1.1/32 dev p0\nroute add 203.0.113.5/32 dev p0")
	tn.ip("addr add 203.0.113.5/32 dev eth0\nroute add default via 172.31.1.1 dev eth0 onlink")
	roundTrip(t, tn)
	checkGateways(t, 1)
}

func routeStrings(s *State) []string {
	var out []string
	for _, r := range s.Routes {
		out = append(out, r.String())
	}
	return out
}

// IPv6 /64 with the provider's router at fe80::1.
func TestApplyIPv6LinkLocalGateway(t *testing.T) {
	tn := newTestNet(t)
	tn.withDAD()
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add fe80::1/64 dev p0 nodad\naddr add 2001:db8:1::1/64 dev p0 nodad")
	tn.ip("addr add 2001:db8:1::5/64 dev eth0\nroute add default via fe80::1 dev eth0 proto static")
	_, after := roundTrip(t, tn)
	if got := routeStrings(after); len(got) != 1 || got[0] != "default via fe80::1 dev eth0 proto static metric 1024" {
		t.Errorf("routes %q", got)
	}
	checkGateways(t, 1)
}

// An IPv4 default route via an IPv6 next hop (RTA_VIA), as some providers
// hand out to save IPv4 addresses.
func TestApplyIPv4ViaIPv6(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add fe80::1/64 dev p0 nodad\nroute add 198.51.100.5/32 dev p0")
	tn.ip("addr add 198.51.100.5/32 dev eth0\nroute add default via inet6 fe80::1 dev eth0 proto static")
	_, after := roundTrip(t, tn)
	if got := routeStrings(after); len(got) != 1 || got[0] != "default via fe80::1 dev eth0 proto static metric 1024" {
		t.Errorf("routes %q", got)
	}
	checkGateways(t, 1)
}

// Two NICs, each with its own subnet; a second routing table and rules for
// the second; links matched by MAC even after their names are swapped.
func TestApplyTwoNICs(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.veth("eth1", "52:54:00:00:00:02", "p1")
	tn.pip("addr add 192.0.2.1/24 dev p0\naddr add 10.1.0.1/24 dev p1")
	tn.ip(`addr add 192.0.2.5/24 dev eth0
		addr add 10.1.0.5/24 dev eth1
		link set eth1 mtu 1400
		route add default via 192.0.2.1 dev eth0
		route add 10.2.0.0/16 via 10.1.0.1 dev eth1 metric 5
		route add default via 10.1.0.1 dev eth1 table 100
		rule add from 10.1.0.5 lookup 100 priority 1000
		rule add fwmark 0x10/0xff iif eth1 lookup 100 priority 1001
		-6 rule add to 2001:db8::/32 lookup 100 priority 1002 suppress_prefixlength 0`)
	_, after := roundTrip(t, tn)
	var rules []string
	for _, r := range after.Rules {
		rules = append(rules, r.String())
	}
	if want := []string{
		"1000: from 10.1.0.5/32 lookup 100", "1001: from all fwmark 0x10/0xff iif eth1 lookup 100",
		"1002: inet6 from all to 2001:db8::/32 lookup 100 suppress_prefixlength 0",
	}; !reflect.DeepEqual(rules, want) {
		t.Errorf("rules %q, want %q", rules, want)
	}
	checkGateways(t, 1)

	// With the two names swapped the links are still found by MAC.
	s, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	tn.flushAll(s)
	tn.ip("link set eth1 name tmp\nlink set eth0 name eth1\nlink set tmp name eth0")
	rep := Apply(s, ApplyOptions{})
	if err := rep.Err(); err != nil {
		t.Fatalf("apply after rename: %v\n%s", err, rep)
	}
	for _, tc := range []struct{ args, want string }{
		{"-4 route show table 100", "default via 10.1.0.1 dev eth0"},
		{"-4 route show table main", "default via 192.0.2.1 dev eth1"},
		{"-4 addr show dev eth0", "10.1.0.5/24"},
		{"rule show priority 1001", "iif eth0 lookup 100"},
	} {
		out, err := exec.Command("ip", append([]string{"-n", tn.host}, strings.Fields(tc.args)...)...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("ip %s after swapping names: want %q: %v\n%s", tc.args, tc.want, err, out)
		}
	}
}

// A VLAN on top of a NIC; the VLAN link is gone and must be created.
func TestApplyVLAN(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	if out, err := exec.Command("ip", "-n", tn.provider, "link", "add", "link", "p0", "name", "p0.100", "type", "vlan", "id", "100").CombinedOutput(); err != nil {
		// The qemu tests cover VLANs on kernels that have them.
		t.Skipf("kernel without 802.1Q VLANs (CONFIG_VLAN_8021Q): %s", out)
	}
	tn.pip("link set p0.100 up\naddr add 10.100.0.1/24 dev p0.100")
	tn.ip(`link add link eth0 name eth0.100 type vlan id 100
		link set eth0.100 mtu 1400 up
		addr add 10.100.0.5/24 dev eth0.100
		route add default via 10.100.0.1 dev eth0.100`)
	_, after := roundTrip(t, tn)
	if l := after.Link("eth0.100"); l == nil || l.VLAN == nil || l.VLAN.Parent != "eth0" || l.VLAN.ID != 100 || l.MTU != 1400 {
		t.Errorf("VLAN link after apply: %+v", l)
	}
	checkGateways(t, 1)
}

// A lease whose client is gone: finite lifetimes become forever.
func TestApplyFiniteLifetimes(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 10.0.2.2/24 dev p0")
	tn.ip(`addr add 10.0.2.15/24 dev eth0 valid_lft 300 preferred_lft 200
		addr add 2001:db8:2::15/64 dev eth0 valid_lft 300 preferred_lft 200
		route add default via 10.0.2.2 dev eth0 proto dhcp src 10.0.2.15 metric 1024`)
	before, _ := roundTrip(t, tn)
	if a := before.Link("eth0").Addrs[0]; a.ValidLft > 300 || a.ValidLft == 0 {
		t.Errorf("captured lifetime %s, want at most 300s", a.ValidLft)
	}
	checkGateways(t, 1)
}

// The lease runs out after the takeover: the address stays, because Apply
// made it permanent, where the kernel would have removed it.
func TestAddressOutlivesItsLease(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.ip("addr add 10.0.2.15/24 dev eth0 valid_lft 4 preferred_lft 2")
	s, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(s, ApplyOptions{ResolvConf: filepath.Join(t.TempDir(), "resolv.conf")}).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	after, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	l := after.Link("eth0")
	if l == nil || !slices.ContainsFunc(l.Addrs, func(a Addr) bool { return a.Prefix.String() == "10.0.2.15/24" }) {
		t.Fatalf("after the lease time the address is gone: %+v", l)
	}
}

// One bad item does not stop the others; the report names it.
func TestApplyReportsAndContinues(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 192.0.2.1/24 dev p0")
	tn.ip("addr add 192.0.2.5/24 dev eth0\nroute add default via 192.0.2.1 dev eth0")
	s, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	tn.flushAll(s)
	// A gateway no route leads to, a NIC that is gone, and a virtual link
	// that went away with its service.
	s.Routes = append([]Route{{Dst: netip.MustParsePrefix("10.5.0.0/16"), Dev: "eth0", Gateway: addr("10.99.0.1")}}, s.Routes...)
	s.Links = append(s.Links, Link{Name: "eth7", Kind: "device", MAC: "52:54:00:00:00:77", Up: true},
		Link{Name: "veth1234", Kind: "veth", MAC: "52:54:00:00:00:78", Up: true,
			Addrs: []Addr{{Prefix: netip.MustParsePrefix("172.17.0.1/16")}}})
	rep := Apply(s, ApplyOptions{})
	var failed []string
	for _, it := range rep.Items {
		if it.Action == ActionFailed {
			failed = append(failed, it.Kind+" "+it.What)
		}
	}
	want := []string{"link eth7 (52:54:00:00:00:77)", "route 10.5.0.0/16 via 10.99.0.1 dev eth0"}
	if !reflect.DeepEqual(failed, want) {
		t.Errorf("failed items %q, want %q\n%s", failed, want, rep)
	}
	if err := rep.Err(); err == nil || !strings.Contains(err.Error(), "RTM_NEWROUTE 10.5.0.0/16 via 10.99.0.1 dev eth0: network is unreachable") {
		t.Errorf("report error: %v", err)
	}
	if !strings.Contains(rep.String(), "skipped   addr   172.17.0.1/16 dev veth1234: link veth1234 not there") {
		t.Errorf("report:\n%s", rep)
	}
	checkGateways(t, 1)
}

func TestCheckTarget(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 192.0.2.1/24 dev p0")
	tn.ip("addr add 192.0.2.5/24 dev eth0\nroute add default via 192.0.2.1 dev eth0")
	l := tn.listen("192.0.2.1:0")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if r := Check(ctx, l.Addr().String()); !r.OK() || !r.TargetOK || len(r.Gateways) != 1 {
		t.Errorf("check with a listening target: %s", r)
	}
	if r := Check(ctx, "192.0.2.1:1"); r.OK() || r.TargetOK || !strings.Contains(r.TargetErr, "refused") {
		t.Errorf("check with a closed port: %s", r)
	}
	// A gateway that is gone does not answer.
	tn.pip("addr flush dev p0")
	if r := Check(ctx, ""); r.OK() || len(r.Gateways) != 1 || r.Gateways[0].Answered {
		t.Errorf("check with the gateway gone: %s", r)
	}
}

// Router advertisements handled by a daemon that is gone (networkd keeps
// the kernel's accept_ra at 0): Apply hands them back to the kernel.
func TestApplyAcceptRA(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add fe80::1/64 dev p0 nodad")
	tn.sysctl("net/ipv6/conf/eth0/accept_ra", "0")
	tn.ip("addr add 2001:db8:3::5/64 dev eth0 mngtmpaddr noprefixroute valid_lft 600 preferred_lft 300\nroute add default via fe80::1 dev eth0 proto ra metric 1024")
	tn.waitDAD()
	s, err := Capture()
	if err != nil {
		t.Fatal(err)
	}
	if l := s.Link("eth0"); l.AcceptRA != 0 || !slices.Equal(l.Addrs[0].Flags, []string{"mngtmpaddr", "noprefixroute"}) {
		t.Fatalf("captured %+v", l)
	}
	rep := Apply(s, ApplyOptions{})
	if err := rep.Err(); err != nil {
		t.Fatalf("apply: %v\n%s", err, rep)
	}
	if got := tn.sysctl("net/ipv6/conf/eth0/accept_ra", ""); got != "1" {
		t.Errorf("accept_ra %s after apply, want 1\n%s", got, rep)
	}
	if rep := Apply(s, ApplyOptions{}); rep.Changed() != 0 || !strings.Contains(rep.String(), "unchanged sysctl eth0 accept_ra") {
		t.Errorf("second apply:\n%s", rep)
	}
	checkGateways(t, 1)
}
