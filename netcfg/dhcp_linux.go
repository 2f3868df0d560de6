package netcfg

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
)

const (
	dhcpTimeout = 15 * time.Second
	dhcpAttempt = 2 * time.Second
)

// dhcp runs DHCPv4 on the links that ask for it and, with DHCPFallback, on
// the links whose captured IPv4 default gateway does not answer.
func (a *applier) dhcp(s *State) {
	for _, l := range s.Links {
		c := a.cur[l.Name]
		if c == nil || (!l.DHCP && !a.opts.DHCPFallback) {
			continue
		}
		name := c.Attrs().Name
		if !l.DHCP {
			gw, ok := capturedGateway4(s, l.Name)
			if !ok {
				continue
			}
			g := probeGateway(context.Background(), a.h, gateway{c.Attrs().Index, name, gw}, cmpOr(a.opts.ProbeTimeout, probeTimeout))
			if g.Answered {
				a.add("dhcp", name+": gateway "+gw.String()+" answered", ActionSkipped, nil)
				continue
			}
			if a.opts.Logf != nil {
				a.opts.Logf("netcfg: %s: gateway %s did not answer (%s); trying DHCPv4", name, gw, g.State)
			}
		}
		a.lease(s, l, c)
	}
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// capturedGateway4 returns the gateway of the main table's IPv4 default
// route through link name.
func capturedGateway4(s *State, name string) (netip.Addr, bool) {
	for _, r := range s.Routes {
		if r.Dev == name && r.Dst.Bits() == 0 && r.Dst.Addr().Is4() && (r.Table == 0 || r.Table == MainTable) && r.Gateway.IsValid() {
			return r.Gateway, true
		}
	}
	return netip.Addr{}, false
}

// lease obtains a DHCPv4 lease on l and applies it with an infinite
// lifetime: no client stays behind to renew it.
func (a *applier) lease(s *State, l Link, c netlink.Link) {
	name := c.Attrs().Name
	timeout := cmpOr(a.opts.DHCPTimeout, dhcpTimeout)
	// Short attempts, many of them: a lost DISCOVER should cost seconds.
	client, err := nclient4.New(name, nclient4.WithTimeout(dhcpAttempt), nclient4.WithRetry(max(1, int(timeout/dhcpAttempt))))
	if err != nil {
		a.add("dhcp", name, "", fmt.Errorf("DHCPv4 client on %s: %w", name, err))
		return
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	lease, err := client.Request(ctx)
	if err != nil {
		a.add("dhcp", name, "", fmt.Errorf("DHCPv4 on %s: %w", name, err))
		return
	}
	addrs, routes, dns, err := fromLease(lease.ACK.YourIPAddr, lease.ACK.SubnetMask(), lease.ACK.Router(), classless(lease), lease.ACK.DNS(), l.Name)
	if err != nil {
		a.add("dhcp", name, "", err)
		return
	}
	// Reuse the captured default route's metric so the lease's route
	// replaces it instead of sitting beside it.
	for i := range routes {
		for _, r := range s.Routes {
			if r.Dev == l.Name && r.Dst == routes[i].Dst && (r.Table == 0 || r.Table == MainTable) {
				routes[i].Metric = r.Metric
			}
		}
	}
	a.add("dhcp", fmt.Sprintf("%s: lease %s from %s", name, addrs[0].Prefix, lease.ACK.ServerIPAddr), ActionChanged, nil)
	a.addrs(Link{Name: l.Name, Addrs: addrs})
	a.routes(routes)
	if a.opts.ResolvConf != "" && len(s.DNS.Servers) == 0 && len(dns) > 0 {
		changed, err := writeResolvConf(a.opts.ResolvConf, DNS{Servers: dns, Source: "DHCPv4 on " + name})
		a.add("dns", a.opts.ResolvConf, changedAction(changed), err)
	}
}

type staticRoute struct {
	dst    netip.Prefix
	router netip.Addr
}

func classless(l *nclient4.Lease) []staticRoute {
	var out []staticRoute
	for _, r := range l.ACK.ClasslessStaticRoute() {
		p, ok := prefixOf(r.Dest)
		if !ok {
			continue
		}
		gw, _ := netip.AddrFromSlice(r.Router)
		out = append(out, staticRoute{p, gw.Unmap()})
	}
	return out
}

// fromLease turns a lease into addresses and routes on dev. Classless
// static routes (RFC 3442) win over the router option, as the RFC says; a
// router outside the leased subnet is on-link (providers hand out /32s).
func fromLease(ip net.IP, mask net.IPMask, routers []net.IP, cls []staticRoute, dnsIPs []net.IP, dev string) ([]Addr, []Route, []netip.Addr, error) {
	a, ok := netip.AddrFromSlice(ip)
	if !ok || !a.Unmap().Is4() || a.Unmap().IsUnspecified() {
		return nil, nil, nil, fmt.Errorf("DHCPv4 lease on %s without an address", dev)
	}
	a = a.Unmap()
	bits := 32
	if ones, b := mask.Size(); b == 32 {
		bits = ones
	}
	p := netip.PrefixFrom(a, bits)
	addrs := []Addr{{Prefix: p, ValidLft: Forever, PreferredLft: Forever}}
	var routes []Route
	if len(cls) == 0 {
		for _, r := range routers {
			if gw, ok := netip.AddrFromSlice(r); ok && !gw.Unmap().IsUnspecified() {
				cls = append(cls, staticRoute{netip.MustParsePrefix("0.0.0.0/0"), gw.Unmap()})
				break
			}
		}
	}
	for _, r := range cls {
		rt := Route{Dst: r.dst, Dev: dev, Protocol: "dhcp"}
		if r.router.IsValid() && !r.router.IsUnspecified() {
			rt.Gateway = r.router
			rt.OnLink = !p.Masked().Contains(r.router)
		} else {
			rt.Scope = "link"
		}
		routes = append(routes, rt)
	}
	var dns []netip.Addr
	for _, d := range dnsIPs {
		if x, ok := netip.AddrFromSlice(d); ok && !slices.Contains(dns, x.Unmap()) {
			dns = append(dns, x.Unmap())
		}
	}
	return addrs, routes, dns, nil
}
