package netcfg

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestOrderRoutes(t *testing.T) {
	rs := []Route{
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Gateway: addr("10.0.0.1")},
		{Dst: netip.MustParsePrefix("10.8.0.0/16"), Dev: "eth0", Gateway: addr("10.0.0.1")},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth1", Gateway: addr("172.31.1.1"), OnLink: true},
		{Dst: netip.MustParsePrefix("10.0.0.0/24"), Dev: "eth0", Scope: "link"},
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth2", Gateway: addr("fe80::1"), Table: 7},
		{Dst: netip.MustParsePrefix("192.0.2.0/24"), Type: "blackhole"},
	}
	var got []string
	for _, r := range orderRoutes(rs) {
		got = append(got, r.String())
	}
	want := []string{
		"10.0.0.0/24 dev eth0 scope link",
		"blackhole 192.0.2.0/24",
		"default via 172.31.1.1 dev eth1 onlink",
		"default via fe80::1 dev eth2 table 7",
		"10.8.0.0/16 via 10.0.0.1 dev eth0",
		"default via 10.0.0.1 dev eth0",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("order\n%q\nwant\n%q", got, want)
	}
}

func fakeLink(name, kind, mac string, index, parent int) netlink.Link {
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.Index, attrs.ParentIndex = name, index, parent
	attrs.HardwareAddr, _ = net.ParseMAC(mac)
	switch kind {
	case "vlan":
		return &netlink.Vlan{LinkAttrs: attrs, VlanId: 100}
	case "bond":
		return &netlink.Bond{LinkAttrs: attrs}
	case "loopback":
		attrs.EncapType = "loopback"
	}
	return &netlink.Device{LinkAttrs: attrs}
}

func TestMatchLink(t *testing.T) {
	cur := []netlink.Link{
		fakeLink("lo", "loopback", "", 1, 0),
		fakeLink("enp1s0", "device", "52:54:00:00:00:01", 2, 0),
		fakeLink("bond0", "bond", "52:54:00:00:00:02", 3, 0),
		fakeLink("enp2s0", "device", "52:54:00:00:00:02", 4, 0),
		fakeLink("bond0.100", "vlan", "52:54:00:00:00:02", 5, 3),
		fakeLink("wg0", "device", "", 6, 0),
	}
	matched := map[string]netlink.Link{"bond0": cur[2], "eth0": cur[1]}
	for _, tc := range []struct {
		l    Link
		want string // "" for a VLAN to create, "error" for none
	}{
		{Link{Name: "lo", Kind: "loopback"}, "lo"},
		{Link{Name: "eth0", Kind: "device", MAC: "52:54:00:00:00:01"}, "enp1s0"}, // renamed
		{Link{Name: "bond0", Kind: "bond", MAC: "52:54:00:00:00:02"}, "bond0"},
		{Link{Name: "x", Kind: "device", MAC: "52:54:00:00:00:02"}, "enp2s0"}, // a slave shares the bond's MAC
		{Link{Name: "bond0.100", Kind: "vlan", VLAN: &VLAN{Parent: "bond0", ID: 100}}, "bond0.100"},
		{Link{Name: "eth0.100", Kind: "vlan", VLAN: &VLAN{Parent: "eth0", ID: 100}}, ""},
		{Link{Name: "eth0.7", Kind: "vlan", VLAN: &VLAN{Parent: "eth9", ID: 7}}, "error"},
		{Link{Name: "wg0", Kind: "wireguard"}, "wg0"},
		{Link{Name: "eth5", Kind: "device", MAC: "52:54:00:00:00:09"}, "error"},
	} {
		got, err := matchLink(tc.l, cur, matched)
		switch {
		case tc.want == "error":
			if err == nil {
				t.Errorf("%s: matched %v, want an error", tc.l.Name, got)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.l.Name, err)
		case tc.want == "" && got != nil:
			t.Errorf("%s: matched %s, want none (create)", tc.l.Name, got.Attrs().Name)
		case tc.want != "" && (got == nil || got.Attrs().Name != tc.want):
			t.Errorf("%s: matched %v, want %s", tc.l.Name, got, tc.want)
		}
	}
}

