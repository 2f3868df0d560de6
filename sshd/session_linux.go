package sshd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	glssh "github.com/gliderlabs/ssh"
	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/reaper"
)

// Exit statuses the server itself reports, as OpenSSH and POSIX shells do.
const (
	exitNotFound      = 127 // the shell could not be found
	exitSignalBase    = 128 // 128+N: killed by signal N
	exitServerFailure = 255 // the server failed, not the command
)

// maxEnv bounds the env requests a session keeps.
const maxEnv = 64

// session is one "session" channel: at most one shell, exec or subsystem.
type session struct {
	srv   *Server
	conn  *gossh.ServerConn
	ch    gossh.Channel
	perms *gossh.Permissions
	id    string // for logs: user@remote

	// Only the request loop touches these.
	env     []string // accepted client env
	pty     *ptyRequest
	started bool

	mu     sync.Mutex
	cmd    *exec.Cmd // running child, for signals
	master *os.File  // PTY master while the child runs
	done   bool      // child has exited
}

type ptyRequest struct {
	Term          string
	Columns, Rows uint32
	Width, Height uint32
	Modes         string
}

type windowChange struct {
	Columns, Rows uint32
	Width, Height uint32
}

func (s *Server) handleSession(_ *glssh.Server, conn *gossh.ServerConn, nc gossh.NewChannel, _ glssh.Context) {
	ch, reqs, err := nc.Accept()
	if err != nil {
		s.logf("session from %s: accept: %v", conn.RemoteAddr(), err)
		return
	}
	defer s.recovered("session of "+conn.User()+"@"+conn.RemoteAddr().String(), func() { ch.Close() })
	sess := &session{
		srv: s, conn: conn, ch: ch, perms: conn.Permissions,
		id: conn.User() + "@" + conn.RemoteAddr().String(),
	}
	if sess.perms == nil {
		sess.perms = &gossh.Permissions{}
	}
	for req := range reqs {
		ok, then := sess.request(req)
		if req.WantReply {
			req.Reply(ok, nil)
		}
		if then != nil {
			// Output flows only once the client has its reply.
			go func() {
				defer s.recovered("session "+sess.id, func() { ch.Close() })
				then()
			}()
		}
	}
	// The client closed the channel or the connection went away: hang up
	// whatever still runs, as a terminal would.
	sess.hangup()
}

// request handles one channel request, says whether it succeeded and may
// return what to run once the reply is sent.
func (ss *session) request(req *gossh.Request) (bool, func()) {
	switch req.Type {
	case "shell", "exec", "subsystem":
		var arg struct{ Value string }
		if req.Type != "shell" && gossh.Unmarshal(req.Payload, &arg) != nil {
			return false, nil
		}
		if ss.started {
			return false, nil
		}
		ss.started = true
		return ss.start(req.Type, arg.Value)
	}
	return ss.setting(req), nil
}

// setting handles the requests that only change the session.
func (ss *session) setting(req *gossh.Request) bool {
	switch req.Type {
	case "env":
		var kv struct{ Name, Value string }
		if gossh.Unmarshal(req.Payload, &kv) != nil || ss.started || len(ss.env) >= maxEnv {
			return false
		}
		if !acceptEnv(ss.srv.cfg.AcceptEnv, kv.Name, kv.Value) {
			ss.srv.logf("session %s: refused env %s", ss.id, kv.Name)
			return false
		}
		ss.env = append(ss.env, kv.Name+"="+kv.Value)
		return true
	case "pty-req":
		var p ptyRequest
		if gossh.Unmarshal(req.Payload, &p) != nil || ss.started || ss.pty != nil {
			return false
		}
		if ss.perms.Extensions[extNoPty] != "" {
			ss.srv.logf("session %s: refused pty: key has no-pty or restrict", ss.id)
			return false
		}
		ss.pty = &p
		return true
	case "window-change":
		var w windowChange
		if gossh.Unmarshal(req.Payload, &w) != nil || ss.pty == nil {
			return false
		}
		ss.pty.Columns, ss.pty.Rows, ss.pty.Width, ss.pty.Height = w.Columns, w.Rows, w.Width, w.Height
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if ss.master != nil {
			if err := setWinsize(ss.master, ss.pty); err != nil {
				ss.srv.logf("session %s: ioctl(TIOCSWINSZ): %v", ss.id, err)
			}
		}
		return true
	case "signal":
		var sig struct{ Name string }
		if gossh.Unmarshal(req.Payload, &sig) != nil {
			return false
		}
		return ss.signal(sig.Name)
	case "auth-agent-req@openssh.com", "x11-req":
		ss.srv.logf("session %s: refused %s: forwarding is not offered", ss.id, req.Type)
		return false
	default:
		return false
	}
}

