// Package multicall routes a program name (argv[0]) or a subcommand to the
// paroodise command that implements it, so one static binary can be PID 1,
// the rescue shell and the admin's tool at once.
package multicall

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/paroodise/paroodise/cli"
)

// Command is one entry of the table.
type Command struct {
	Name    string
	Summary string
	// Aliases are argv[0] basenames that run this command directly.
	Aliases []string
	// Hidden commands are reached by alias or name but not listed by help.
	Hidden bool
	Run    func(stdio cli.IO, args []string) error
}

// Main runs the command named by argv[0] or by the first argument and exits.
func Main() {
	os.Exit(Run(cli.OS(), os.Args))
}

// Run dispatches argv and returns the exit status.
func Run(stdio cli.IO, argv []string) int {
	base := "paroodise"
	if len(argv) > 0 {
		base = filepath.Base(argv[0])
	}
	if c := lookupAlias(base); c != nil {
		return cli.Code(stdio, c.Name, c.Run(stdio, argv[1:]))
	}
	// As PID 1 under its own name (the kernel's init=…/paroodise, with no
	// arguments) only init makes sense: a PID 1 that exits takes the
	// machine down. Other names keep their meaning (init=/bin/sh).
	if isPID1() {
		c := lookup("init")
		return cli.Code(stdio, c.Name, c.Run(stdio, argv[1:]))
	}
	if len(argv) < 2 {
		usage(stdio)
		return 2
	}
	name := argv[1]
	switch name {
	case "-h", "-help", "--help":
		name = "help"
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stdio.Stderr, "paroodise: unknown command %q (see 'paroodise help')\n", name)
		return 2
	}
	return cli.Code(stdio, "paroodise "+c.Name, c.Run(stdio, argv[2:]))
}

// isPID1 is a seam: tests cannot be PID 1 in the host's namespace.
var isPID1 = func() bool { return os.Getpid() == 1 }

func lookup(name string) *Command {
	for i := range commands {
		if commands[i].Name == name {
			return &commands[i]
		}
	}
	return nil
}

func lookupAlias(base string) *Command {
	for i := range commands {
		for _, a := range commands[i].Aliases {
			if a == base {
				return &commands[i]
			}
		}
	}
	return nil
}

func usage(stdio cli.IO) {
	var b strings.Builder
	fmt.Fprintf(&b, "paroodise %s: re-image a running Linux server in place\n\nusage: paroodise COMMAND [flags]\n\ncommands:\n", cli.Version)
	names := make([]string, 0, len(commands))
	for _, c := range commands {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-9s %s\n", n, lookup(n).Summary)
	}
	b.WriteString("\nRun 'paroodise COMMAND -h' for a command's flags.\n")
	fmt.Fprint(stdio.Stdout, b.String())
}
