package netcfg

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Static is an admin's network configuration for one link, from the
// kernel's ip= parameter or takeover's --net flag. It takes precedence over
// the captured state of that link (see State.Override).
type Static struct {
	// Dev is a link name or MAC address; empty means the link that holds
	// the captured default route.
	Dev string
	// DHCP obtains IPv4 by DHCP instead of static IPv4 addresses.
	DHCP  bool
	Addrs []netip.Prefix
	// Gateway4 is the IPv4 default gateway; it may be an IPv6 address (an
	// IPv4 default route via an IPv6 next hop).
	Gateway4 netip.Addr
	Gateway6 netip.Addr
	DNS      []netip.Addr
	MTU      int
}

// ParseStatic parses the --net syntax: comma-separated items
//
//	dev=NAME|MAC  addr=IP/LEN (repeatable)  gw=IP (one per family)
//	gw4=IP (IPv4 default gateway, may be IPv6)  dns=IP (repeatable)
//	mtu=N  dhcp
//
// e.g. "dev=eth0,addr=203.0.113.5/32,gw=172.31.1.1,addr=2001:db8::5/64,gw=fe80::1".
func ParseStatic(spec string) (Static, error) {
	var s Static
	if strings.TrimSpace(spec) == "" {
		return s, errors.New("--net: empty")
	}
	for item := range strings.SplitSeq(spec, ",") {
		k, v, hasV := strings.Cut(strings.TrimSpace(item), "=")
		if k == "dhcp" && !hasV {
			s.DHCP = true
			continue
		}
		if !hasV || v == "" {
			return s, fmt.Errorf("--net: %q: want key=value or dhcp", item)
		}
		var err error
		switch k {
		case "dev":
			if s.Dev != "" {
				return s, fmt.Errorf("--net: dev given twice")
			}
			s.Dev = v
		case "addr":
			var p netip.Prefix
			p, err = netip.ParsePrefix(v)
			if err == nil && p.Addr().Zone() != "" {
				err = errors.New("zone not allowed")
			}
			s.Addrs = append(s.Addrs, p)
		case "gw", "gw4", "gw6":
			var a netip.Addr
			a, err = netip.ParseAddr(v)
			if err != nil {
				break
			}
			target := &s.Gateway6
			if k == "gw4" || (k == "gw" && a.Is4()) {
				target = &s.Gateway4
			}
			if k == "gw6" && a.Is4() {
				err = errors.New("IPv4 address as IPv6 gateway")
			} else if target.IsValid() {
				err = errors.New("a second gateway of the same family")
			}
			*target = a
		case "dns":
			var a netip.Addr
			a, err = netip.ParseAddr(v)
			s.DNS = append(s.DNS, a)
		case "mtu":
			s.MTU, err = strconv.Atoi(v)
			if err == nil && (s.MTU < 68 || s.MTU > 65535) {
				err = errors.New("out of range 68-65535")
			}
		default:
			return s, fmt.Errorf("--net: unknown key %q (want dev, addr, gw, gw4, gw6, dns, mtu, dhcp)", k)
		}
		if err != nil {
			return s, fmt.Errorf("--net: %s=%s: %w", k, v, err)
		}
	}
	return s, s.validate("--net")
}

func (s Static) validate(what string) error {
	if s.DHCP {
		for _, p := range s.Addrs {
			if p.Addr().Is4() {
				return fmt.Errorf("%s: dhcp and a static IPv4 address %s", what, p)
			}
		}
		if s.Gateway4.IsValid() {
			return fmt.Errorf("%s: dhcp and a static IPv4 gateway", what)
		}
	}
	if !s.DHCP && len(s.Addrs) == 0 {
		return fmt.Errorf("%s: neither an address nor dhcp", what)
	}
	if s.Gateway4.IsValid() && !s.DHCP && !slices.ContainsFunc(s.Addrs, func(p netip.Prefix) bool { return p.Addr().Is4() }) {
		return fmt.Errorf("%s: IPv4 gateway %s without an IPv4 address", what, s.Gateway4)
	}
	if s.Gateway6.IsValid() && !slices.ContainsFunc(s.Addrs, func(p netip.Prefix) bool { return !p.Addr().Is4() }) {
		return fmt.Errorf("%s: IPv6 gateway %s without an IPv6 address", what, s.Gateway6)
	}
	return nil
}

