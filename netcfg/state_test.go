package netcfg

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sampleDoc = `{
  "version": 1,
  "captured_at": "2026-11-28T12:00:00Z",
  "links": [
    {"name": "lo", "kind": "loopback", "up": true, "accept_ra": 1},
    {"name": "eth0", "kind": "device", "mac": "52:54:00:00:00:01", "mtu": 1500, "up": true, "accept_ra": 0,
     "addrs": [
       {"prefix": "203.0.113.5/32", "valid_lft": 86300, "preferred_lft": 86300},
       {"prefix": "2001:db8::5/64", "flags": ["noprefixroute"], "valid_lft": "forever", "preferred_lft": "forever"}
     ]},
    {"name": "eth0.100", "kind": "vlan", "mac": "52:54:00:00:00:01", "up": true, "accept_ra": 0,
     "vlan": {"parent": "eth0", "id": 100}}
  ],
  "routes": [
    {"dst": "172.31.1.1/32", "dev": "eth0", "scope": "link", "protocol": "dhcp"},
    {"dst": "0.0.0.0/0", "dev": "eth0", "gateway": "172.31.1.1", "protocol": "dhcp", "metric": 100, "onlink": true},
    {"dst": "0.0.0.0/0", "dev": "eth0", "gateway": "fe80::1", "table": 100},
    {"dst": "::/0", "dev": "eth0", "gateway": "fe80::1", "protocol": "ra", "metric": 1024},
    {"dst": "10.0.0.0/8", "type": "blackhole"}
  ],
  "rules": [
    {"priority": 1000, "table": 100, "from": "203.0.113.5/32", "suppress_prefixlength": -1}
  ],
  "dns": {"servers": ["185.12.64.1", "2a01:4ff:ff00::add:1"], "search": ["example.com"], "source": "/run/systemd/resolve/resolv.conf"}
}`

func TestParseSaveLoad(t *testing.T) {
	s, err := Parse([]byte(sampleDoc))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Link("eth0").Addrs[0].ValidLft; got != 86300 {
		t.Errorf("valid_lft %d", got)
	}
	if got := s.Link("eth0").Addrs[1].ValidLft; got != Forever {
		t.Errorf("valid_lft %d, want forever", got)
	}
	if got := s.Routes[2].String(); got != "default via fe80::1 dev eth0 table 100" {
		t.Errorf("route %q", got)
	}
	path := filepath.Join(t.TempDir(), "sub", "net.json")
	if err := s.Save(path); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(s, l) {
		t.Errorf("round trip differs:\n%+v\n%+v", s, l)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
	var b strings.Builder
	if err := l.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"eth0: device up mac 52:54:00:00:00:01 mtu 1500 accept_ra 0",
		"203.0.113.5/32 valid_lft 86300s preferred_lft 86300s",
		"eth0.100: vlan up mac 52:54:00:00:00:01 vlan 100 on eth0",
		"default via 172.31.1.1 dev eth0 proto dhcp metric 100 onlink",
		"blackhole 10.0.0.0/8",
		"1000: from 203.0.113.5/32 lookup 100",
		"dns: 185.12.64.1 2a01:4ff:ff00::add:1 search example.com",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("show output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestParseRejects(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(sampleDoc, old) {
			t.Fatalf("sample lacks %q", old)
		}
		return strings.Replace(sampleDoc, old, new, 1)
	}
	for name, doc := range map[string]string{
		"version":       edit(`"version": 1`, `"version": 2`),
		"unknown field": edit(`"up": true, "accept_ra": 1`, `"up": true, "accept_ra": 1, "bogus": 1`),
		"trailing":      sampleDoc + "{}",
		"dup link":      edit(`"name": "eth0.100"`, `"name": "eth0"`),
		"vlan parent":   edit(`"parent": "eth0"`, `"parent": "eth9"`),
		"vlan id":       edit(`"id": 100`, `"id": 5000`),
		"route dev":     edit(`"dev": "eth0", "scope"`, `"dev": "eth7", "scope"`),
		"bad prefix":    edit(`"203.0.113.5/32"`, `"203.0.113.5"`),
		"bad mac":       edit(`"mac": "52:54:00:00:00:01", "mtu"`, `"mac": "zz", "mtu"`),
		"bad flag":      edit(`["noprefixroute"]`, `["permanent"]`),
		"bad lifetime":  edit(`"valid_lft": 86300`, `"valid_lft": "soon"`),
		"bad protocol":  edit(`"protocol": "ra"`, `"protocol": "magic"`),
		"bad type":      edit(`"type": "blackhole"`, `"type": "local"`),
		"v6 via v4":     edit(`"dst": "::/0", "dev": "eth0", "gateway": "fe80::1"`, `"dst": "::/0", "dev": "eth0", "gateway": "10.0.0.1"`),
		"no target":     edit(`"dst": "10.0.0.0/8", "type": "blackhole"`, `"dst": "10.0.0.0/8"`),
		"not json":      "version: 1",
		"rule family":   edit(`"from": "203.0.113.5/32"`, `"from": "2001:db8::/32"`),
		"rule table":    edit(`"priority": 1000, "table": 100`, `"priority": 1000, "table": 0`),
	} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("%s: Parse accepted it", name)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.json")); !os.IsNotExist(err) {
		t.Errorf("Load of a missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sampleDoc))
	f.Add([]byte(`{"version":1,"links":[]}`))
	f.Add([]byte(`{"version":1,"links":[{"name":"a","kind":"vlan","vlan":{"parent":"a","id":1}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(b)
		if err != nil {
			return
		}
		// What loads must save and load again to the same state.
		path := filepath.Join(t.TempDir(), "s.json")
		if err := s.Save(path); err != nil {
			t.Fatal(err)
		}
		again, err := Load(path)
		if err != nil {
			t.Fatalf("saved document does not load: %v", err)
		}
		s.CapturedAt, again.CapturedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("save/load changed the state:\n%+v\n%+v", s, again)
		}
	})
}