func TestFromRouteSkipsKernelRoutes(t *testing.T) {
	_, v4net, _ := net.ParseCIDR("10.0.0.0/24")
	_, ll, _ := net.ParseCIDR("fe80::/64")
	_, mc, _ := net.ParseCIDR("ff00::/8")
	names := map[int]string{2: "eth0"}
	for name, r := range map[string]netlink.Route{
		"proto kernel":  {Dst: v4net, LinkIndex: 2, Protocol: unix.RTPROT_KERNEL, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST},
		"local table":   {Dst: v4net, LinkIndex: 2, Protocol: unix.RTPROT_BOOT, Table: unix.RT_TABLE_LOCAL, Type: unix.RTN_LOCAL},
		"link-local v6": {Dst: ll, LinkIndex: 2, Protocol: unix.RTPROT_BOOT, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST, Family: unix.AF_INET6},
		"multicast":     {Dst: mc, LinkIndex: 2, Protocol: unix.RTPROT_BOOT, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_MULTICAST, Family: unix.AF_INET6},
		"redirect":      {Dst: v4net, LinkIndex: 2, Protocol: unix.RTPROT_REDIRECT, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST},
	} {
		if got, keep := fromRoute(r, names); keep {
			t.Errorf("%s: kept as %s", name, got)
		}
	}
	r := netlink.Route{LinkIndex: 2, Protocol: unix.RTPROT_DHCP, Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST,
		Family: unix.AF_INET, Priority: 100, Flags: unix.RTNH_F_ONLINK, Via: &netlink.Via{AddrFamily: unix.AF_INET6, Addr: net.ParseIP("fe80::1")}}
	got, keep := fromRoute(r, names)
	if !keep || got.String() != "default via fe80::1 dev eth0 proto dhcp metric 100 onlink" {
		t.Errorf("v4 default via v6: %v %s", keep, got)
	}
}