// ParseKernelIP reads the ip= parameters of a kernel command line (the
// contents of /proc/cmdline). It returns nil when there is none or when it
// says off/none. It understands the kernel's form
//
//	ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF:DNS0:DNS1:NTP0
//	ip=dhcp|on|any|bootp|both|off|none
//
// and dracut's additions: IPv6 addresses in brackets, a prefix length as
// NETMASK, ip=DEVICE:METHOD[:MTU[:MAC]], an MTU in place of DNS0, and several
// ip= parameters (merged per device). Without a netmask an IPv4 address gets
// /32 and its gateway is on-link. dhcp6 and auto6 are left to the kernel's
// SLAAC. The hostname, server and NTP fields are ignored.
func ParseKernelIP(cmdline string) ([]Static, error) {
	var out []Static
	for f := range strings.FieldsSeq(cmdline) {
		v, ok := strings.CutPrefix(f, "ip=")
		if !ok {
			continue
		}
		s, use, err := parseIPParam(strings.Trim(v, `"`))
		if err != nil {
			return nil, fmt.Errorf("kernel parameter ip=%s: %w", v, err)
		}
		if !use {
			continue
		}
		i := slices.IndexFunc(out, func(o Static) bool { return o.Dev == s.Dev })
		if i < 0 {
			out = append(out, s)
			continue
		}
		m, err := mergeStatic(out[i], s)
		if err != nil {
			return nil, fmt.Errorf("kernel parameter ip=%s: %w", v, err)
		}
		out[i] = m
	}
	return out, nil
}

func mergeStatic(a, b Static) (Static, error) {
	a.DHCP = a.DHCP || b.DHCP
	a.Addrs = append(a.Addrs, b.Addrs...)
	a.DNS = append(a.DNS, b.DNS...)
	for _, g := range []struct {
		dst *netip.Addr
		src netip.Addr
	}{{&a.Gateway4, b.Gateway4}, {&a.Gateway6, b.Gateway6}} {
		if !g.src.IsValid() {
			continue
		}
		if g.dst.IsValid() && *g.dst != g.src {
			return a, fmt.Errorf("two gateways %s and %s for the same device", *g.dst, g.src)
		}
		*g.dst = g.src
	}
	if b.MTU != 0 {
		a.MTU = b.MTU
	}
	return a, a.validate("ip=")
}

var dhcpMethods = map[string]bool{"dhcp": true, "on": true, "any": true, "bootp": true, "both": true}

// parseIPParam parses one ip= value; use is false when it asks for nothing
// (off, none, IPv6 autoconfiguration).
func parseIPParam(v string) (s Static, use bool, err error) {
	switch v {
	case "off", "none", "dhcp6", "auto6":
		return s, false, nil
	}
	if dhcpMethods[v] {
		return Static{DHCP: true}, true, nil
	}
	fields, err := splitBracketed(v)
	if err != nil {
		return s, false, err
	}
	// dracut: ip=DEVICE:METHOD[:MTU[:MAC]], the MAC itself written with colons.
	if len(fields) >= 2 && fields[0] != "" {
		if _, ipErr := netip.ParseAddr(fields[0]); ipErr != nil {
			return parseDevMethod(fields)
		}
	}
	if len(fields) > 10 {
		return s, false, fmt.Errorf("%d fields, at most 10", len(fields))
	}
	fields = append(fields, make([]string, 10-len(fields))...)
	client, gw, mask, dev, auto := fields[0], fields[2], fields[3], fields[5], fields[6]
	s.Dev = dev
	switch {
	case auto == "off" || auto == "none" || auto == "static" || (auto == "" && client != ""):
	case dhcpMethods[auto] || auto == "":
		s.DHCP = true
	case auto == "dhcp6" || auto == "auto6":
		if client == "" {
			return s, false, nil
		}
	default:
		return s, false, fmt.Errorf("unknown autoconf method %q", auto)
	}
	if client != "" {
		a, err := netip.ParseAddr(client)
		if err != nil {
			return s, false, fmt.Errorf("client address: %w", err)
		}
		bits, err := maskBits(mask, a)
		if err != nil {
			return s, false, err
		}
		s.Addrs = append(s.Addrs, netip.PrefixFrom(a, bits))
		if s.DHCP && a.Is4() {
			// A static client address wins over the method.
			s.DHCP = false
		}
	}
	if gw != "" {
		a, err := netip.ParseAddr(gw)
		if err != nil {
			return s, false, fmt.Errorf("gateway: %w", err)
		}
		if a.Is4() || (len(s.Addrs) > 0 && s.Addrs[0].Addr().Is4()) {
			s.Gateway4 = a
		} else {
			s.Gateway6 = a
		}
	}
	for _, f := range fields[7:9] {
		if f == "" {
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			s.DNS = append(s.DNS, a)
		} else if mtu, err := strconv.Atoi(f); err == nil {
			s.MTU = mtu
		} else if _, err := net.ParseMAC(f); err == nil && s.Dev == "" {
			s.Dev = f
		} else {
			return s, false, fmt.Errorf("field %q is no DNS server, MTU or MAC", f)
		}
	}
	if s.MTU != 0 && (s.MTU < 68 || s.MTU > 65535) {
		return s, false, fmt.Errorf("MTU %d out of range 68-65535", s.MTU)
	}
	return s, true, s.validate("ip=")
}

