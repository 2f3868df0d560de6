// Package shell is the rescue shell: a POSIX shell (mvdan.cc/sh) with line
// editing and history on a terminal, whose children are started through
// the reaper so it works unchanged under PID 1, and which falls back to the
// built-in toolbox for commands missing from PATH.
package shell

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/paroodise/paroodise/cli"
)

// DefaultPath is PATH when the environment has none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

const usage = `usage: sh [-eufx] [-o OPTION] [-c COMMAND [NAME [ARG...]] | -s [ARG...] | FILE [ARG...]]
The rescue shell: a POSIX shell with line editing and history. With no
COMMAND or FILE it reads commands from stdin, interactively on a terminal.
  -c COMMAND  run COMMAND; NAME becomes $0 and ARGs $1...
  -s          read commands from stdin even when arguments are given
  -i          interactive even when stdin is not a terminal
  -l          login shell (accepted; no profile files are read, so a broken
              profile on the old system cannot lock anyone out)
  -e -u -f -x -o OPTION  set shell options as the set builtin does
`

// options is the parsed command line.
type options struct {
	command     *string // -c
	file        string
	params      []string
	setOpts     []string // for interp.Params, e.g. "-e", "-o", "pipefail"
	stdin       bool
	interactive bool
	name        string // $0
}

func parseArgs(args []string) (*options, error) {
	o := &options{name: "sh"}
	cmdMode := false
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			args = args[1:]
			break
		}
		if a == "--help" {
			return nil, cli.ErrHelp
		}
		if len(a) < 2 || (a[0] != '-' && a[0] != '+') {
			break
		}
		args = args[1:]
		for _, c := range a[1:] {
			switch c {
			case 'h':
				return nil, cli.ErrHelp
			case 'c':
				cmdMode = true
			case 's':
				o.stdin = true
			case 'i':
				o.interactive = true
			case 'l':
			case 'e', 'u', 'f', 'x', 'n', 'a':
				o.setOpts = append(o.setOpts, string(a[0])+string(c))
			case 'o':
				if len(args) == 0 {
					return nil, cli.Usagef("-o needs an option name")
				}
				o.setOpts = append(o.setOpts, string(a[0])+"o", args[0])
				args = args[1:]
			default:
				return nil, cli.Usagef("invalid option %q", string(a[0])+string(c))
			}
		}
	}
	switch {
	case cmdMode:
		if len(args) == 0 {
			return nil, cli.Usagef("-c needs a command")
		}
		o.command = &args[0]
		if len(args) > 1 {
			o.name = args[1]
			o.params = args[2:]
		}
	case !o.stdin && len(args) > 0:
		o.file, o.name, o.params = args[0], args[0], args[1:]
	default:
		o.params = args
	}
	return o, nil
}

// Run is the sh command.
func Run(stdio cli.IO, args []string) error {
	o, err := parseArgs(args)
	if errors.Is(err, cli.ErrHelp) {
		fmt.Fprint(stdio.Stderr, usage)
		return err
	}
	if err != nil {
		return err
	}
	s := newShell(stdio)
	s.catch = true
	defer s.stopSignals()
	status := s.run(o)
	if sig := s.signaled(); sig != 0 {
		s.stopSignals()
		die(sig)
	}
	if status != 0 {
		return &cli.ExitError{Code: status}
	}
	return nil
}

// shell is one shell process's state.
type shell struct {
	stdio  cli.IO
	runner *interp.Runner

	mu       sync.Mutex
	children map[*os.Process]bool
	cancel   context.CancelFunc // of the statement now running
	sig      syscall.Signal     // fatal signal received, or 0
	// interactive: a command killed by SIGINT abandons the line, as the
	// shell's own ^C would.
	interactive bool
	// catch is whether the shell handles signals; tests run shells
	// in-process without.
	catch       bool
	stopSig     func()
	restoreTerm func() // puts the terminal back in cooked mode, if raw
}

func newShell(stdio cli.IO) *shell {
	return &shell{stdio: stdio, children: map[*os.Process]bool{}, stopSig: func() {}}
}

