package pid1

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/paroodise/paroodise/handoff"
	"github.com/paroodise/paroodise/netcfg"
	"github.com/paroodise/paroodise/sshd"
)

// serveSSH runs the embedded SSH server.
func serveSSH(ctx context.Context, c SSHConfig) error {
	return sshd.Serve(ctx, sshd.Config{
		Listen:              c.Listen,
		HostKeyFiles:        c.HostKeyFiles,
		AuthorizedKeysFiles: c.AuthorizedKeysFiles,
		Shell:               c.Shell,
		Banner:              c.Banner,
		OnLogin:             c.OnLogin,
		Logf:                c.Logf,
		StateDir:            "/paroodise/sshd",
	})
}

// networkUp brings loopback up, applies the captured network (addresses
// made permanent, so that no lease expiry removes them once the old DHCP
// client is dead) and checks that the machine is reachable.
func networkUp(ctx context.Context, st *handoff.State, logf func(string, ...any)) NetStatus {
	if lo, err := netlink.LinkByName("lo"); err != nil {
		logf("loopback: %v", err)
	} else if err := netlink.LinkSetUp(lo); err != nil {
		logf("loopback up: %v", err)
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	ns, err := loadNetwork(st.Network, string(cmdline))
	if err != nil {
		return NetStatus{State: "failed", Detail: err.Error()}
	}
	if ns == nil {
		return NetStatus{State: "skipped", Detail: "no captured network and no ip= parameter: left as it is"}
	}
	rep := netcfg.Apply(ns, netcfg.ApplyOptions{ResolvConf: "/etc/resolv.conf", DHCPFallback: true, Logf: logf})
	out := NetStatus{State: "applied", Detail: fmt.Sprintf("%d items, %d changed", len(rep.Items), rep.Changed())}
	if err := rep.Err(); err != nil {
		out.State = "failed"
		out.Detail += "; " + strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	r := netcfg.Check(cctx, st.ReachHost)
	ok := r.OK()
	out.Reachable, out.Reach = &ok, r.String()
	logf("network %s (%s); %s", out.State, out.Detail, out.Reach)
	return out
}

// loadNetwork returns the network to apply: the captured document, or the
// live state when there is none, with the kernel's ip= parameter taking
// precedence over either. Nil means there is nothing to apply.
func loadNetwork(path, cmdline string) (*netcfg.State, error) {
	kernel, err := netcfg.ParseKernelIP(cmdline)
	if err != nil {
		return nil, err
	}
	if path == "" && len(kernel) == 0 {
		return nil, nil
	}
	var ns *netcfg.State
	if path != "" {
		ns, err = netcfg.Load(path)
	} else {
		ns, err = netcfg.Capture()
	}
	if err != nil {
		return nil, err
	}
	if err := ns.OverrideKernel(cmdline); err != nil {
		return nil, err
	}
	return ns, nil
}