// parseDevMethod parses dracut's ip=DEVICE:METHOD[:MTU[:MAC]]; the MAC only
// names the device dracut should rename, which changes nothing here.
func parseDevMethod(f []string) (s Static, use bool, err error) {
	s.Dev = f[0]
	switch m := f[1]; {
	case dhcpMethods[m]:
		s.DHCP = true
	case m == "off" || m == "none" || m == "dhcp6" || m == "auto6":
		return s, false, nil
	default:
		return s, false, fmt.Errorf("unknown method %q for device %s", m, f[0])
	}
	if len(f) > 2 && f[2] != "" {
		if s.MTU, err = strconv.Atoi(f[2]); err != nil || s.MTU < 68 || s.MTU > 65535 {
			return s, false, fmt.Errorf("bad MTU %q", f[2])
		}
	}
	if len(f) > 3 && strings.Join(f[3:], "") != "" {
		mac := strings.Join(f[3:], ":")
		if _, err := net.ParseMAC(mac); err != nil {
			return s, false, fmt.Errorf("bad MAC %q", mac)
		}
	}
	return s, true, nil
}

// maskBits turns NETMASK (dotted IPv4 mask or a prefix length) into bits.
func maskBits(mask string, a netip.Addr) (int, error) {
	if mask == "" {
		return a.BitLen(), nil
	}
	if n, err := strconv.Atoi(mask); err == nil {
		if n < 0 || n > a.BitLen() {
			return 0, fmt.Errorf("prefix length %d out of range for %s", n, a)
		}
		return n, nil
	}
	m, err := netip.ParseAddr(mask)
	if err != nil || !m.Is4() || !a.Is4() {
		return 0, fmt.Errorf("bad netmask %q", mask)
	}
	b := m.As4()
	ones, bits := net.IPMask(b[:]).Size()
	if bits == 0 {
		return 0, fmt.Errorf("non-contiguous netmask %q", mask)
	}
	return ones, nil
}

// splitBracketed splits on ':' outside [...], removing the brackets.
func splitBracketed(v string) ([]string, error) {
	var out []string
	var cur strings.Builder
	in := false
	for _, c := range v {
		switch {
		case c == '[' && !in && cur.Len() == 0:
			in = true
		case c == ']' && in:
			in = false
		case c == ':' && !in:
			out = append(out, cur.String())
			cur.Reset()
		case c == '[' || c == ']':
			return nil, fmt.Errorf("misplaced %q", c)
		default:
			cur.WriteRune(c)
		}
	}
	if in {
		return nil, errors.New("unclosed '['")
	}
	return append(out, cur.String()), nil
}

