// Package netcfg captures a server's network configuration as a versioned
// JSON document and applies it again, so that the machine stays reachable
// after the programs that configured it (networkd, dhclient, ifupdown) are
// gone. Capture runs in the old system before takeover; Apply runs in the
// new PID 1.
package netcfg

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paroodise/paroodise/internal/jsonfile"
)

// Version of the State document; Load refuses any other.
const Version = 1

// State is a captured network configuration.
type State struct {
	Version    int       `json:"version"`
	CapturedAt time.Time `json:"captured_at,omitzero"`
	Links      []Link    `json:"links"`
	// Routes of all tables except the local one, without the routes the
	// kernel derives from addresses on its own.
	Routes []Route `json:"routes,omitempty"`
	// Rules are the policy routing rules besides the kernel's defaults.
	Rules []Rule `json:"rules,omitempty"`
	DNS   DNS    `json:"dns,omitzero"`
}

// Link is one network interface and its addresses.
type Link struct {
	Name string `json:"name"`
	// Kind is "loopback", "device" (a NIC), or the rtnetlink kind of a
	// virtual link ("vlan", "bond", "bridge", "veth", ...). Apply matches
	// and creates only loopback, devices and VLANs; other kinds must exist.
	Kind string `json:"kind"`
	MAC  string `json:"mac,omitempty"`
	MTU  int    `json:"mtu,omitempty"`
	Up   bool   `json:"up"`
	VLAN *VLAN  `json:"vlan,omitempty"`
	// AcceptRA is net.ipv6.conf.NAME.accept_ra when captured, -1 if unknown.
	AcceptRA int `json:"accept_ra"`
	// DHCP asks Apply to obtain an IPv4 lease on this link (set by an
	// ip= or --net override asking for DHCP).
	DHCP  bool   `json:"dhcp,omitempty"`
	Addrs []Addr `json:"addrs,omitempty"`
}

// VLAN identifies an 802.1Q link by its parent and VLAN id.
type VLAN struct {
	Parent string `json:"parent"` // name of the parent link in this State
	ID     int    `json:"id"`
}

// Addr is one address on a link.
type Addr struct {
	// Prefix is the address and its prefix length, e.g. 203.0.113.5/32.
	Prefix    netip.Prefix `json:"prefix"`
	Peer      netip.Prefix `json:"peer,omitzero"`
	Broadcast netip.Addr   `json:"broadcast,omitzero"`
	Scope     string       `json:"scope,omitempty"` // "" is global; "link", "host", "site"
	// Flags the admin or a daemon chose (noprefixroute, nodad,
	// mngtmpaddr, home, optimistic); state the kernel sets is not kept.
	Flags []string `json:"flags,omitempty"`
	Label string   `json:"label,omitempty"` // only when not the link name
	// Lifetimes left when captured. Apply always sets forever: nobody
	// renews a lease once its client is gone.
	ValidLft     Lifetime `json:"valid_lft"`
	PreferredLft Lifetime `json:"preferred_lft"`
}

// Route is one route. Gateway may be of the other family than Dst: an
// IPv4 route via an IPv6 next hop (RTA_VIA).
type Route struct {
	Table    int          `json:"table,omitempty"` // 0 means main (254)
	Dst      netip.Prefix `json:"dst"`             // 0.0.0.0/0 or ::/0 for default
	Type     string       `json:"type,omitempty"`  // "" is unicast; blackhole, unreachable, prohibit, throw
	Dev      string       `json:"dev,omitempty"`   // a Link name in this State
	Gateway  netip.Addr   `json:"gateway,omitzero"`
	Src      netip.Addr   `json:"src,omitzero"`
	Metric   int          `json:"metric,omitempty"`
	Scope    string       `json:"scope,omitempty"`    // "" is global; "link", "host"
	Protocol string       `json:"protocol,omitempty"` // boot, static, dhcp, ra, or a number
	OnLink   bool         `json:"onlink,omitempty"`
	MTU      int          `json:"mtu,omitempty"`
	AdvMSS   int          `json:"advmss,omitempty"`
	Nexthops []Nexthop    `json:"nexthops,omitempty"` // multipath; Dev and Gateway unused then
}

// Nexthop is one path of a multipath route.
type Nexthop struct {
	Dev     string     `json:"dev,omitempty"`
	Gateway netip.Addr `json:"gateway,omitzero"`
	Weight  int        `json:"weight,omitempty"` // 1..256; 0 means 1
	OnLink  bool       `json:"onlink,omitempty"`
}

