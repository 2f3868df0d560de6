package multicall

import (
	"fmt"

	"github.com/paroodise/paroodise/cli"
	pid1 "github.com/paroodise/paroodise/init"
	"github.com/paroodise/paroodise/netcfg"
	"github.com/paroodise/paroodise/shell"
	"github.com/paroodise/paroodise/sshd"
	"github.com/paroodise/paroodise/takeover"
)

// commands is the whole table; each package exposes a Main-shaped func.
var commands []Command

func init() {
	// Assigned in init so that help can refer to the table.
	commands = []Command{
		{Name: "help", Summary: "list the commands", Run: runHelp},
		{Name: "version", Summary: "print the version", Run: runVersion},
		{Name: "sh", Summary: "the rescue shell (POSIX sh with line editing and history)", Aliases: []string{"sh"}, Run: shell.Run},
		{Name: "netcfg", Summary: "show, capture or apply the network configuration", Run: netcfg.Main},
		{Name: "takeover", Summary: "hand this running server over to paroodise, in RAM", Run: takeover.Run},
		{Name: "sshd", Summary: "serve SSH with the host's keys (standalone)", Run: sshd.Run},
		{Name: "init", Summary: "run as PID 1 after a takeover (also as systemd, init)", Aliases: []string{"systemd", "init"}, Run: pid1.RunInit},
		{Name: "status", Summary: "show PID 1's state and whether the old disk is free", Run: pid1.RunStatus},
		{Name: "log", Summary: "print PID 1's log", Run: pid1.RunLog},
		{Name: "reboot", Summary: "stop everything, unmount, sync and reboot", Aliases: []string{"reboot"}, Run: pid1.RunReboot},
		{Name: "poweroff", Summary: "stop everything, unmount, sync and power off", Aliases: []string{"poweroff"}, Run: pid1.RunPoweroff},
	}
}

func runHelp(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise help", "", "List the commands.")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	usage(stdio)
	return nil
}

func runVersion(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "paroodise version", "", "Print the version.")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	fmt.Fprintf(stdio.Stdout, "paroodise %s\n", cli.Version)
	return nil
}
