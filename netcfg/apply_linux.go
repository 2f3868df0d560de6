package netcfg

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ApplyOptions are the seams and choices of Apply.
type ApplyOptions struct {
	// ResolvConf is the file to write the DNS servers to; empty skips DNS.
	ResolvConf string
	// DHCPFallback runs DHCPv4 on each link whose captured IPv4 default
	// gateway does not answer ARP after the captured state is applied.
	DHCPFallback bool
	// ProbeTimeout bounds each gateway probe; 0 means 3s.
	ProbeTimeout time.Duration
	// DHCPTimeout bounds each DHCP exchange; 0 means 15s.
	DHCPTimeout time.Duration
	// Logf, if set, receives one line per step.
	Logf func(format string, args ...any)
}

// Report lists what Apply did, one Item per link, address, route, setting.
type Report struct {
	Items []Item `json:"items"`
}

// Item is the outcome of one step of Apply.
type Item struct {
	Kind   string `json:"kind"` // link, sysctl, addr, route, dns, dhcp
	What   string `json:"what"`
	Action string `json:"action"` // one of the Action* constants
	Err    string `json:"error,omitempty"`
}

// Item actions.
const (
	ActionUnchanged = "unchanged"
	ActionChanged   = "changed"
	ActionSkipped   = "skipped"
	ActionFailed    = "failed"
)

// Err joins the errors of the failed items; nil if none failed.
func (r *Report) Err() error {
	var errs []error
	for _, it := range r.Items {
		if it.Action == ActionFailed {
			errs = append(errs, fmt.Errorf("%s %s: %s", it.Kind, it.What, it.Err))
		}
	}
	return errors.Join(errs...)
}

// Changed counts the items Apply changed.
func (r *Report) Changed() int {
	n := 0
	for _, it := range r.Items {
		if it.Action == ActionChanged {
			n++
		}
	}
	return n
}

