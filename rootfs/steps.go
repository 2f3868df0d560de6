package rootfs

import (
	"fmt"
	"io"
	"strings"
)

// Step is one change to the running system. It says what it does, and
// Undo (when not nil) puts things back as they were before Do.
type Step struct {
	Name string
	Do   func() error
	Undo func() error
}

func (s Step) String() string { return s.Name }

// Runner runs steps in order, printing each, and remembers which are
// done so that a failure can be rolled back or described exactly.
type Runner struct {
	Out  io.Writer
	done []Step
}

// Run runs steps. When one fails, the steps already done are undone in
// reverse order and the error says what failed and in what state the
// machine was left.
func (r *Runner) Run(steps ...Step) error {
	for _, s := range steps {
		fmt.Fprintf(r.Out, "  - %s\n", s)
		if err := s.Do(); err != nil {
			fmt.Fprintf(r.Out, "    failed: %v\n", err)
			return r.fail(fmt.Errorf("%s: %w", s, err))
		}
		r.done = append(r.done, s)
	}
	return nil
}

// fail rolls back after err and returns err with the final state.
func (r *Runner) fail(err error) error {
	if uerr := r.Undo(); uerr != nil {
		return fmt.Errorf("%w; rolling back failed too: %v", err, uerr)
	}
	return fmt.Errorf("%w; every change was undone, the system is as before", err)
}

// Undo undoes the steps done so far, latest first. A step without Undo,
// or whose Undo fails, stops the roll-back there: what is undone and what
// still stands is then in the error.
func (r *Runner) Undo() error {
	for len(r.done) > 0 {
		s := r.done[len(r.done)-1]
		if s.Undo == nil {
			return fmt.Errorf("cannot undo %q; still in effect: %s", s, r.State())
		}
		fmt.Fprintf(r.Out, "  - undo: %s\n", s)
		if err := s.Undo(); err != nil {
			return fmt.Errorf("undo %q: %w; still in effect: %s", s, err, r.State())
		}
		r.done = r.done[:len(r.done)-1]
	}
	return nil
}

// State lists the steps in effect, oldest first.
func (r *Runner) State() string {
	if len(r.done) == 0 {
		return "nothing"
	}
	names := make([]string, len(r.done))
	for i, s := range r.done {
		names[i] = s.Name
	}
	return strings.Join(names, "; ")
}
