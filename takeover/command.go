package takeover

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/handoff"
)

const summary = `Hand this running server over to paroodise: copy the binary, the SSH host and
authorized keys and the network configuration into a tmpfs, make it the root,
and have PID 1 re-execute into paroodise, which then releases the disk.
The plan is printed before anything changes; --dry-run stops there.`

// DefaultConfirmWithin is the dead-man deadline unless --confirm-within.
const DefaultConfirmWithin = 10 * time.Minute

// Run is `paroodise takeover`.
func Run(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise takeover", "[flags]", summary)
	dryRun := fs.Bool("dry-run", false, "print the plan and stop; change nothing")
	method := fs.String("method", MethodAuto, "how PID 1 is handed over: auto, reexec, soft-reboot (systemd >= 254) or telinit (sysvinit)")
	confirm := fs.Duration("confirm-within", DefaultConfirmWithin, "reboot into the untouched old system unless someone logs in to the new server within this time (0: never)")
	netSpec := fs.String("net", "", "network settings overriding the captured ones, e.g. dev=eth0,addr=203.0.113.5/24,gw=203.0.113.1,dns=1.1.1.1")
	listen := fs.String("listen", ":22", "comma-separated addresses the new SSH server listens on")
	wait := fs.Duration("wait", 3*time.Minute, "how long to wait for the new PID 1 to answer")
	reach := fs.String("reach", "", "`HOST:PORT` the new PID 1 connects to, besides probing the gateways, to prove the network (shown by status and at login)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	if !slices.Contains([]string{MethodAuto, MethodReexec, MethodSoftReboot, MethodTelinit}, *method) {
		return cli.Usagef("--method %q: want auto, reexec, soft-reboot or telinit", *method)
	}
	if *confirm < 0 {
		return cli.Usagef("--confirm-within %s: must not be negative", *confirm)
	}
	addrs, err := parseListen(*listen)
	if err != nil {
		return cli.Usagef("--listen: %v", err)
	}
	if *reach != "" {
		if host, port, err := net.SplitHostPort(*reach); err != nil || host == "" || port == "" {
			return cli.Usagef("--reach %q: want HOST:PORT", *reach)
		}
	}
	env := SystemEnv()
	if env.UID != 0 {
		return errNotRoot
	}
	p, err := Preflight(env, Options{Method: *method, ConfirmWithin: *confirm, Net: *netSpec, Listen: addrs, Reach: *reach})
	if err != nil {
		return err
	}
	p.Render(stdio.Stdout)
	if err := p.Err(); err != nil {
		return err
	}
	if *dryRun {
		fmt.Fprintln(stdio.Stdout, "dry run: nothing was changed")
		return nil
	}
	return Execute(stdio, p, *wait)
}

func parseListen(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ",") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(a); err != nil || port == "" {
			return nil, fmt.Errorf("%q is not HOST:PORT or :PORT", a)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no address")
	}
	return out, nil
}

// State is the hand-off document for init, written into the new root.
func (p *Plan) State(now time.Time) *handoff.State {
	st := &handoff.State{
		Method:         p.Method,
		OldInit:        p.Init.Text,
		StartedAt:      now,
		ConfirmWithin:  handoff.Duration{Duration: p.Options.ConfirmWithin},
		AuthorizedKeys: []string{AuthorizedKeysNew},
		Listen:         p.Options.Listen,
		SparePIDs:      p.Spare,
		ReachHost:      p.Options.Reach,
	}
	if st.OldInit == "" {
		st.OldInit = p.Init.Kind
	}
	if len(st.Listen) == 0 {
		st.Listen = []string{":22"}
	}
	for _, k := range p.HostKeys {
		st.HostKeys = append(st.HostKeys, HostKeyDir+"/"+baseName(k.Path))
	}
	if p.Network != nil {
		st.Network = NetworkFile
	}
	if p.Method != MethodSoftReboot {
		st.OldRoot = OldRoot
	}
	// The device, so init can tell whether the disk is free even when the
	// old init unmounted the old root itself (soft-reboot). A "0:N" device
	// (overlay, tmpfs) names no block device.
	switch {
	case p.Disk.RootMajMin != "" && !strings.HasPrefix(p.Disk.RootMajMin, "0:"):
		st.OldRootDevice = p.Disk.RootMajMin
	case strings.HasPrefix(p.Disk.RootSource, "/dev/"):
		st.OldRootDevice = p.Disk.RootSource
	}
	return st
}

func baseName(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// SSHCommand is what the admin types to reach the new server: the address
// this session came in on and the new server's port.
func (p *Plan) SSHCommand() string {
	host := p.SSHHost
	if host == "" {
		host = "THIS-SERVER"
	}
	port := "22"
	if len(p.Options.Listen) > 0 {
		if _, pt, err := net.SplitHostPort(p.Options.Listen[0]); err == nil {
			port = pt
		}
	}
	if port == "22" {
		return "ssh root@" + host
	}
	return fmt.Sprintf("ssh -p %s root@%s", port, host)
}
