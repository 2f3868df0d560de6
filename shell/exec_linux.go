package shell

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"

	"github.com/paroodise/paroodise/reaper"
	"github.com/paroodise/paroodise/toolbox"
)

// selfExe runs this binary even after its file was replaced or deleted;
// argv[0] then picks the toolbox command.
const selfExe = "/proc/self/exe"

// exec runs an external command. It replaces mvdan's default handler,
// which calls cmd.Start and cmd.Wait itself: under PID 1 the reaper would
// race it for the exit status.
func (s *shell) exec(ctx context.Context, args []string) error {
	hc := interp.HandlerCtx(ctx)
	path, status, err := lookPath(hc, args[0])
	if err != nil {
		fmt.Fprintf(hc.Stderr, "sh: %s: %v\n", args[0], err)
		return interp.ExitStatus(status)
	}
	cmd, err := s.start(func() *exec.Cmd {
		return &exec.Cmd{
			Path: path, Args: args, Env: execEnv(hc.Env), Dir: hc.Dir,
			Stdin: hc.Stdin, Stdout: hc.Stdout, Stderr: hc.Stderr,
		}
	})
	if errors.Is(err, syscall.ENOEXEC) {
		// A script without #!: POSIX says the shell runs it.
		cmd, err = s.start(func() *exec.Cmd {
			return &exec.Cmd{
				Path: selfExe, Args: append([]string{"sh", path}, args[1:]...), Env: execEnv(hc.Env), Dir: hc.Dir,
				Stdin: hc.Stdin, Stdout: hc.Stdout, Stderr: hc.Stderr,
			}
		})
	}
	if err != nil {
		fmt.Fprintf(hc.Stderr, "sh: %s: %v\n", args[0], unwrapExec(err))
		if errors.Is(err, fs.ErrPermission) {
			return interp.ExitStatus(126)
		}
		return interp.ExitStatus(127)
	}
	err = reaper.Wait(cmd)
	s.mu.Lock()
	delete(s.children, cmd.Process)
	s.mu.Unlock()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			if ws.Signal() == syscall.SIGINT && s.interactive {
				s.interrupt()
			}
			return interp.ExitStatus(128 + int(ws.Signal()))
		}
		return interp.ExitStatus(ee.ExitCode())
	}
	return err
}

// lookPath finds the program for name: a path as given, else the first in
// PATH, else this binary when name is a toolbox command. On failure it
// returns the shell's status for it: 127 not found, 126 not executable.
func lookPath(hc interp.HandlerContext, name string) (string, uint8, error) {
	if !strings.Contains(name, "/") {
		if path, err := interp.LookPathDir(hc.Dir, hc.Env, name); err == nil {
			return path, 0, nil
		}
		if toolbox.Has(name) {
			return selfExe, 0, nil
		}
		return "", 127, errors.New("command not found")
	}
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(hc.Dir, path)
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", 127, errors.New("no such file or directory")
	case err != nil:
		return "", 126, unwrapExec(err)
	case st.IsDir():
		return "", 126, errors.New("is a directory")
	case st.Mode()&0o111 == 0:
		return "", 126, errors.New("permission denied")
	}
	return path, 0, nil
}

// start starts a command made by newCmd through the reaper and records it
// for signal forwarding. A file just written by a concurrently forked
// child can fail with ETXTBSY for a moment, so that is retried briefly
// with a fresh command (a failed Start closes the command's pipes).
func (s *shell) start(newCmd func() *exec.Cmd) (*exec.Cmd, error) {
	for delay := time.Millisecond; ; delay *= 2 {
		cmd := newCmd()
		err := reaper.Start(cmd)
		if err == nil {
			s.mu.Lock()
			s.children[cmd.Process] = true
			s.mu.Unlock()
			return cmd, nil
		}
		if !errors.Is(err, syscall.ETXTBSY) || delay > 256*time.Millisecond {
			return nil, err
		}
		time.Sleep(delay)
	}
}

// unwrapExec drops the "fork/exec PATH:" prefix; the shell names the command.
func unwrapExec(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// execEnv is the exported variables, as a child's environment.
func execEnv(env expand.Environ) []string {
	var list []string
	env.Each(func(name string, vr expand.Variable) bool {
		if vr.Exported && vr.IsSet() {
			list = append(list, name+"="+vr.String())
		}
		return true
	})
	return list
}