// start begins what the client asked for and returns what carries its
// I/O. A child that cannot start is reported like a failed command: the
// reason on stderr and exit status 127 (not found) or 255.
func (ss *session) start(kind, arg string) (bool, func()) {
	forced := ss.perms.Extensions[extCommand]
	what := kind
	if arg != "" {
		what = fmt.Sprintf("%s %q", kind, arg)
	}
	if forced != "" {
		what += fmt.Sprintf(" (forced command %q)", forced)
	}
	if ss.pty != nil {
		what += fmt.Sprintf(" pty %s %dx%d", ss.pty.Term, ss.pty.Columns, ss.pty.Rows)
	}
	ss.srv.logf("session %s: %s", ss.id, what)

	if kind == "subsystem" && forced == "" {
		if arg != "sftp" {
			ss.srv.logf("session %s: refused subsystem %q", ss.id, arg)
			return false, func() { ss.ch.Close() }
		}
		return true, ss.serveSFTP
	}
	cmd := ss.command(kind, arg, forced)
	run, err := ss.startProcess(cmd, kind == "shell" && forced == "")
	if err != nil {
		ss.srv.logf("session %s: start %s: %v", ss.id, cmd.Path, err)
		code := exitServerFailure
		if errors.Is(err, fs.ErrNotExist) {
			code = exitNotFound
		}
		return true, func() { ss.fail(code, err) }
	}
	return true, run
}

// fail ends a session whose child never ran.
func (ss *session) fail(code int, err error) {
	msg := fmt.Sprintf("paroodise sshd: %v\n", err)
	if ss.pty != nil {
		msg = strings.ReplaceAll(msg, "\n", "\r\n")
	}
	io.WriteString(ss.ch.Stderr(), msg)
	ss.exit(code)
	ss.ch.CloseWrite()
	ss.ch.Close()
}

// command builds the child: a login shell for "shell", Shell -c for
// exec, and the key's forced command in place of either (with the
// client's request in SSH_ORIGINAL_COMMAND, as sshd does).
func (ss *session) command(kind, arg, forced string) *exec.Cmd {
	cfg := ss.srv.cfg
	var cmd *exec.Cmd
	switch {
	case forced != "":
		cmd = exec.Command(cfg.Shell, "-c", forced)
	case kind == "exec":
		cmd = exec.Command(cfg.Shell, "-c", arg)
	default:
		// -l rather than a "-sh" argv[0]: the multi-call binary picks
		// its command by argv[0] and would not know "-sh".
		cmd = exec.Command(cfg.Shell, "-l")
	}
	cmd.Env = ss.environ()
	if forced != "" && arg != "" {
		cmd.Env = append(cmd.Env, "SSH_ORIGINAL_COMMAND="+arg)
	}
	cmd.Dir = "/"
	if fi, err := os.Stat(ss.srv.home); err == nil && fi.IsDir() {
		cmd.Dir = ss.srv.home
	}
	return cmd
}

// environ is the child's environment: the base, the login variables, the
// SSH_* variables and the client's accepted env.
func (ss *session) environ() []string {
	s := ss.srv
	env := map[string]string{}
	var order []string
	set := func(kv string) {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := env[k]; !dup {
			order = append(order, k)
		}
		env[k] = v
	}
	set("PATH=" + DefaultPath)
	for _, kv := range s.cfg.Env {
		set(kv)
	}
	for _, kv := range ss.env {
		set(kv)
	}
	set("HOME=" + s.home)
	set("USER=" + s.user)
	set("LOGNAME=" + s.user)
	set("SHELL=" + s.cfg.Shell)
	rip, rport := hostPort(ss.conn.RemoteAddr())
	lip, lport := hostPort(ss.conn.LocalAddr())
	set(fmt.Sprintf("SSH_CLIENT=%s %s %s", rip, rport, lport))
	set(fmt.Sprintf("SSH_CONNECTION=%s %s %s %s", rip, rport, lip, lport))
	if ss.pty != nil && ss.pty.Term != "" {
		set("TERM=" + ss.pty.Term)
	}
	out := make([]string, 0, len(order)+1)
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out
}

