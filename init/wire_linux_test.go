package pid1

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/paroodise/paroodise/netcfg"
)

func TestLoadNetworkKernelIPTakesPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "net.json")
	captured := &netcfg.State{Version: netcfg.Version, Links: []netcfg.Link{{
		Name: "eth0", Kind: "device", MAC: "52:54:00:12:34:56", Up: true, AcceptRA: -1,
		Addrs: []netcfg.Addr{{Prefix: netip.MustParsePrefix("10.0.2.15/24")}},
	}}}
	if err := captured.Save(path); err != nil {
		t.Fatal(err)
	}

	ns, err := loadNetwork(path, "root=LABEL=vmroot ro")
	if err != nil || ns == nil || ns.Link("eth0").Addrs[0].Prefix.String() != "10.0.2.15/24" {
		t.Fatalf("captured only: %+v, %v", ns, err)
	}
	ns, err = loadNetwork(path, "quiet ip=192.0.2.7::192.0.2.1:255.255.255.0::eth0:off")
	if err != nil {
		t.Fatal(err)
	}
	addrs := ns.Link("eth0").Addrs
	if len(addrs) != 1 || addrs[0].Prefix.String() != "192.0.2.7/24" {
		t.Fatalf("ip= did not replace the captured address: %+v", addrs)
	}
	if _, err := loadNetwork(path, "ip=garbage:::::::::::::"); err == nil {
		t.Fatal("a malformed ip= was accepted")
	}
	for _, cmdline := range []string{"root=/dev/vda1", "root=/dev/vda1 ip=off"} {
		if ns, err := loadNetwork("", cmdline); ns != nil || err != nil {
			t.Fatalf("%q: nothing to apply: %+v, %v", cmdline, ns, err)
		}
	}
}
