package netcfg

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/paroodise/paroodise/cli"
)

// Main is `paroodise netcfg`: show, capture and apply network states.
func Main(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise netcfg", "show [FILE] | capture FILE | apply [flags] FILE",
		"Show the live or a captured network configuration, capture it to FILE, or apply FILE.\n"+
			"Run 'paroodise netcfg SUBCOMMAND -h' for the flags of each.")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return cli.Usagef("netcfg: missing subcommand (show, capture, apply)")
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	switch sub {
	case "show":
		return runShow(stdio, rest)
	case "capture":
		return runCapture(stdio, rest)
	case "apply":
		return runApply(stdio, rest)
	}
	return cli.Usagef("netcfg: unknown subcommand %q (want show, capture, apply)", sub)
}

func runShow(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise netcfg show", "[-json] [FILE]",
		"Print the live network configuration, or the one captured in FILE.")
	asJSON := fs.Bool("json", false, "print the JSON document instead of text")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return cli.Usagef("netcfg show: at most one FILE")
	}
	var s *State
	var err error
	if fs.NArg() == 1 {
		s, err = Load(fs.Arg(0))
	} else {
		s, err = Capture()
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdio.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	return s.WriteText(stdio.Stdout)
}

func runCapture(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise netcfg capture", "FILE",
		"Capture the live network configuration into FILE (a JSON document).")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("netcfg capture: want exactly one FILE")
	}
	s, err := Capture()
	if err != nil {
		return err
	}
	return s.Save(fs.Arg(0))
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runApply(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise netcfg apply", "[flags] FILE",
		"Apply the network configuration captured in FILE to this machine; print what changed.")
	resolv := fs.String("resolv-conf", ResolvConf, "write the DNS servers here (empty: leave DNS alone)")
	fallback := fs.Bool("dhcp-fallback", false, "run DHCPv4 on links whose captured gateway does not answer")
	kernel := fs.Bool("kernel-ip", false, "let ip= parameters of /proc/cmdline override FILE")
	check := fs.Bool("check", false, "after applying, probe the default gateways (ARP/NDP)")
	target := fs.String("target", "", "with -check, also connect to this `host:port`")
	var nets multiFlag
	fs.Var(&nets, "net", "static override `spec` taking precedence, e.g. dev=eth0,addr=203.0.113.5/32,gw=172.31.1.1 (repeatable)")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return cli.Usagef("netcfg apply: want exactly one FILE")
	}
	var overrides []Static
	for _, n := range nets {
		o, err := ParseStatic(n)
		if err != nil {
			return cli.Usagef("%v", err)
		}
		overrides = append(overrides, o)
	}
	s, err := Load(fs.Arg(0))
	if err != nil {
		return err
	}
	if *kernel {
		b, err := os.ReadFile("/proc/cmdline")
		if err != nil {
			return err
		}
		if err := s.OverrideKernel(string(b)); err != nil {
			return err
		}
	}
	for _, o := range overrides {
		if err := s.Override(o); err != nil {
			return err
		}
	}
	rep := Apply(s, ApplyOptions{ResolvConf: *resolv, DHCPFallback: *fallback})
	fmt.Fprint(stdio.Stdout, rep)
	fmt.Fprintf(stdio.Stdout, "%d changed, %d items\n", rep.Changed(), len(rep.Items))
	if *check {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		fmt.Fprintln(stdio.Stdout, Check(ctx, *target))
	}
	if rep.Err() == nil {
		return nil
	}
	// Each failure is a line of the report above; stderr gets one line.
	failed := 0
	for _, it := range rep.Items {
		if it.Action == ActionFailed {
			failed++
		}
	}
	return fmt.Errorf("%d of %d items failed (marked failed above); the rest was applied", failed, len(rep.Items))
}