func (s *shell) stopSignals() { s.stopSig() }

func (s *shell) signaled() syscall.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sig
}

// run runs the shell and returns its exit status.
func (s *shell) run(o *options) int {
	env := os.Environ()
	if os.Getenv("PATH") == "" {
		env = append(env, "PATH="+DefaultPath)
	}
	stdin := s.stdio.Stdin
	if _, isFile := stdin.(*os.File); !isFile && o.command == nil && o.file == "" {
		// The script comes from stdin. interp would copy a stdin that is
		// not a file into a pipe for the commands, racing the parser for
		// the script's bytes, so the commands get no stdin instead.
		stdin = nil
	}
	var err error
	s.runner, err = interp.New(
		interp.StdIO(stdin, s.stdio.Stdout, s.stdio.Stderr),
		interp.Env(expand.ListEnviron(env...)),
		interp.ExecHandlers(func(interp.ExecHandlerFunc) interp.ExecHandlerFunc { return s.exec }),
		interp.CallHandler(s.callHandler),
		interp.Params(append(append(o.setOpts, "--"), o.params...)...),
	)
	if err != nil {
		fmt.Fprintf(s.stdio.Stderr, "sh: %v\n", err)
		return 2
	}
	switch {
	case o.command != nil:
		s.handleSignals(false)
		return s.runScript(strings.NewReader(*o.command), o.name)
	case o.file != "":
		f, err := os.Open(o.file)
		if err != nil {
			fmt.Fprintf(s.stdio.Stderr, "sh: %v\n", err)
			return 127
		}
		defer f.Close()
		s.handleSignals(false)
		return s.runScript(f, o.name)
	}
	if t, ok := terminalOf(s.stdio); ok || o.interactive {
		s.interactive = true
		s.handleSignals(true)
		if ok {
			return s.readTerminal(t)
		}
	} else {
		s.handleSignals(false)
	}
	return s.stream(s.stdio.Stdin)
}

// runScript parses all of r and runs it as one file named name ($0).
func (s *shell) runScript(r io.Reader, name string) int {
	file, err := syntax.NewParser().Parse(r, name)
	if err != nil {
		fmt.Fprintf(s.stdio.Stderr, "sh: %v\n", err)
		return 2
	}
	return s.status(s.runner.Run(s.statementContext(), file))
}

// stream runs commands from a non-terminal stdin as they arrive, so a
// controller can feed a shell over a pipe.
func (s *shell) stream(r io.Reader) int {
	parser := syntax.NewParser()
	last := 0
	for stmts, err := range parser.InteractiveSeq(r) {
		if err != nil {
			fmt.Fprintf(s.stdio.Stderr, "sh: %v\n", err)
			return 2
		}
		if parser.Incomplete() {
			continue
		}
		ctx := s.statementContext()
		for _, st := range stmts {
			err := s.runner.Run(ctx, st)
			last = s.status(err)
			if s.signaled() != 0 {
				return last
			}
			if errors.Is(err, context.Canceled) { // sh -i: ^C ends the line
				s.setStatus(last)
				break
			}
			if s.runner.Exited() {
				return last
			}
		}
	}
	return last
}

// statementContext returns the context for the statements of one input
// line, which an interrupt cancels. The previous line's context is left
// alone: background jobs started on it keep running.
func (s *shell) statementContext() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.cancel = cancel
	s.mu.Unlock()
	return ctx
}

// interrupt abandons the rest of the current line.
func (s *shell) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil {
		s.cancel()
	}
}

// status maps a Run result to an exit status.
func (s *shell) status(err error) int {
	if err == nil {
		return 0
	}
	var es interp.ExitStatus
	if errors.As(err, &es) {
		return int(es)
	}
	if errors.Is(err, context.Canceled) {
		if sig := s.signaled(); sig != 0 {
			return 128 + int(sig)
		}
		return 130
	}
	fmt.Fprintf(s.stdio.Stderr, "sh: %v\n", err)
	return 1
}