func TestFromLease(t *testing.T) {
	addrs, routes, dns, err := fromLease(net.ParseIP("203.0.113.5"), net.CIDRMask(32, 32),
		[]net.IP{net.ParseIP("172.31.1.1")}, nil, []net.IP{net.ParseIP("185.12.64.1"), net.ParseIP("185.12.64.1")}, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if len(addrs) != 1 || addrs[0].Prefix.String() != "203.0.113.5/32" || addrs[0].ValidLft != Forever {
		t.Errorf("addrs %v", addrs)
	}
	if len(routes) != 1 || routes[0].String() != "default via 172.31.1.1 dev eth0 proto dhcp onlink" {
		t.Errorf("routes %v", routes)
	}
	if len(dns) != 1 {
		t.Errorf("dns %v", dns)
	}
	// RFC 3442 classless routes win over the router option.
	_, routes, _, err = fromLease(net.ParseIP("10.0.0.5"), net.CIDRMask(24, 32), []net.IP{net.ParseIP("10.0.0.254")},
		[]staticRoute{{netip.MustParsePrefix("10.0.0.1/32"), netip.IPv4Unspecified()}, {netip.MustParsePrefix("0.0.0.0/0"), addr("10.0.0.1")}}, nil, "eth0")
	if err != nil {
		t.Fatal(err)
	}
	if got := routeStrings(&State{Routes: routes}); !reflect.DeepEqual(got, []string{"10.0.0.1/32 dev eth0 proto dhcp scope link", "default via 10.0.0.1 dev eth0 proto dhcp"}) {
		t.Errorf("classless routes %q", got)
	}
	if _, _, _, err := fromLease(net.IPv4zero, nil, nil, nil, nil, "eth0"); err == nil {
		t.Error("lease without address accepted")
	}
}

func TestReadDNS(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stub := write("stub", "# managed by resolved\nnameserver 127.0.0.53\noptions edns0 trust-ad\nsearch example.com\n")
	upstream := write("upstream", "nameserver 185.12.64.1\nnameserver 2a01:4ff:ff00::add:1\nnameserver fe80::1%eth0\nsearch example.com\n")
	d, err := readDNS(stub, upstream)
	if err != nil {
		t.Fatal(err)
	}
	if d.Source != upstream || len(d.Servers) != 3 || d.Servers[2].String() != "fe80::1%eth0" || d.Search[0] != "example.com" {
		t.Errorf("through the stub: %+v", d)
	}
	// Without resolved's file the stub is all there is.
	if d, err := readDNS(stub, filepath.Join(dir, "none")); err != nil || d.Source != stub {
		t.Errorf("stub only: %+v %v", d, err)
	}
	plain := write("plain", "domain example.org\nnameserver 9.9.9.9 ; comment\n#nameserver 1.1.1.1\n")
	if d, err := readDNS(plain, upstream); err != nil || len(d.Servers) != 1 || d.Search[0] != "example.org" {
		t.Errorf("plain: %+v %v", d, err)
	}
	// writeResolvConf replaces a symlink (to resolved's stub) with a file.
	link := filepath.Join(dir, "resolv.conf")
	if err := os.Symlink(stub, link); err != nil {
		t.Fatal(err)
	}
	d, _ = readDNS(stub, upstream)
	if changed, err := writeResolvConf(link, d); err != nil || !changed {
		t.Fatalf("write: %v %v", changed, err)
	}
	if changed, err := writeResolvConf(link, d); err != nil || changed {
		t.Errorf("second write changed %v: %v", changed, err)
	}
	b, _ := os.ReadFile(link)
	if fi, _ := os.Lstat(link); !fi.Mode().IsRegular() || !strings.Contains(string(b), "nameserver 185.12.64.1\n") {
		t.Errorf("resolv.conf:\n%s", b)
	}
	if b, _ := os.ReadFile(stub); !strings.Contains(string(b), "127.0.0.53") {
		t.Error("the symlink's target was overwritten")
	}
}

func TestReachabilityString(t *testing.T) {
	r := Reachability{Gateways: []GatewayCheck{
		{Dev: "eth0", Gateway: addr("172.31.1.1"), Answered: true, State: "REACHABLE"},
		{Dev: "eth0", Gateway: addr("fe80::1"), State: "FAILED"},
	}}
	if !r.OK() || r.String() != "reachable: gateway 172.31.1.1 on eth0 answered; gateway fe80::1 on eth0 did not answer (FAILED)" {
		t.Errorf("%v %q", r.OK(), r)
	}
	r.Target, r.TargetErr = "192.0.2.9:22", "connection refused"
	if r.OK() || !strings.HasPrefix(r.String(), "NOT reachable: ") {
		t.Errorf("%v %q", r.OK(), r)
	}
	if (Reachability{}).OK() {
		t.Error("no gateways and no target is OK")
	}
}

func TestFromAddrSkipsPrivacyAddresses(t *testing.T) {
	v6, _ := netlink.ParseAddr("2001:db8::1234/64")
	v6.Flags = ifaTemporary
	if _, keep := fromAddr(*v6, "eth0"); keep {
		t.Error("IPv6 privacy address kept")
	}
	v4, _ := netlink.ParseAddr("192.0.2.6/24")
	v4.Flags, v4.Label = ifaTemporary, "eth0:1" // IFA_F_SECONDARY for IPv4
	got, keep := fromAddr(*v4, "eth0")
	if !keep || got.Label != "eth0:1" || got.String() != "192.0.2.6/24 label eth0:1 valid_lft 0s preferred_lft 0s" {
		t.Errorf("IPv4 secondary: %v %s", keep, got)
	}
}