func (r *Report) String() string {
	var b strings.Builder
	for _, it := range r.Items {
		fmt.Fprintf(&b, "%-9s %-6s %s", it.Action, it.Kind, it.What)
		if it.Err != "" {
			fmt.Fprintf(&b, ": %s", it.Err)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

type applier struct {
	h    *netlink.Handle
	opts ApplyOptions
	rep  *Report
	// cur maps a State link name to the current link it was matched with.
	cur map[string]netlink.Link
}

// add records one item. An error fails the item unless action is
// ActionSkipped, for which err is the reason.
func (a *applier) add(kind, what, action string, err error) {
	it := Item{Kind: kind, What: what, Action: action}
	if err != nil {
		it.Err = err.Error()
		if action != ActionSkipped {
			it.Action = ActionFailed
		}
	}
	a.rep.Items = append(a.rep.Items, it)
	if a.opts.Logf != nil {
		if err != nil {
			a.opts.Logf("netcfg: %s %s: %s: %v", kind, what, it.Action, err)
		} else {
			a.opts.Logf("netcfg: %s %s: %s", kind, what, it.Action)
		}
	}
}

// Apply makes the current network namespace match s: loopback up, links
// matched by MAC (VLANs created when missing), addresses with infinite
// lifetimes, routes in an order the kernel accepts, resolv.conf, and DHCPv4
// where asked for or where the captured gateway does not answer. A failure
// of one item is recorded and the rest still applied; applying the same
// State twice changes nothing the second time.
func Apply(s *State, opts ApplyOptions) *Report {
	rep := &Report{}
	a := &applier{opts: opts, rep: rep, cur: map[string]netlink.Link{}}
	if err := s.Validate(); err != nil {
		a.add("state", "validate", "", err)
		return rep
	}
	h, err := netlink.NewHandle()
	if err != nil {
		a.add("state", "netlink", "", fmt.Errorf("netlink socket: %w", err))
		return rep
	}
	defer h.Close()
	a.h = h
	a.loopback()
	a.links(s)
	a.acceptRA(s)
	for _, l := range s.Links {
		a.addrs(l)
	}
	a.routes(s.Routes)
	a.rules(s.Rules)
	if opts.ResolvConf != "" && len(s.DNS.Servers) > 0 {
		changed, err := writeResolvConf(opts.ResolvConf, s.DNS)
		a.add("dns", opts.ResolvConf, changedAction(changed), err)
	}
	a.dhcp(s)
	return rep
}

func changedAction(changed bool) string {
	if changed {
		return ActionChanged
	}
	return ActionUnchanged
}

func isUp(l netlink.Link) bool { return l.Attrs().Flags&net.FlagUp != 0 }

func (a *applier) loopback() {
	lo, err := a.h.LinkByName("lo")
	if err != nil {
		a.add("link", "lo", "", fmt.Errorf("RTM_GETLINK lo: %w", err))
		return
	}
	if isUp(lo) {
		a.add("link", "lo up", ActionUnchanged, nil)
		return
	}
	if err := a.h.LinkSetUp(lo); err != nil {
		err = fmt.Errorf("RTM_NEWLINK lo up: %w", err)
	}
	a.add("link", "lo up", ActionChanged, err)
}

// links matches every State link to a current one, VLANs after their
// parents, creating missing VLANs, and sets MTU and up.
func (a *applier) links(s *State) {
	cur, err := retryDump("RTM_GETLINK", func() ([]netlink.Link, error) { return a.h.LinkList() })
	if err != nil {
		a.add("link", "list", "", err)
		return
	}
	pending := slices.Clone(s.Links)
	for len(pending) > 0 {
		var next []Link
		for _, l := range pending {
			if l.VLAN != nil && a.cur[l.VLAN.Parent] == nil && s.Link(l.VLAN.Parent) != nil && slices.ContainsFunc(pending, func(p Link) bool { return p.Name == l.VLAN.Parent }) {
				next = append(next, l)
				continue
			}
			a.link(l, cur)
		}
		if len(next) == len(pending) {
			for _, l := range next {
				a.add("link", l.Name, "", fmt.Errorf("VLAN parent %s cycle", l.VLAN.Parent))
			}
			return
		}
		pending = next
	}
}

func (a *applier) link(l Link, cur []netlink.Link) {
	what := l.Name
	if l.MAC != "" && l.Kind != "vlan" {
		what += " (" + l.MAC + ")"
	}
	found, err := matchLink(l, cur, a.cur)
	if err != nil {
		// Virtual links of stopped services (container veths, tunnels)
		// go away with them; only a missing NIC or VLAN is a failure.
		action := ""
		if l.Kind != "device" && l.Kind != "vlan" && l.Kind != "loopback" {
			action = ActionSkipped
		}
		a.add("link", what, action, err)
		return
	}
	changed := false
	if found == nil {
		parent := a.cur[l.VLAN.Parent]
		v := &netlink.Vlan{LinkAttrs: netlink.NewLinkAttrs(), VlanId: l.VLAN.ID}
		v.Name, v.ParentIndex, v.MTU = l.Name, parent.Attrs().Index, l.MTU
		if err := a.h.LinkAdd(v); err != nil {
			a.add("link", what, "", fmt.Errorf("RTM_NEWLINK vlan %s id %d on %s: %w", l.Name, l.VLAN.ID, parent.Attrs().Name, err))
			return
		}
		if found, err = a.h.LinkByName(l.Name); err != nil {
			a.add("link", what, "", fmt.Errorf("RTM_GETLINK %s: %w", l.Name, err))
			return
		}
		changed = true
	}
	a.cur[l.Name] = found
	name := found.Attrs().Name
	if name != l.Name {
		what += " now " + name
	}
	if l.MTU > 0 && found.Attrs().MTU != l.MTU {
		if err := a.h.LinkSetMTU(found, l.MTU); err != nil {
			a.add("link", what, "", fmt.Errorf("RTM_NEWLINK %s mtu %d: %w", name, l.MTU, err))
			return
		}
		changed = true
	}
	if l.Up && !isUp(found) {
		if err := a.h.LinkSetUp(found); err != nil {
			a.add("link", what, "", fmt.Errorf("RTM_NEWLINK %s up: %w", name, err))
			return
		}
		changed = true
	}
	a.add("link", what, changedAction(changed), nil)
}

// matchLink finds the current link for l: loopback by kind, VLANs by parent
// and id, others by MAC (the name breaks ties between a bond and its
// slaves) or, without a MAC, by name. It returns nil, nil for a VLAN to
// create.
func matchLink(l Link, cur []netlink.Link, matched map[string]netlink.Link) (netlink.Link, error) {
	switch {
	case l.Kind == "loopback":
		for _, c := range cur {
			if c.Attrs().EncapType == "loopback" {
				return c, nil
			}
		}
		return nil, errors.New("no loopback link")
	case l.VLAN != nil:
		parent := matched[l.VLAN.Parent]
		if parent == nil {
			return nil, fmt.Errorf("VLAN parent %s not found", l.VLAN.Parent)
		}
		for _, c := range cur {
			if v, ok := c.(*netlink.Vlan); ok && v.ParentIndex == parent.Attrs().Index && v.VlanId == l.VLAN.ID {
				return c, nil
			}
		}
		return nil, nil
	case l.MAC != "":
		var best netlink.Link
		for _, c := range cur {
			if !strings.EqualFold(c.Attrs().HardwareAddr.String(), l.MAC) || c.Type() == "vlan" {
				continue
			}
			if c.Attrs().Name == l.Name {
				return c, nil
			}
			if best == nil || (c.Type() == l.Kind && best.Type() != l.Kind) {
				best = c
			}
		}
		if best == nil {
			return nil, fmt.Errorf("no link with MAC %s", l.MAC)
		}
		return best, nil
	default:
		for _, c := range cur {
			if c.Attrs().Name == l.Name {
				return c, nil
			}
		}
		return nil, fmt.Errorf("no link named %s", l.Name)
	}
}

// acceptRA turns the kernel's router advertisement handling on for links
// whose IPv6 configuration came from RAs: networkd handles RAs itself with
// accept_ra=0, and once it is gone only the kernel can keep SLAAC going.
func (a *applier) acceptRA(s *State) {
	for _, l := range s.Links {
		c := a.cur[l.Name]
		if c == nil || !usesRA(s, l) {
			continue
		}
		name := c.Attrs().Name
		what := name + " accept_ra"
		cur := readAcceptRA(procSysIPv6, name)
		if cur > 0 {
			a.add("sysctl", what, ActionUnchanged, nil)
			continue
		}
		// With forwarding on, accept_ra must be 2 to take effect.
		want := "1"
		if b, err := os.ReadFile(filepath.Join(procSysIPv6, name, "forwarding")); err == nil && strings.TrimSpace(string(b)) == "1" {
			want = "2"
		}
		err := os.WriteFile(filepath.Join(procSysIPv6, name, "accept_ra"), []byte(want), 0o644)
		a.add("sysctl", what+"="+want, ActionChanged, err)
	}
}

func usesRA(s *State, l Link) bool {
	for _, r := range s.Routes {
		if r.Dev == l.Name && r.Protocol == "ra" {
			return true
		}
	}
	for _, ad := range l.Addrs {
		if ad.Prefix.Addr().Is6() && !ad.Prefix.Addr().IsLinkLocalUnicast() && slices.Contains(ad.Flags, "mngtmpaddr") {
			return true
		}
	}
	return false
}

func (a *applier) addrs(l Link) {
	c := a.cur[l.Name]
	if len(l.Addrs) == 0 {
		return
	}
	if c == nil {
		for _, ad := range l.Addrs {
			a.add("addr", ad.Prefix.String()+" dev "+l.Name, ActionSkipped, fmt.Errorf("link %s not there", l.Name))
		}
		return
	}
	name := c.Attrs().Name
	live, err := retryDump("RTM_GETADDR", func() ([]netlink.Addr, error) { return a.h.AddrList(c, netlink.FAMILY_ALL) })
	if err != nil {
		a.add("addr", "list dev "+name, "", err)
		return
	}
	for _, ad := range l.Addrs {
		want := ad
		want.ValidLft, want.PreferredLft = Forever, Forever
		if want.Label != "" && !strings.HasPrefix(want.Label, name) {
			want.Label = ""
		}
		what := want.Prefix.String() + " dev " + name
		if slices.ContainsFunc(live, func(x netlink.Addr) bool {
			got, ok := fromAddr(x, name)
			return ok && addrEqual(got, want)
		}) {
			a.add("addr", what, ActionUnchanged, nil)
			continue
		}
		if err := a.h.AddrReplace(c, toNetlinkAddr(want, c.Attrs().Index)); err != nil {
			err = fmt.Errorf("RTM_NEWADDR %s dev %s: %w", want.Prefix, name, err)
			a.add("addr", what, "", err)
			continue
		}
		a.add("addr", what, ActionChanged, nil)
	}
}

// addrEqual compares what Apply sets; scope and broadcast are left to the
// kernel when the State does not name them.
func addrEqual(got, want Addr) bool {
	if want.Broadcast.IsValid() && got.Broadcast != want.Broadcast {
		return false
	}
	if want.Scope != "" && got.Scope != want.Scope {
		return false
	}
	return got.Prefix == want.Prefix && got.Peer == want.Peer && got.Label == want.Label &&
		slices.Equal(got.Flags, want.Flags) && got.ValidLft == Forever && got.PreferredLft == Forever
}

func toNetlinkAddr(ad Addr, index int) *netlink.Addr {
	n := &netlink.Addr{
		IPNet:       ipNet(ad.Prefix),
		Label:       ad.Label,
		Scope:       int(scopes[ad.Scope]),
		LinkIndex:   index,
		ValidLft:    int(Forever),
		PreferedLft: int(Forever),
	}
	if ad.Peer.IsValid() {
		n.Peer = ipNet(ad.Peer)
	}
	if ad.Broadcast.IsValid() {
		n.Broadcast = ad.Broadcast.AsSlice()
	} else if ad.Prefix.Addr().Is4() {
		// 0.0.0.0 keeps netlink from making one up: the State has none.
		n.Broadcast = net.IPv4zero
	}
	for _, f := range ad.Flags {
		n.Flags |= int(addrFlags[f])
	}
	return n
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// routeRetries and routeRetryWait let routes whose next hop or source
// address is not ready yet (IPv6 duplicate address detection) succeed on a
// later pass.
const (
	routeRetries   = 5
	routeRetryWait = 600 * time.Millisecond
)

func (a *applier) routes(routes []Route) {
	names := map[int]string{}
	cur, err := retryDump("RTM_GETLINK", func() ([]netlink.Link, error) { return a.h.LinkList() })
	if err == nil {
		for _, l := range cur {
			names[l.Attrs().Index] = l.Attrs().Name
		}
	}
	live, err := retryDump("RTM_GETROUTE", func() ([]netlink.Route, error) {
		return a.h.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		a.add("route", "list", "", err)
		return
	}
	var liveRoutes []Route
	for _, r := range live {
		if cr, ok := fromRoute(r, names); ok {
			liveRoutes = append(liveRoutes, cr)
		}
	}
	type job struct {
		want Route
		nl   *netlink.Route
	}
	var jobs []job
	for _, r := range orderRoutes(routes) {
		want, err := a.rename(r)
		if err != nil {
			a.add("route", r.String(), ActionSkipped, err)
			continue
		}
		if slices.ContainsFunc(liveRoutes, func(x Route) bool { return routeEqual(x, want) }) {
			a.add("route", want.String(), ActionUnchanged, nil)
			continue
		}
		jobs = append(jobs, job{want, a.toNetlinkRoute(r)})
	}
	// Later passes catch what an earlier route in the same pass made
	// possible, and source addresses leaving duplicate address detection.
	for pass := 1; len(jobs) > 0; pass++ {
		var failed []job
		var errs []error
		for _, j := range jobs {
			if err := a.h.RouteReplace(j.nl); err != nil {
				failed = append(failed, j)
				errs = append(errs, fmt.Errorf("RTM_NEWROUTE %s: %w", j.want, err))
				continue
			}
			a.add("route", j.want.String(), ActionChanged, nil)
		}
		progress := len(failed) < len(jobs)
		if len(failed) == 0 || pass == routeRetries || (!progress && !waitable(errs)) {
			for i, j := range failed {
				a.add("route", j.want.String(), "", errs[i])
			}
			return
		}
		jobs = failed
		if !progress {
			time.Sleep(routeRetryWait)
		}
	}
}

// waitable reports whether any error may go away with time: the kernel
// refuses an IPv6 source address while it is still tentative.
func waitable(errs []error) bool {
	for _, err := range errs {
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EADDRNOTAVAIL) {
			return true
		}
	}
	return false
}

// orderRoutes puts routes without a gateway first (they make gateways
// reachable), then routes via on-link or link-local gateways, then the rest,
// default routes last; the order within a class is kept.
func orderRoutes(rs []Route) []Route {
	class := func(r Route) int {
		gw := r.Gateway
		if len(r.Nexthops) > 0 {
			gw = r.Nexthops[0].Gateway
		}
		switch {
		case !gw.IsValid():
			return 0
		case r.OnLink || gw.IsLinkLocalUnicast() || gw.Is4() != r.Dst.Addr().Is4():
			return 1
		case r.Dst.Bits() > 0:
			return 2
		default:
			return 3
		}
	}
	out := slices.Clone(rs)
	slices.SortStableFunc(out, func(x, y Route) int { return cmp.Compare(class(x), class(y)) })
	return out
}

// rename maps a route's link names from the State to the current links.
func (a *applier) rename(r Route) (Route, error) {
	cur := func(n string) (string, error) {
		if n == "" {
			return "", nil
		}
		c := a.cur[n]
		if c == nil {
			return "", fmt.Errorf("link %s not there", n)
		}
		return c.Attrs().Name, nil
	}
	var err error
	if r.Dev, err = cur(r.Dev); err != nil {
		return r, err
	}
	r.Nexthops = slices.Clone(r.Nexthops)
	for i := range r.Nexthops {
		if r.Nexthops[i].Dev, err = cur(r.Nexthops[i].Dev); err != nil {
			return r, err
		}
	}
	return r, nil
}

func routeEqual(got, want Route) bool {
	if got.Table == MainTable {
		got.Table = 0
	}
	if want.Table == MainTable {
		want.Table = 0
	}
	for i := range want.Nexthops {
		if want.Nexthops[i].Weight == 0 {
			want.Nexthops[i].Weight = 1
		}
	}
	if len(got.Nexthops) == 0 && len(want.Nexthops) == 0 {
		got.Nexthops, want.Nexthops = nil, nil
	}
	// The kernel fills in the IPv6 metric and the protocol when omitted.
	if want.Metric == 0 && want.Dst.Addr().Is6() {
		want.Metric = got.Metric
	}
	if want.Protocol == "" {
		want.Protocol = "boot"
	}
	return reflect.DeepEqual(got, want)
}

// curName is the current name of the State's link n, or n if it has not
// been matched (rules may name links that do not exist yet).
func (a *applier) curName(n string) string {
	if c := a.cur[n]; c != nil {
		return c.Attrs().Name
	}
	return n
}

// toNetlinkRoute converts r, whose links are named as in the State.
func (a *applier) toNetlinkRoute(r Route) *netlink.Route {
	n := &netlink.Route{
		Dst:      ipNet(r.Dst),
		Priority: r.Metric,
		Table:    cmp.Or(r.Table, MainTable),
		Type:     routeTypes[r.Type],
		Scope:    netlink.Scope(scopes[r.Scope]),
		MTU:      r.MTU,
		AdvMSS:   r.AdvMSS,
	}
	n.Protocol, _ = parseProtocolValue(r.Protocol)
	if r.Dst.Addr().Is4() {
		n.Family = unix.AF_INET
	} else {
		n.Family = unix.AF_INET6
	}
	if c := a.cur[r.Dev]; c != nil {
		n.LinkIndex = c.Attrs().Index
	}
	n.Gw, n.Via = nextHop(r.Dst, r.Gateway)
	if r.Src.IsValid() {
		n.Src = r.Src.AsSlice()
	}
	if r.OnLink {
		n.Flags = int(netlink.FLAG_ONLINK)
	}
	for _, nh := range r.Nexthops {
		ni := &netlink.NexthopInfo{Hops: cmp.Or(nh.Weight, 1) - 1}
		if c := a.cur[nh.Dev]; c != nil {
			ni.LinkIndex = c.Attrs().Index
		}
		ni.Gw, ni.Via = nextHop(r.Dst, nh.Gateway)
		if nh.OnLink {
			ni.Flags = int(netlink.FLAG_ONLINK)
		}
		n.MultiPath = append(n.MultiPath, ni)
	}
	return n
}

// nextHop returns RTA_GATEWAY for a gateway of the route's family and
// RTA_VIA for one of the other family.
func nextHop(dst netip.Prefix, gw netip.Addr) (net.IP, netlink.Destination) {
	if !gw.IsValid() {
		return nil, nil
	}
	if gw.Is4() == dst.Addr().Is4() {
		return gw.AsSlice(), nil
	}
	return nil, &netlink.Via{AddrFamily: unix.AF_INET6, Addr: gw.AsSlice()}
}

func parseProtocolValue(s string) (netlink.RouteProtocol, error) {
	p, err := parseProtocol(s)
	if err == nil && p == 0 {
		p = unix.RTPROT_BOOT
	}
	return netlink.RouteProtocol(p), err
}

// rules adds the rules that are not there yet; rules have no replace.
func (a *applier) rules(rules []Rule) {
	if len(rules) == 0 {
		return
	}
	live, err := retryDump("RTM_GETRULE", func() ([]netlink.Rule, error) { return a.h.RuleList(netlink.FAMILY_ALL) })
	if err != nil {
		a.add("rule", "list", "", err)
		return
	}
	var have []Rule
	for _, r := range live {
		if cr, ok := fromRule(r); ok {
			have = append(have, cr)
		}
	}
	for _, r := range rules {
		r.IIF, r.OIF = a.curName(r.IIF), a.curName(r.OIF)
		if slices.Contains(have, r) {
			a.add("rule", r.String(), ActionUnchanged, nil)
			continue
		}
		if err := a.h.RuleAdd(toNetlinkRule(r)); err != nil {
			a.add("rule", r.String(), "", fmt.Errorf("RTM_NEWRULE %s: %w", r, err))
			continue
		}
		a.add("rule", r.String(), ActionChanged, nil)
	}
}

func toNetlinkRule(r Rule) *netlink.Rule {
	n := netlink.NewRule()
	n.Family = unix.AF_INET
	if r.IPv6 {
		n.Family = unix.AF_INET6
	}
	n.Priority, n.Table, n.Invert = r.Priority, r.Table, r.Not
	n.IifName, n.OifName, n.Mark = r.IIF, r.OIF, r.FwMark
	if r.FwMask != 0 {
		n.Mask = &r.FwMask
	}
	n.SuppressPrefixlen = r.SuppressPrefixLen
	if r.From.IsValid() {
		n.Src = ipNet(r.From)
	}
	if r.To.IsValid() {
		n.Dst = ipNet(r.To)
	}
	p, _ := parseProtocol(r.Protocol)
	n.Protocol = uint8(p)
	return n
}

// writeResolvConf writes d atomically, replacing a symlink (e.g. to
// resolved's stub file) with a plain file. It reports whether it changed
// anything.
func writeResolvConf(path string, d DNS) (bool, error) {
	var b strings.Builder
	b.WriteString("# written by paroodise netcfg")
	if d.Source != "" {
		b.WriteString(" from " + d.Source)
	}
	b.WriteByte('\n')
	for _, s := range d.Servers {
		b.WriteString("nameserver " + s.String() + "\n")
	}
	if len(d.Search) > 0 {
		b.WriteString("search " + strings.Join(d.Search, " ") + "\n")
	}
	if len(d.Options) > 0 {
		b.WriteString("options " + strings.Join(d.Options, " ") + "\n")
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
		if old, err := os.ReadFile(path); err == nil && string(old) == b.String() {
			return false, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, err
	}
	tmp := path + ".paroodise.tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return false, err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return false, err
	}
	return true, nil
}
