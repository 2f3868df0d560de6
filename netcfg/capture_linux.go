package netcfg

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Where the resolver configuration is read from. systemd-resolved's stub
// listener (127.0.0.53) is gone once resolved is, so its upstream servers
// are captured instead.
const (
	ResolvConf         = "/etc/resolv.conf"
	resolvedResolvConf = "/run/systemd/resolve/resolv.conf"
	procSysIPv6        = "/proc/sys/net/ipv6/conf"
)

// dumpRetries bounds retries of a netlink dump the kernel interrupted
// because the table changed meanwhile (ErrDumpInterrupted).
const dumpRetries = 5

// Capture reads the network configuration of the current network namespace.
func Capture() (*State, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	defer h.Close()
	s, err := capture(h)
	if err != nil {
		return nil, err
	}
	s.DNS, err = readDNS(ResolvConf, resolvedResolvConf)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return s, nil
}

// retryDump repeats a dump the kernel interrupted.
func retryDump[T any](what string, f func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpRetries {
		v, err = f()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return v, fmt.Errorf("netlink dump %s: %w", what, err)
	}
	return v, nil
}

func capture(h *netlink.Handle) (*State, error) {
	links, err := retryDump("RTM_GETLINK", func() ([]netlink.Link, error) { return h.LinkList() })
	if err != nil {
		return nil, err
	}
	addrs, err := retryDump("RTM_GETADDR", func() ([]netlink.Addr, error) { return h.AddrList(nil, netlink.FAMILY_ALL) })
	if err != nil {
		return nil, err
	}
	routes, err := retryDump("RTM_GETROUTE", func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, err
	}
	rules, err := retryDump("RTM_GETRULE", func() ([]netlink.Rule, error) { return h.RuleList(netlink.FAMILY_ALL) })
	if err != nil {
		return nil, err
	}
	s := &State{Version: Version, CapturedAt: time.Now().UTC()}
	for _, r := range rules {
		if cr, keep := fromRule(r); keep {
			s.Rules = append(s.Rules, cr)
		}
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	for _, l := range links {
		s.Links = append(s.Links, fromLink(l, names))
	}
	for _, a := range addrs {
		name, ok := names[a.LinkIndex]
		if !ok {
			continue
		}
		ca, keep := fromAddr(a, name)
		if keep {
			s.Link(name).Addrs = append(s.Link(name).Addrs, ca)
		}
	}
	for _, r := range routes {
		if cr, keep := fromRoute(r, names); keep {
			s.Routes = append(s.Routes, cr)
		}
	}
	return s, nil
}

func fromLink(l netlink.Link, names map[int]string) Link {
	a := l.Attrs()
	out := Link{
		Name:     a.Name,
		Kind:     l.Type(),
		MTU:      a.MTU,
		Up:       a.Flags&net.FlagUp != 0,
		AcceptRA: readAcceptRA(procSysIPv6, a.Name),
	}
	if len(a.HardwareAddr) > 0 {
		out.MAC = a.HardwareAddr.String()
	}
	if a.EncapType == "loopback" {
		out.Kind = "loopback"
	}
	if v, ok := l.(*netlink.Vlan); ok {
		out.VLAN = &VLAN{Parent: names[a.ParentIndex], ID: v.VlanId}
	}
	return out
}

func readAcceptRA(dir, name string) int {
	b, err := os.ReadFile(dir + "/" + name + "/accept_ra")
	if err != nil {
		return -1
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return -1
	}
	return v
}

// IPv6 address states the kernel makes and remakes on its own: privacy
// addresses (IFA_F_TEMPORARY, the same bit as IPv4's IFA_F_SECONDARY) and
// addresses that failed duplicate address detection.
const (
	ifaTemporary = 0x01
	ifaDADFailed = 0x08
)

// fromAddr converts a kernel address; keep is false for IPv6 privacy and
// failed addresses, which are not configuration, and for unparsable ones.
func fromAddr(a netlink.Addr, linkName string) (Addr, bool) {
	p, ok := prefixOf(a.IPNet)
	if !ok {
		return Addr{}, false
	}
	if p.Addr().Is6() && a.Flags&(ifaTemporary|ifaDADFailed) != 0 {
		return Addr{}, false
	}
	out := Addr{
		Prefix:       p,
		Scope:        scopeName(uint8(a.Scope)),
		ValidLft:     Lifetime(uint32(a.ValidLft)),
		PreferredLft: Lifetime(uint32(a.PreferedLft)),
	}
	if a.Peer != nil {
		if pp, ok := prefixOf(a.Peer); ok && pp != p {
			out.Peer = pp
		}
	}
	if b, ok := netip.AddrFromSlice(a.Broadcast); ok && p.Addr().Is4() {
		out.Broadcast = b.Unmap()
	}
	if a.Label != "" && a.Label != linkName {
		out.Label = a.Label
	}
	for _, name := range sortedKeys(addrFlags) {
		if uint32(a.Flags)&addrFlags[name] != 0 {
			out.Flags = append(out.Flags, name)
		}
	}
	return out, true
}

// fromRoute converts a kernel route; keep is false for routes the kernel
// makes on its own (prefix routes of addresses, the local table, IPv6
// link-local and multicast routes) and for cached or cloned entries.
func fromRoute(r netlink.Route, names map[int]string) (Route, bool) {
	if r.Table == unix.RT_TABLE_LOCAL || r.Protocol == unix.RTPROT_KERNEL || r.Protocol == unix.RTPROT_REDIRECT {
		return Route{}, false
	}
	if r.Flags&unix.RTM_F_CLONED != 0 {
		return Route{}, false
	}
	typ := ""
	switch r.Type {
	case unix.RTN_UNICAST:
	case unix.RTN_BLACKHOLE:
		typ = "blackhole"
	case unix.RTN_UNREACHABLE:
		typ = "unreachable"
	case unix.RTN_PROHIBIT:
		typ = "prohibit"
	case unix.RTN_THROW:
		typ = "throw"
	default: // local, broadcast, multicast, anycast, nat
		return Route{}, false
	}
	dst, ok := prefixOf(r.Dst)
	if !ok {
		if r.Family == unix.AF_INET6 {
			dst = netip.MustParsePrefix("::/0")
		} else {
			dst = netip.MustParsePrefix("0.0.0.0/0")
		}
	}
	if dst.Addr().Is6() && netip.MustParsePrefix("fe80::/10").Overlaps(dst) && dst.Bits() >= 10 {
		return Route{}, false
	}
	out := Route{
		Dst:      dst,
		Type:     typ,
		Dev:      names[r.LinkIndex],
		Gateway:  gatewayOf(r.Gw, r.Via),
		Metric:   r.Priority,
		Scope:    scopeName(uint8(r.Scope)),
		Protocol: protocolName(int(r.Protocol)),
		OnLink:   r.Flags&unix.RTNH_F_ONLINK != 0,
		MTU:      r.MTU,
		AdvMSS:   r.AdvMSS,
	}
	if r.Table != unix.RT_TABLE_MAIN {
		out.Table = r.Table
	}
	if src, ok := netip.AddrFromSlice(r.Src); ok {
		out.Src = src.Unmap()
	}
	for _, nh := range r.MultiPath {
		out.Nexthops = append(out.Nexthops, Nexthop{
			Dev:     names[nh.LinkIndex],
			Gateway: gatewayOf(nh.Gw, nh.Via),
			Weight:  nh.Hops + 1,
			OnLink:  nh.Flags&unix.RTNH_F_ONLINK != 0,
		})
	}
	return out, true
}

// fromRule converts a rule; keep is false for the kernel's default rules
// and for rules with actions or selectors Rule cannot express.
func fromRule(r netlink.Rule) (Rule, bool) {
	unsupported := r.Goto >= 0 || r.Table <= 0 || r.Tos != 0 || r.TunID != 0 || r.Flow >= 0 || r.SuppressIfgroup >= 0 ||
		r.Dport != nil || r.Sport != nil || r.UIDRange != nil || r.IPProto != 0
	if unsupported || r.Protocol == unix.RTPROT_KERNEL {
		return Rule{}, false
	}
	out := Rule{
		IPv6:              r.Family == unix.AF_INET6,
		Priority:          r.Priority,
		Table:             r.Table,
		IIF:               r.IifName,
		OIF:               r.OifName,
		FwMark:            r.Mark,
		Not:               r.Invert,
		SuppressPrefixLen: r.SuppressPrefixlen,
		Protocol:          protocolName(int(r.Protocol)),
	}
	if r.Mask != nil && *r.Mask != 0xffffffff {
		out.FwMask = *r.Mask
	}
	if p, ok := prefixOf(r.Src); ok {
		out.From = p
	}
	if p, ok := prefixOf(r.Dst); ok {
		out.To = p
	}
	return out, true
}

func gatewayOf(gw net.IP, via netlink.Destination) netip.Addr {
	if a, ok := netip.AddrFromSlice(gw); ok {
		return a.Unmap()
	}
	if v, ok := via.(*netlink.Via); ok {
		if a, ok := netip.AddrFromSlice(v.Addr); ok {
			return a.Unmap()
		}
	}
	return netip.Addr{}
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	if n == nil {
		return netip.Prefix{}, false
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits == 0 {
		return netip.Prefix{}, false
	}
	if a.Is4() && bits == 128 {
		ones -= 96
	}
	return netip.PrefixFrom(a, ones), true
}

func scopeName(s uint8) string {
	for n, v := range scopes {
		if v == s {
			return n
		}
	}
	return strconv.Itoa(int(s))
}

// readDNS reads nameserver, search and options lines from path, and from
// resolved when path names only the systemd-resolved stub.
func readDNS(path, resolved string) (DNS, error) {
	d, err := parseResolvConf(path)
	if err != nil {
		return DNS{}, err
	}
	stub := len(d.Servers) > 0
	for _, a := range d.Servers {
		if a != netip.MustParseAddr("127.0.0.53") && a != netip.MustParseAddr("127.0.0.54") {
			stub = false
		}
	}
	if stub {
		if r, err := parseResolvConf(resolved); err == nil && len(r.Servers) > 0 {
			// Keep the stub's search domains: resolved writes them to both.
			if len(r.Search) == 0 {
				r.Search = d.Search
			}
			return r, nil
		}
	}
	return d, nil
}

func parseResolvConf(path string) (DNS, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return DNS{}, err
	}
	d := DNS{Source: path}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			// Scoped link-local servers ("fe80::1%eth0") keep their zone.
			if a, err := netip.ParseAddr(f[1]); err == nil {
				d.Servers = append(d.Servers, a)
			}
		case "search", "domain":
			d.Search = f[1:]
		case "options":
			d.Options = append(d.Options, f[1:]...)
		}
	}
	return d, sc.Err()
}