func hostPort(a net.Addr) (string, string) {
	h, p, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String(), "0"
	}
	return h, p
}

// startProcess starts cmd through the reaper, on a new PTY or on pipes,
// and returns what carries its I/O and reports its exit. A login shell
// on a PTY is preceded by the banner.
func (ss *session) startProcess(cmd *exec.Cmd, login bool) (func(), error) {
	// Its own session: signals and hang-ups reach the whole job, and
	// nothing the child does reaches the server's process group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if ss.pty != nil {
		return ss.startPty(cmd, login)
	}
	return ss.startPipes(cmd)
}

func (ss *session) startPipes(cmd *exec.Cmd) (func(), error) {
	closeAll := func(fs ...*os.File) {
		for _, f := range fs {
			f.Close()
		}
	}
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW)
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(inR, inW, outR, outW)
		return nil, err
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = ss.launch(cmd, nil)
	closeAll(inR, outW, errW) // the child has its copies
	if err != nil {
		closeAll(inW, outR, errR)
		return nil, err
	}
	return func() {
		go func() {
			// stdin is not waited for: the client may never send EOF.
			io.Copy(inW, ss.ch)
			inW.Close()
		}()
		var out sync.WaitGroup
		out.Add(2)
		go func() { defer out.Done(); drain(ss.ch, outR) }()
		go func() { defer out.Done(); drain(ss.ch.Stderr(), errR) }()
		ss.finish(cmd, out.Wait)
	}, nil
}

// drain copies r to w, then closes r so that a writer whose client has
// gone gets EPIPE instead of blocking on a full pipe.
func drain(w io.Writer, r *os.File) {
	io.Copy(w, r)
	r.Close()
}

func (ss *session) startPty(cmd *exec.Cmd, login bool) (func(), error) {
	master, tty, err := openPty()
	if err != nil {
		return nil, err
	}
	applyModes(tty, ss.pty.Modes, func(format string, args ...any) {
		ss.srv.logf("session %s: "+format, append([]any{ss.id}, args...)...)
	})
	if err := setWinsize(master, ss.pty); err != nil {
		ss.srv.logf("session %s: ioctl(TIOCSWINSZ) on %s: %v", ss.id, tty.Name(), err)
	}
	cmd.Env = append(cmd.Env, "SSH_TTY="+tty.Name())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr.Setctty = true
	cmd.SysProcAttr.Ctty = 0 // fd 0 in the child
	var banner string
	if login && ss.srv.cfg.Banner != nil {
		// Straight to the client: the PTY's line discipline is not in
		// this path, so newlines are translated here.
		banner = strings.ReplaceAll(strings.ReplaceAll(ss.srv.cfg.Banner(), "\r\n", "\n"), "\n", "\r\n")
	}
	err = ss.launch(cmd, master)
	tty.Close()
	if err != nil {
		master.Close()
		return nil, err
	}
	return func() {
		output := make(chan struct{})
		go func() {
			io.WriteString(ss.ch, banner)
			// Ends with EIO once every holder of the tty has closed it.
			io.Copy(ss.ch, master)
			close(output)
		}()
		go io.Copy(master, ss.ch)
		ss.finish(cmd, func() {
			// After the shell exits, background jobs may still hold the
			// tty: give the output a moment, then hang them up.
			select {
			case <-output:
			case <-time.After(time.Second):
			}
			ss.mu.Lock()
			master.Close()
			ss.master = nil
			ss.mu.Unlock()
			<-output
		})
	}, nil
}