// Rule is a policy routing rule that looks up a table (ip-rule(8)); rules
// with other actions or selectors are not captured.
type Rule struct {
	IPv6     bool         `json:"ipv6,omitempty"`
	Priority int          `json:"priority"`
	Table    int          `json:"table"`
	From     netip.Prefix `json:"from,omitzero"`
	To       netip.Prefix `json:"to,omitzero"`
	IIF      string       `json:"iif,omitempty"`
	OIF      string       `json:"oif,omitempty"`
	FwMark   uint32       `json:"fwmark,omitempty"`
	FwMask   uint32       `json:"fwmask,omitempty"` // 0 means the kernel's default (all ones)
	Not      bool         `json:"not,omitempty"`
	// SuppressPrefixLen is -1 when unset.
	SuppressPrefixLen int    `json:"suppress_prefixlength"`
	Protocol          string `json:"protocol,omitempty"`
}

// DNS is the resolver configuration.
type DNS struct {
	Servers []netip.Addr `json:"servers,omitempty"`
	Search  []string     `json:"search,omitempty"`
	Options []string     `json:"options,omitempty"`
	// Source is the file the servers were read from.
	Source string `json:"source,omitempty"`
}

// Lifetime is an address lifetime in seconds, as the kernel reports it;
// Forever means no expiry. It reads and writes as "forever" or seconds.
type Lifetime uint32

// Forever is the kernel's infinite lifetime.
const Forever Lifetime = 0xffffffff

func (l Lifetime) String() string {
	if l == Forever {
		return "forever"
	}
	return strconv.FormatUint(uint64(l), 10) + "s"
}

func (l Lifetime) MarshalJSON() ([]byte, error) {
	if l == Forever {
		return []byte(`"forever"`), nil
	}
	return strconv.AppendUint(nil, uint64(l), 10), nil
}

func (l *Lifetime) UnmarshalJSON(b []byte) error {
	if string(b) == `"forever"` {
		*l = Forever
		return nil
	}
	v, err := strconv.ParseUint(string(b), 10, 32)
	if err != nil {
		return fmt.Errorf("lifetime %s: want \"forever\" or seconds", b)
	}
	*l = Lifetime(v)
	return nil
}

// MainTable is the routing table a Route with Table 0 belongs to.
const MainTable = 254

