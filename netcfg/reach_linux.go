package netcfg

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Reachability is the outcome of Check, for `paroodise status` and the
// login banner.
type Reachability struct {
	CheckedAt time.Time      `json:"checked_at"`
	Gateways  []GatewayCheck `json:"gateways"`
	// Target is the host:port the admin asked to connect to, if any.
	Target    string `json:"target,omitempty"`
	TargetOK  bool   `json:"target_ok,omitempty"`
	TargetErr string `json:"target_error,omitempty"`
}

// GatewayCheck is the probe of one default gateway.
type GatewayCheck struct {
	Dev     string     `json:"dev"`
	Gateway netip.Addr `json:"gateway"`
	// Answered is true when the gateway answered ARP or NDP (or has a
	// permanent neighbor entry, which cannot be probed).
	Answered bool `json:"answered"`
	// State is the neighbor entry's state after the probe (REACHABLE,
	// FAILED, ...) or why there was none.
	State string `json:"state"`
}

// OK reports whether the server looks reachable: the target connected if
// one was given, otherwise at least one gateway answered.
func (r Reachability) OK() bool {
	if r.Target != "" {
		return r.TargetOK
	}
	return slices.ContainsFunc(r.Gateways, func(g GatewayCheck) bool { return g.Answered })
}

// String is one line for the banner, e.g. "reachable: gateway 172.31.1.1
// on eth0 answered; fe80::1 on eth0 answered".
func (r Reachability) String() string {
	var parts []string
	for _, g := range r.Gateways {
		if g.Answered {
			parts = append(parts, fmt.Sprintf("gateway %s on %s answered", g.Gateway, g.Dev))
		} else {
			parts = append(parts, fmt.Sprintf("gateway %s on %s did not answer (%s)", g.Gateway, g.Dev, g.State))
		}
	}
	if len(r.Gateways) == 0 {
		parts = append(parts, "no default gateway")
	}
	if r.Target != "" {
		if r.TargetOK {
			parts = append(parts, "connected to "+r.Target)
		} else {
			parts = append(parts, fmt.Sprintf("cannot connect to %s: %s", r.Target, r.TargetErr))
		}
	}
	verdict := "reachable"
	if !r.OK() {
		verdict = "NOT reachable"
	}
	return verdict + ": " + strings.Join(parts, "; ")
}

// probeTimeout is the default time one gateway has to answer.
const probeTimeout = 3 * time.Second

// Check probes the default gateways of the main routing table (ARP for
// IPv4, NDP for IPv6 next hops) and, if target (host:port) is not empty,
// opens a TCP connection to it. ctx bounds the whole check.
func Check(ctx context.Context, target string) Reachability {
	r := Reachability{CheckedAt: time.Now().UTC(), Target: target}
	if h, err := netlink.NewHandle(); err != nil {
		r.Gateways = append(r.Gateways, GatewayCheck{State: "netlink: " + err.Error()})
	} else {
		gws, err := defaultGateways(h)
		if err != nil {
			r.Gateways = append(r.Gateways, GatewayCheck{State: err.Error()})
		}
		for _, g := range gws {
			r.Gateways = append(r.Gateways, probeGateway(ctx, h, g, probeTimeout))
		}
		h.Close()
	}
	if target != "" {
		d := net.Dialer{Timeout: 5 * time.Second}
		c, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			r.TargetErr = err.Error()
		} else {
			r.TargetOK = true
			c.Close()
		}
	}
	return r
}

type gateway struct {
	index int
	dev   string
	addr  netip.Addr
}

// defaultGateways lists the next hops of the main table's default routes.
func defaultGateways(h *netlink.Handle) ([]gateway, error) {
	routes, err := retryDump("RTM_GETROUTE", func() ([]netlink.Route, error) {
		return h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, err
	}
	var out []gateway
	add := func(index int, gw netip.Addr) {
		if !gw.IsValid() {
			return
		}
		l, err := h.LinkByIndex(index)
		if err != nil {
			return
		}
		g := gateway{index, l.Attrs().Name, gw}
		if !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	for _, r := range routes {
		if r.Dst != nil && !isDefault(r.Dst) {
			continue
		}
		add(r.LinkIndex, gatewayOf(r.Gw, r.Via))
		for _, nh := range r.MultiPath {
			add(nh.LinkIndex, gatewayOf(nh.Gw, nh.Via))
		}
	}
	return out, nil
}

func isDefault(n *net.IPNet) bool {
	ones, _ := n.Mask.Size()
	return ones == 0
}

// probeGateway forgets the kernel's neighbor entry for the gateway, sends it
// a datagram so that the kernel resolves it afresh, and watches the entry
// until it is REACHABLE or the time is up.
func probeGateway(ctx context.Context, h *netlink.Handle, g gateway, timeout time.Duration) GatewayCheck {
	res := GatewayCheck{Dev: g.dev, Gateway: g.addr}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	family := netlink.FAMILY_V4
	if g.addr.Is6() {
		family = netlink.FAMILY_V6
	}
	if n := findNeigh(h, g, family); n != nil {
		if n.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0 {
			res.Answered, res.State = true, neighState(n.State)
			return res
		}
		// Delete errors only mean an older answer may be seen.
		_ = h.NeighDel(&netlink.Neigh{LinkIndex: g.index, Family: family, IP: g.addr.AsSlice()})
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var sent time.Time
	for {
		if time.Since(sent) >= time.Second {
			if err := poke(g); err != nil {
				res.State = err.Error()
				return res
			}
			sent = time.Now()
		}
		if n := findNeigh(h, g, family); n != nil {
			res.State = neighState(n.State)
			if n.State&netlink.NUD_REACHABLE != 0 {
				res.Answered = true
				return res
			}
		} else {
			res.State = "no neighbor entry"
		}
		select {
		case <-ctx.Done():
			return res
		case <-tick.C:
		}
	}
}

func findNeigh(h *netlink.Handle, g gateway, family int) *netlink.Neigh {
	ns, err := h.NeighList(g.index, family)
	if err != nil {
		return nil
	}
	for _, n := range ns {
		if a, ok := netip.AddrFromSlice(n.IP); ok && a.Unmap() == g.addr {
			return &n
		}
	}
	return nil
}

// poke sends one UDP datagram to the discard port of g through its link,
// which makes the kernel resolve g's link-layer address.
func poke(g gateway) error {
	domain := unix.AF_INET
	if g.addr.Is6() {
		domain = unix.AF_INET6
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.BindToDevice(fd, g.dev); err != nil {
		return fmt.Errorf("setsockopt SO_BINDTODEVICE %s: %w", g.dev, err)
	}
	var sa unix.Sockaddr
	if g.addr.Is4() {
		sa = &unix.SockaddrInet4{Port: 9, Addr: g.addr.As4()}
	} else {
		sa = &unix.SockaddrInet6{Port: 9, Addr: g.addr.As16(), ZoneId: uint32(g.index)}
	}
	err = unix.Sendto(fd, nil, unix.MSG_DONTWAIT, sa)
	// A full queue or a pending resolution is fine; the probe is under way.
	if err != nil && !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EHOSTUNREACH) {
		return fmt.Errorf("sendto %s via %s: %w", g.addr, g.dev, err)
	}
	return nil
}

func neighState(s int) string {
	names := []struct {
		bit  int
		name string
	}{
		{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"},
		{netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"},
		{netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"},
	}
	var out []string
	for _, n := range names {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	if len(out) == 0 {
		return "NONE"
	}
	return strings.Join(out, ",")
}