// launch starts cmd under the session lock so that signal and
// window-change requests see it at once.
func (ss *session) launch(cmd *exec.Cmd, master *os.File) error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if err := reaper.Start(cmd); err != nil {
		return err
	}
	ss.cmd, ss.master = cmd, master
	return nil
}

// finish waits for the child, then closes the channel in the order
// OpenSSH clients expect: exit-status, the remaining output, EOF, close.
func (ss *session) finish(cmd *exec.Cmd, outputDone func()) {
	start := time.Now()
	err := reaper.Wait(cmd)
	code := exitCode(err)
	ss.mu.Lock()
	ss.done = true
	ss.mu.Unlock()
	ss.exit(code)
	outputDone()
	ss.ch.CloseWrite()
	ss.ch.Close()
	ss.srv.logf("session %s: exit %d after %s", ss.id, code, time.Since(start).Round(time.Millisecond))
}

func (ss *session) exit(code int) {
	status := struct{ Status uint32 }{uint32(code)}
	ss.ch.SendRequest("exit-status", false, gossh.Marshal(&status))
}

// exitCode is the status a shell would report for err: the exit code,
// 128+N for signal N, 255 when the server could not wait.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return exitServerFailure
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return exitSignalBase + int(ws.Signal())
	}
	return ee.ExitCode()
}

// signals maps RFC 4254 signal names to Linux signals.
var signals = map[string]syscall.Signal{
	"ABRT": unix.SIGABRT, "ALRM": unix.SIGALRM, "FPE": unix.SIGFPE, "HUP": unix.SIGHUP,
	"ILL": unix.SIGILL, "INT": unix.SIGINT, "KILL": unix.SIGKILL, "PIPE": unix.SIGPIPE,
	"QUIT": unix.SIGQUIT, "SEGV": unix.SIGSEGV, "TERM": unix.SIGTERM, "USR1": unix.SIGUSR1,
	"USR2": unix.SIGUSR2,
}

// signal delivers a client's signal: to the terminal's foreground job
// under a PTY, else to the child's process group.
func (ss *session) signal(name string) bool {
	sig, ok := signals[name]
	if !ok {
		return false
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.cmd == nil || ss.done {
		return false
	}
	pgrp := ss.cmd.Process.Pid
	if ss.master != nil {
		if fg, err := foreground(ss.master); err == nil && fg > 0 {
			pgrp = fg
		}
	}
	if err := unix.Kill(-pgrp, sig); err != nil {
		ss.srv.logf("session %s: kill(-%d, %s): %v", ss.id, pgrp, name, err)
		return false
	}
	ss.srv.logf("session %s: signal %s delivered to process group %d", ss.id, name, pgrp)
	return true
}

// hangup runs when the channel is gone while the child may still run.
// Under a PTY the terminal is hung up: closing the master makes the
// kernel send SIGHUP, as when an OpenSSH client vanishes. Without one the
// child only sees its pipes close (EOF on stdin, EPIPE on output), again
// as under OpenSSH, so `ssh host 'job > log 2>&1'` survives a dropped
// connection.
func (ss *session) hangup() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.cmd == nil || ss.done {
		return
	}
	if ss.master == nil {
		ss.srv.logf("session %s: client gone; pid %d keeps running without its client", ss.id, ss.cmd.Process.Pid)
		return
	}
	ss.srv.logf("session %s: client gone, hanging up its terminal", ss.id)
	ss.master.Close()
	ss.master = nil
}

// serveSFTP serves the sftp subsystem in-process, from the user's home.
func (ss *session) serveSFTP() {
	start := time.Now()
	code := 0
	dir := "/"
	if fi, err := os.Stat(ss.srv.home); err == nil && fi.IsDir() {
		dir = ss.srv.home
	}
	server, err := sftp.NewServer(ss.ch, sftp.WithServerWorkingDirectory(dir))
	if err == nil {
		// Not server.Close: it would close the channel before exit-status.
		err = server.Serve()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		ss.srv.logf("session %s: sftp: %v", ss.id, err)
		code = exitServerFailure
	}
	ss.exit(code)
	ss.ch.CloseWrite()
	ss.ch.Close()
	ss.srv.logf("session %s: sftp ended after %s", ss.id, time.Since(start).Round(time.Millisecond))
}