// Load reads and validates a State document.
func Load(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// Parse decodes and validates a State document.
func Parse(b []byte) (*State, error) {
	var s State
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("parse network state: %w", err)
	}
	if dec.More() {
		return nil, errors.New("parse network state: trailing data after the document")
	}
	if s.Version != Version {
		return nil, fmt.Errorf("network state version %d, this paroodise reads %d", s.Version, Version)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return &s, nil
}

// Save writes the document atomically (temporary file, then rename).
func (s *State) Save(path string) error {
	s.Version = Version
	return jsonfile.Save(path, s, 0o644, 0o755)
}

// Validate checks what Apply relies on: unique link names, routes and VLANs
// naming links of this State, valid addresses and families.
func (s *State) Validate() error {
	names := map[string]bool{}
	for _, l := range s.Links {
		if l.Name == "" {
			return errors.New("link without a name")
		}
		if names[l.Name] {
			return fmt.Errorf("link %q listed twice", l.Name)
		}
		names[l.Name] = true
		if l.MAC != "" {
			if _, err := net.ParseMAC(l.MAC); err != nil {
				return fmt.Errorf("link %s: %w", l.Name, err)
			}
		}
		if l.MTU < 0 {
			return fmt.Errorf("link %s: negative MTU %d", l.Name, l.MTU)
		}
		for _, a := range l.Addrs {
			if !a.Prefix.IsValid() {
				return fmt.Errorf("link %s: address without a valid prefix", l.Name)
			}
			if a.Peer.IsValid() && a.Peer.Addr().Is4() != a.Prefix.Addr().Is4() {
				return fmt.Errorf("link %s: address %s with a peer of the other family", l.Name, a.Prefix)
			}
			if _, ok := scopes[a.Scope]; !ok {
				return fmt.Errorf("link %s: address %s: unknown scope %q", l.Name, a.Prefix, a.Scope)
			}
			for _, f := range a.Flags {
				if _, ok := addrFlags[f]; !ok {
					return fmt.Errorf("link %s: address %s: unknown flag %q", l.Name, a.Prefix, f)
				}
			}
		}
	}
	for _, l := range s.Links {
		if l.VLAN == nil {
			continue
		}
		if !names[l.VLAN.Parent] || l.VLAN.Parent == l.Name {
			return fmt.Errorf("link %s: VLAN parent %q is not another link of this state", l.Name, l.VLAN.Parent)
		}
		if l.VLAN.ID < 0 || l.VLAN.ID > 4094 {
			return fmt.Errorf("link %s: VLAN id %d out of range 0-4094", l.Name, l.VLAN.ID)
		}
	}
	for i, r := range s.Routes {
		if err := r.validate(names); err != nil {
			return fmt.Errorf("route %d (%s): %w", i, r.Dst, err)
		}
	}
	for i, r := range s.Rules {
		if err := r.validate(); err != nil {
			return fmt.Errorf("rule %d (%s): %w", i, r, err)
		}
	}
	for _, a := range s.DNS.Servers {
		if !a.IsValid() {
			return errors.New("dns: invalid server address")
		}
	}
	return nil
}

func (r Route) validate(names map[string]bool) error {
	if !r.Dst.IsValid() {
		return errors.New("no valid destination")
	}
	if r.Dev != "" && !names[r.Dev] {
		return fmt.Errorf("dev %q is not a link of this state", r.Dev)
	}
	if _, ok := routeTypes[r.Type]; !ok {
		return fmt.Errorf("unknown type %q", r.Type)
	}
	if _, ok := scopes[r.Scope]; !ok {
		return fmt.Errorf("unknown scope %q", r.Scope)
	}
	if _, err := parseProtocol(r.Protocol); err != nil {
		return err
	}
	if r.Table < 0 || r.Metric < 0 || r.MTU < 0 || r.AdvMSS < 0 {
		return errors.New("negative table, metric, mtu or advmss")
	}
	if r.Src.IsValid() && r.Src.Is4() != r.Dst.Addr().Is4() {
		return errors.New("src of the other family")
	}
	// An IPv6 route cannot go via an IPv4 next hop.
	if r.Gateway.IsValid() && r.Gateway.Is4() && !r.Dst.Addr().Is4() {
		return errors.New("IPv6 destination via an IPv4 gateway")
	}
	for _, nh := range r.Nexthops {
		if nh.Dev != "" && !names[nh.Dev] {
			return fmt.Errorf("next hop dev %q is not a link of this state", nh.Dev)
		}
		if nh.Gateway.IsValid() && nh.Gateway.Is4() && !r.Dst.Addr().Is4() {
			return errors.New("IPv6 destination via an IPv4 next hop")
		}
		if nh.Weight < 0 || nh.Weight > 256 {
			return fmt.Errorf("next hop weight %d out of range 1-256", nh.Weight)
		}
	}
	if r.Type == "" && r.Dev == "" && !r.Gateway.IsValid() && len(r.Nexthops) == 0 {
		return errors.New("unicast route without dev, gateway or next hops")
	}
	return nil
}

func (r Rule) validate() error {
	for _, p := range []netip.Prefix{r.From, r.To} {
		if p.IsValid() && p.Addr().Is6() != r.IPv6 {
			return errors.New("selector of the other family")
		}
	}
	if r.Priority < 0 || r.Table <= 0 || r.SuppressPrefixLen < -1 || r.SuppressPrefixLen > 128 {
		return errors.New("priority, table or suppress_prefixlength out of range")
	}
	if r.FwMask != 0 && r.FwMark == 0 {
		return errors.New("fwmask without fwmark")
	}
	_, err := parseProtocol(r.Protocol)
	return err
}

// Link returns the link named name, or nil.
func (s *State) Link(name string) *Link {
	for i := range s.Links {
		if s.Links[i].Name == name {
			return &s.Links[i]
		}
	}
	return nil
}

// Names used in the document for kernel constants.
var (
	scopes     = map[string]uint8{"": 0, "site": 200, "link": 253, "host": 254}
	routeTypes = map[string]int{"": 1, "blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9}
	addrFlags  = map[string]uint32{
		"nodad": 0x02, "optimistic": 0x04, "home": 0x10,
		"mngtmpaddr": 0x100, "noprefixroute": 0x200,
	}
	protocols = map[string]int{"redirect": 1, "kernel": 2, "boot": 3, "static": 4, "ra": 9, "dhcp": 16}
)

func parseProtocol(s string) (int, error) {
	if s == "" {
		return 0, nil
	}
	if v, ok := protocols[s]; ok {
		return v, nil
	}
	v, err := strconv.ParseUint(s, 10, 8)
	if err != nil {
		return 0, fmt.Errorf("unknown protocol %q", s)
	}
	return int(v), nil
}

func protocolName(p int) string {
	for n, v := range protocols {
		if v == p {
			return n
		}
	}
	if p == 0 {
		return ""
	}
	return strconv.Itoa(p)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