// Override replaces the captured configuration of one link with o, family
// by family: the families o configures (IPv4 when it has IPv4 addresses or
// asks for DHCP, IPv6 when it has IPv6 addresses) lose their global
// addresses and their routes through that link; the others stay.
func (s *State) Override(o Static) error {
	l, err := s.findOverrideLink(o.Dev)
	if err != nil {
		return err
	}
	v4 := o.DHCP || slices.ContainsFunc(o.Addrs, func(p netip.Prefix) bool { return p.Addr().Is4() })
	v6 := slices.ContainsFunc(o.Addrs, func(p netip.Prefix) bool { return !p.Addr().Is4() })
	replaced := func(a netip.Addr) bool { return (a.Is4() && v4) || (!a.Is4() && v6) }
	l.Addrs = slices.DeleteFunc(l.Addrs, func(a Addr) bool {
		return replaced(a.Prefix.Addr()) && !a.Prefix.Addr().IsLinkLocalUnicast() && a.Scope != "host"
	})
	s.Routes = slices.DeleteFunc(s.Routes, func(r Route) bool {
		if !replaced(r.Dst.Addr()) {
			return false
		}
		return r.Dev == l.Name || slices.ContainsFunc(r.Nexthops, func(n Nexthop) bool { return n.Dev == l.Name })
	})
	for _, p := range o.Addrs {
		l.Addrs = append(l.Addrs, Addr{Prefix: p, ValidLft: Forever, PreferredLft: Forever})
	}
	for _, gw := range []struct {
		dst netip.Prefix
		gw  netip.Addr
	}{{netip.MustParsePrefix("0.0.0.0/0"), o.Gateway4}, {netip.MustParsePrefix("::/0"), o.Gateway6}} {
		if !gw.gw.IsValid() {
			continue
		}
		onlink := !gw.gw.IsLinkLocalUnicast() && !slices.ContainsFunc(o.Addrs, func(p netip.Prefix) bool {
			return p.Contains(gw.gw)
		})
		s.Routes = append(s.Routes, Route{Dst: gw.dst, Dev: l.Name, Gateway: gw.gw, Protocol: "static", OnLink: onlink})
	}
	if o.DHCP {
		l.DHCP = true
	}
	if o.MTU != 0 {
		l.MTU = o.MTU
	}
	l.Up = true
	if len(o.DNS) > 0 {
		s.DNS.Servers = slices.Clone(o.DNS)
		s.DNS.Source = "override"
	}
	return s.Validate()
}

// findOverrideLink resolves Static.Dev: a name, a MAC, or the link of the
// default route (IPv4 first).
func (s *State) findOverrideLink(dev string) (*Link, error) {
	if dev == "" {
		for _, v4 := range []bool{true, false} {
			for _, r := range s.Routes {
				if r.Dst.Bits() == 0 && r.Dst.Addr().Is4() == v4 && (r.Table == 0 || r.Table == MainTable) && r.Dev != "" {
					return s.Link(r.Dev), nil
				}
			}
		}
		var devices []*Link
		for i := range s.Links {
			if s.Links[i].Kind == "device" {
				devices = append(devices, &s.Links[i])
			}
		}
		if len(devices) == 1 {
			return devices[0], nil
		}
		return nil, fmt.Errorf("no device given and no default route or single NIC to pick (%d NICs)", len(devices))
	}
	if l := s.Link(dev); l != nil {
		return l, nil
	}
	if mac, err := net.ParseMAC(dev); err == nil {
		for i := range s.Links {
			if s.Links[i].Kind != "vlan" && strings.EqualFold(s.Links[i].MAC, mac.String()) {
				return &s.Links[i], nil
			}
		}
	}
	return nil, fmt.Errorf("no link %q in the captured state", dev)
}

// OverrideKernel applies the ip= parameters of a kernel command line (the
// contents of /proc/cmdline) with Override; without any it changes nothing.
func (s *State) OverrideKernel(cmdline string) error {
	overrides, err := ParseKernelIP(cmdline)
	if err != nil {
		return err
	}
	for _, o := range overrides {
		if err := s.Override(o); err != nil {
			return fmt.Errorf("kernel parameter ip=: %w", err)
		}
	}
	return nil
}
