package netcfg

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func pfx(s ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, x := range s {
		out = append(out, netip.MustParsePrefix(x))
	}
	return out
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestParseStatic(t *testing.T) {
	for _, tc := range []struct {
		spec string
		want Static
	}{
		{"dev=eth0,addr=203.0.113.5/32,gw=172.31.1.1", Static{Dev: "eth0", Addrs: pfx("203.0.113.5/32"), Gateway4: addr("172.31.1.1")}},
		{"addr=203.0.113.5/32,gw=172.31.1.1,addr=2001:db8::5/64,gw=fe80::1,dns=1.1.1.1,dns=2606:4700:4700::1111,mtu=1400",
			Static{Addrs: pfx("203.0.113.5/32", "2001:db8::5/64"), Gateway4: addr("172.31.1.1"), Gateway6: addr("fe80::1"),
				DNS: []netip.Addr{addr("1.1.1.1"), addr("2606:4700:4700::1111")}, MTU: 1400}},
		{"dev=52:54:00:12:34:56,dhcp", Static{Dev: "52:54:00:12:34:56", DHCP: true}},
		{"dhcp,addr=2001:db8::5/64,gw6=fe80::1", Static{DHCP: true, Addrs: pfx("2001:db8::5/64"), Gateway6: addr("fe80::1")}},
		{"addr=198.51.100.5/32,gw4=fe80::1", Static{Addrs: pfx("198.51.100.5/32"), Gateway4: addr("fe80::1")}},
	} {
		got, err := ParseStatic(tc.spec)
		if err != nil {
			t.Errorf("ParseStatic(%q): %v", tc.spec, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseStatic(%q) = %+v, want %+v", tc.spec, got, tc.want)
		}
	}
	for _, bad := range []string{
		"", "dev=eth0", "addr=1.2.3.4", "addr=1.2.3.4/24,gw=1.2.3.1,gw=1.2.3.2", "addr=1.2.3.4/24,foo=bar",
		"addr=1.2.3.4/24,mtu=10", "dhcp,addr=1.2.3.4/24", "addr=2001:db8::1/64,gw=1.2.3.1", "addr=1.2.3.4/24,gw6=1.2.3.1",
		"addr=1.2.3.4/24,dns=x", "dev=a,dev=b,dhcp", "addr=fe80::1%eth0/64", "addr=1.2.3.4/24,gw",
	} {
		if s, err := ParseStatic(bad); err == nil {
			t.Errorf("ParseStatic(%q) = %+v, want an error", bad, s)
		} else if strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseStatic(%q): multi-line error %q", bad, err)
		}
	}
}

func TestParseKernelIP(t *testing.T) {
	for _, tc := range []struct {
		cmdline string
		want    []Static
	}{
		{"root=/dev/sda1 quiet", nil},
		{"ip=off", nil},
		{"ip=none ip=auto6", nil},
		{"ip=dhcp", []Static{{DHCP: true}}},
		{"ip=eth0:dhcp", []Static{{Dev: "eth0", DHCP: true}}},
		{"ip=eth0:dhcp:1400:52:54:00:12:34:56", []Static{{Dev: "eth0", DHCP: true, MTU: 1400}}},
		{"ip=eth0:dhcp::", []Static{{Dev: "eth0", DHCP: true}}},
		{"ip=203.0.113.5::172.31.1.1:255.255.255.255:srv:eth0:none",
			[]Static{{Dev: "eth0", Addrs: pfx("203.0.113.5/32"), Gateway4: addr("172.31.1.1")}}},
		{"ip=192.0.2.5::192.0.2.1:24::eth0:off:9.9.9.9:1.1.1.1",
			[]Static{{Dev: "eth0", Addrs: pfx("192.0.2.5/24"), Gateway4: addr("192.0.2.1"), DNS: []netip.Addr{addr("9.9.9.9"), addr("1.1.1.1")}}}},
		{"ip=192.0.2.5::192.0.2.1:::eth0", []Static{{Dev: "eth0", Addrs: pfx("192.0.2.5/32"), Gateway4: addr("192.0.2.1")}}},
		{"ip=:::::eth1:dhcp", []Static{{Dev: "eth1", DHCP: true}}},
		{"ip=[2001:db8::5]::[fe80::1]:64::eth0:none ip=203.0.113.5::172.31.1.1:32::eth0:none",
			[]Static{{Dev: "eth0", Addrs: pfx("2001:db8::5/64", "203.0.113.5/32"), Gateway4: addr("172.31.1.1"), Gateway6: addr("fe80::1")}}},
		{"ip=192.0.2.5::192.0.2.1:24::eth0:none:1400", []Static{{Dev: "eth0", Addrs: pfx("192.0.2.5/24"), Gateway4: addr("192.0.2.1"), MTU: 1400}}},
	} {
		got, err := ParseKernelIP(tc.cmdline)
		if err != nil {
			t.Errorf("ParseKernelIP(%q): %v", tc.cmdline, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseKernelIP(%q) = %+v, want %+v", tc.cmdline, got, tc.want)
		}
	}
	for _, bad := range []string{
		"ip=300.1.1.1::1.1.1.1:24::eth0:none", "ip=eth0:bogus", "ip=1.2.3.4::1.2.3.1:255.0.255.0::eth0:none",
		"ip=[2001:db8::5::fe80::1]:64", "ip=1.2.3.4:::40::eth0:none", "ip=1.2.3.4::1.2.3.1:24::eth0:magic",
		"ip=1.2.3.4::1.2.3.1:24::eth0:none:x", "ip=eth0:dhcp:1400:zz", "ip=eth0:dhcp:99999", "ip=1.2.3.4::1.2.3.1:24::eth0:none ip=1.2.3.5::1.2.3.9:24::eth0:none",
	} {
		if s, err := ParseKernelIP(bad); err == nil {
			t.Errorf("ParseKernelIP(%q) = %+v, want an error", bad, s)
		}
	}
}

func FuzzParseKernelIP(f *testing.F) {
	for _, s := range []string{
		"ip=dhcp", "ip=eth0:dhcp:1400", "ip=203.0.113.5::172.31.1.1:255.255.255.255:srv:eth0:none",
		"ip=[2001:db8::5]::[fe80::1]:64::eth0:none", "ip=1.2.3.4:::24::eth0:off:9.9.9.9", "ip=[", "ip=:::::::::::",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmdline string) {
		ss, err := ParseKernelIP(cmdline)
		if err != nil {
			return
		}
		for _, s := range ss {
			// Whatever parses must be a configuration Override accepts.
			if err := s.validate("ip="); err != nil {
				t.Fatalf("ParseKernelIP(%q) returned invalid %+v: %v", cmdline, s, err)
			}
			st := &State{Version: Version, Links: []Link{{Name: "eth0", Kind: "device"}}}
			s.Dev = ""
			if err := st.Override(s); err != nil {
				t.Fatalf("Override(%+v) from %q: %v", s, cmdline, err)
			}
		}
	})
}

func TestOverride(t *testing.T) {
	s := &State{Version: Version, Links: []Link{
		{Name: "lo", Kind: "loopback"},
		{Name: "eth0", Kind: "device", MAC: "52:54:00:00:00:01", Addrs: []Addr{
			{Prefix: netip.MustParsePrefix("10.0.2.15/24")},
			{Prefix: netip.MustParsePrefix("2001:db8::15/64")},
			{Prefix: netip.MustParsePrefix("fe80::1:2/64"), Scope: "link"},
		}},
		{Name: "eth1", Kind: "device", MAC: "52:54:00:00:00:02"},
	}, Routes: []Route{
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Dev: "eth0", Gateway: addr("10.0.2.2"), Protocol: "dhcp"},
		{Dst: netip.MustParsePrefix("::/0"), Dev: "eth0", Gateway: addr("fe80::1"), Protocol: "ra"},
	}}
	o, err := ParseStatic("dev=52:54:00:00:00:01,addr=203.0.113.5/32,gw=172.31.1.1,dns=9.9.9.9")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Override(o); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range s.Link("eth0").Addrs {
		got = append(got, a.Prefix.String())
	}
	if want := []string{"2001:db8::15/64", "fe80::1:2/64", "203.0.113.5/32"}; !reflect.DeepEqual(got, want) {
		t.Errorf("addresses after override %q, want %q (IPv6 kept)", got, want)
	}
	if want := []string{"default via fe80::1 dev eth0 proto ra", "default via 172.31.1.1 dev eth0 proto static onlink"}; !reflect.DeepEqual(routeStrings(s), want) {
		t.Errorf("routes after override %q, want %q", routeStrings(s), want)
	}
	if len(s.DNS.Servers) != 1 || s.DNS.Servers[0] != addr("9.9.9.9") {
		t.Errorf("dns %v", s.DNS)
	}
	if err := s.Override(Static{Dev: "eth9", DHCP: true}); err == nil {
		t.Error("override of a missing link: no error")
	}
	// No device: the link of the default route.
	if err := s.Override(Static{DHCP: true}); err != nil || !s.Link("eth0").DHCP {
		t.Errorf("override without device: %v, eth0 dhcp %v", err, s.Link("eth0").DHCP)
	}
}

func TestOverrideKernel(t *testing.T) {
	s := &State{Version: Version, Links: []Link{{Name: "eth0", Kind: "device", MAC: "52:54:00:00:00:01"}}}
	if err := s.OverrideKernel("BOOT_IMAGE=/vmlinuz root=/dev/vda1 ro"); err != nil || len(s.Routes) != 0 || s.Link("eth0").Up {
		t.Fatalf("no ip=: %v %+v", err, s)
	}
	if err := s.OverrideKernel("ip=203.0.113.5::172.31.1.1:32::eth0:none:185.12.64.1"); err != nil {
		t.Fatal(err)
	}
	if got := routeStrings(s); len(got) != 1 || got[0] != "default via 172.31.1.1 dev eth0 proto static onlink" || s.DNS.Servers[0] != addr("185.12.64.1") {
		t.Errorf("routes %q dns %v", got, s.DNS)
	}
	if err := s.OverrideKernel("ip=eth9:dhcp"); err == nil || !strings.Contains(err.Error(), `no link "eth9"`) {
		t.Errorf("unknown device: %v", err)
	}
	if err := s.OverrideKernel("ip=bogus:magic"); err == nil {
		t.Error("bad ip= accepted")
	}
}
