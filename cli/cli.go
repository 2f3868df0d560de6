// Package cli holds what every paroodise command shares: its standard
// streams, flag parsing with -h, and exit codes carried by errors.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// IO is a command's standard streams, so tests can run commands in-process.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// OS returns the process's own streams.
func OS() IO { return IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr} }

// ExitError makes a command exit with Code; Err (if any) is printed first.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// Usagef reports bad command-line input: exit status 2, as flag does.
func Usagef(format string, args ...any) error {
	return &ExitError{Code: 2, Err: fmt.Errorf(format, args...)}
}

// ErrHelp means -h was given and usage was printed; the command succeeds.
var ErrHelp = flag.ErrHelp

// NewFlagSet returns a flag set that reports errors instead of exiting and
// prints "usage: NAME ARGS" and SUMMARY before the flags on -h.
func NewFlagSet(stdio IO, name, args, summary string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdio.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s\n%s\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args; a bad flag becomes exit status 2, -h becomes ErrHelp.
func Parse(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	// flag has already printed the problem and the usage.
	return &ExitError{Code: 2}
}

// Code maps a command's error to its exit status and prints it as one line.
func Code(stdio IO, name string, err error) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	code := 1
	var ee *ExitError
	if errors.As(err, &ee) {
		code = ee.Code
		if ee.Err == nil {
			return code
		}
	}
	fmt.Fprintf(stdio.Stderr, "%s: %v\n", name, err)
	return code
}

// Version is stamped in at build time with -ldflags -X.
var Version = "dev"
