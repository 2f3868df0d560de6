package netcfg

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/paroodise/paroodise/internal/testutil"
	"github.com/vishvananda/netns"
)

// testNet is a pair of throwaway network namespaces: "host", the server
// under test, in which the test's goroutine runs (locked to its thread),
// and "provider", the far side of veth pairs, playing the hoster's router.
// Both are named so that ip(8) and dnsmasq can enter them with -n.
type testNet struct {
	t              *testing.T
	host, provider string
}

// newTestNet moves the calling test goroutine into a fresh host namespace
// until the test ends. Tests using it run in parallel: each has its own
// namespaces and its own locked thread.
func newTestNet(t *testing.T) *testNet {
	testutil.Root(t)
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs ip(8)")
	}
	t.Parallel()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("netns.Get: %v", err)
	}
	id := rand.Uint32()
	tn := &testNet{t: t, host: fmt.Sprintf("pdh%08x", id), provider: fmt.Sprintf("pdp%08x", id)}
	restore := func() {
		if err := netns.Set(orig); err != nil {
			// Keep the thread locked: it dies with the goroutine
			// instead of serving others from the wrong namespace.
			t.Errorf("restore network namespace: %v", err)
		} else {
			runtime.UnlockOSThread()
		}
		orig.Close()
		netns.DeleteNamed(tn.host)
		netns.DeleteNamed(tn.provider)
	}
	for _, name := range []string{tn.provider, tn.host} {
		// NewNamed also switches this thread into the new namespace.
		h, err := netns.NewNamed(name)
		if err != nil {
			restore()
			t.Fatalf("netns.NewNamed %s: %v", name, err)
		}
		h.Close()
	}
	t.Cleanup(restore)
	tn.ip("link set lo up")
	tn.pip("link set lo up")
	// Duplicate address detection costs seconds per link; tests that
	// exercise it turn it back on with withDAD.
	tn.sysctl("net/ipv6/conf/default/accept_dad", "0")
	return tn
}

// withDAD turns duplicate address detection on for links made after it.
func (tn *testNet) withDAD() { tn.sysctl("net/ipv6/conf/default/accept_dad", "1") }

// sysctl reads (value "") or writes a sysctl of the host namespace; /proc/sys/net
// belongs to the namespace of the thread that opens it.
func (tn *testNet) sysctl(name, value string) string {
	tn.t.Helper()
	p := "/proc/sys/" + name
	if value != "" {
		if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
			tn.t.Fatal(err)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil {
		tn.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// ip runs ip(8) in the host namespace; each line of cmds is one command.
func (tn *testNet) ip(cmds string) { tn.t.Helper(); tn.run(tn.host, cmds) }

// pip runs ip(8) in the provider namespace.
func (tn *testNet) pip(cmds string) { tn.t.Helper(); tn.run(tn.provider, cmds) }

func (tn *testNet) run(ns, cmds string) {
	tn.t.Helper()
	for line := range strings.SplitSeq(cmds, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		args := append([]string{"-n", ns}, strings.Fields(line)...)
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			tn.t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// veth connects host link name (with mac) to provider link peer; both up.
func (tn *testNet) veth(name, mac, peer string) {
	tn.t.Helper()
	tn.ip(fmt.Sprintf("link add %s address %s type veth peer name %s netns %s", name, mac, peer, tn.provider))
	tn.ip("link set " + name + " up")
	tn.pip("link set " + peer + " up")
}

// waitDAD waits until no host address is tentative any more.
func (tn *testNet) waitDAD() {
	tn.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := exec.Command("ip", "-n", tn.host, "addr", "show", "tentative").CombinedOutput()
		if err != nil {
			tn.t.Fatalf("ip addr show tentative: %v\n%s", err, out)
		}
		if len(strings.TrimSpace(string(out))) == 0 {
			return
		}
	}
	tn.t.Fatal("addresses still tentative after 10s")
}

// listen opens a TCP listener inside the provider namespace.
func (tn *testNet) listen(addr string) net.Listener {
	tn.t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result)
	go func() {
		// This thread stays in the provider namespace and is never
		// unlocked, so it ends with the goroutine.
		runtime.LockOSThread()
		ns, err := netns.GetFromName(tn.provider)
		if err == nil {
			err = netns.Set(ns)
			ns.Close()
		}
		if err != nil {
			ch <- result{nil, err}
			return
		}
		l, err := net.Listen("tcp", addr)
		ch <- result{l, err}
	}()
	r := <-ch
	if r.err != nil {
		tn.t.Fatalf("listen in provider namespace: %v", r.err)
	}
	tn.t.Cleanup(func() { r.l.Close() })
	go func() {
		for {
			c, err := r.l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return r.l
}
