package netcfg

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// WriteText prints s readably, in the manner of ip(8).
func (s *State) WriteText(w io.Writer) error {
	var b strings.Builder
	if !s.CapturedAt.IsZero() {
		fmt.Fprintf(&b, "captured %s (format version %d)\n", s.CapturedAt.Format("2006-01-02 15:04:05 MST"), s.Version)
	}
	for _, l := range s.Links {
		state := "down"
		if l.Up {
			state = "up"
		}
		fmt.Fprintf(&b, "%s: %s %s", l.Name, l.Kind, state)
		if l.MAC != "" {
			fmt.Fprintf(&b, " mac %s", l.MAC)
		}
		if l.MTU != 0 {
			fmt.Fprintf(&b, " mtu %d", l.MTU)
		}
		if l.VLAN != nil {
			fmt.Fprintf(&b, " vlan %d on %s", l.VLAN.ID, l.VLAN.Parent)
		}
		if l.AcceptRA >= 0 {
			fmt.Fprintf(&b, " accept_ra %d", l.AcceptRA)
		}
		if l.DHCP {
			b.WriteString(" dhcp")
		}
		b.WriteByte('\n')
		for _, a := range l.Addrs {
			fmt.Fprintf(&b, "    %s\n", a)
		}
	}
	if len(s.Routes) > 0 {
		b.WriteString("routes:\n")
		for _, r := range s.Routes {
			fmt.Fprintf(&b, "    %s\n", r)
		}
	}
	if len(s.Rules) > 0 {
		b.WriteString("rules:\n")
		for _, r := range s.Rules {
			fmt.Fprintf(&b, "    %s\n", r)
		}
	}
	if len(s.DNS.Servers) > 0 || len(s.DNS.Search) > 0 {
		b.WriteString("dns:")
		for _, a := range s.DNS.Servers {
			b.WriteString(" " + a.String())
		}
		if len(s.DNS.Search) > 0 {
			b.WriteString(" search " + strings.Join(s.DNS.Search, " "))
		}
		if s.DNS.Source != "" {
			b.WriteString(" (from " + s.DNS.Source + ")")
		}
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// String formats a like ip-address(8).
func (a Addr) String() string {
	var b strings.Builder
	b.WriteString(a.Prefix.String())
	if a.Peer.IsValid() {
		b.WriteString(" peer " + a.Peer.String())
	}
	if a.Broadcast.IsValid() {
		b.WriteString(" brd " + a.Broadcast.String())
	}
	if a.Scope != "" {
		b.WriteString(" scope " + a.Scope)
	}
	for _, f := range a.Flags {
		b.WriteString(" " + f)
	}
	if a.Label != "" {
		b.WriteString(" label " + a.Label)
	}
	b.WriteString(" valid_lft " + a.ValidLft.String() + " preferred_lft " + a.PreferredLft.String())
	return b.String()
}

// String formats r like ip-route(8).
func (r Route) String() string {
	var b strings.Builder
	if r.Type != "" {
		b.WriteString(r.Type + " ")
	}
	if r.Dst.Bits() == 0 {
		b.WriteString("default")
	} else {
		b.WriteString(r.Dst.String())
	}
	if r.Gateway.IsValid() {
		b.WriteString(" via " + r.Gateway.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	for _, nh := range r.Nexthops {
		b.WriteString(" nexthop")
		if nh.Gateway.IsValid() {
			b.WriteString(" via " + nh.Gateway.String())
		}
		if nh.Dev != "" {
			b.WriteString(" dev " + nh.Dev)
		}
		if nh.Weight > 1 {
			b.WriteString(" weight " + strconv.Itoa(nh.Weight))
		}
		if nh.OnLink {
			b.WriteString(" onlink")
		}
	}
	if r.Table != 0 && r.Table != MainTable {
		b.WriteString(" table " + strconv.Itoa(r.Table))
	}
	if r.Protocol != "" {
		b.WriteString(" proto " + r.Protocol)
	}
	if r.Scope != "" {
		b.WriteString(" scope " + r.Scope)
	}
	if r.Src.IsValid() {
		b.WriteString(" src " + r.Src.String())
	}
	if r.Metric != 0 {
		b.WriteString(" metric " + strconv.Itoa(r.Metric))
	}
	if r.OnLink {
		b.WriteString(" onlink")
	}
	if r.MTU != 0 {
		b.WriteString(" mtu " + strconv.Itoa(r.MTU))
	}
	if r.AdvMSS != 0 {
		b.WriteString(" advmss " + strconv.Itoa(r.AdvMSS))
	}
	return b.String()
}

// String formats r like ip-rule(8).
func (r Rule) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(r.Priority) + ":")
	if r.IPv6 {
		b.WriteString(" inet6")
	}
	if r.Not {
		b.WriteString(" not")
	}
	if r.From.IsValid() {
		b.WriteString(" from " + r.From.String())
	} else {
		b.WriteString(" from all")
	}
	if r.To.IsValid() {
		b.WriteString(" to " + r.To.String())
	}
	if r.FwMark != 0 {
		b.WriteString(" fwmark 0x" + strconv.FormatUint(uint64(r.FwMark), 16))
		if r.FwMask != 0 {
			b.WriteString("/0x" + strconv.FormatUint(uint64(r.FwMask), 16))
		}
	}
	if r.IIF != "" {
		b.WriteString(" iif " + r.IIF)
	}
	if r.OIF != "" {
		b.WriteString(" oif " + r.OIF)
	}
	b.WriteString(" lookup " + strconv.Itoa(r.Table))
	if r.SuppressPrefixLen >= 0 {
		b.WriteString(" suppress_prefixlength " + strconv.Itoa(r.SuppressPrefixLen))
	}
	if r.Protocol != "" {
		b.WriteString(" proto " + r.Protocol)
	}
	return b.String()
}
