package multicall

import (
	"fmt"

	"github.com/paroodise/paroodise/cli"
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
		{Name: "takeover", Summary: "hand this running server over to paroodise, in RAM", Run: takeover.Run},
		{Name: "sshd", Summary: "serve SSH with the host's keys (standalone)", Run: sshd.Run},
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
