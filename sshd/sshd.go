// Package sshd is paroodise's SSH server: after a takeover it is the only
// way into the machine, so it speaks to the admin's own ssh, scp and sftp
// with the host's own keys, and refuses everything a rescue session does
// not need (passwords, forwarding, agents, X11).
//
// It is built on github.com/gliderlabs/ssh for the connection plumbing,
// but owns the "session" channel itself: the library's session rewrites
// "\n" to "\r\n" on PTY output (breaking raw-mode programs), accepts every
// env request, and blocks its request loop on window changes.
package sshd

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	glssh "github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Config configures the server. The zero value serves :22 with the host's
// OpenSSH host keys and root's authorized keys.
type Config struct {
	// Listen are TCP addresses to serve, e.g. ":22". An address that
	// cannot be bound yet (the old sshd still holds it) is retried every
	// BindRetry while the others serve. Default [":22"] unless Listeners
	// is set.
	Listen []string
	// Listeners are already-open listeners to serve as well; Serve
	// closes them when it returns.
	Listeners []net.Listener

	// HostKeyFiles are private host key files. Default: whichever of
	// DefaultHostKeyFiles exist. When none loads, an ed25519 key kept in
	// StateDir is used (and generated the first time).
	HostKeyFiles []string
	// AuthorizedKeysFiles are read on every login attempt, so keys can be
	// added while the server runs. Default: DefaultAuthorizedKeysFiles for
	// the user the server runs as, with SSHDConfig.
	AuthorizedKeysFiles []string
	// SSHDConfig is the sshd_config consulted for AuthorizedKeysFile when
	// AuthorizedKeysFiles is nil. Default /etc/ssh/sshd_config.
	SSHDConfig string
	// StateDir keeps the generated host key. Default /var/lib/paroodise.
	StateDir string

	// Users are the login names accepted; every session runs as the
	// server's own user whatever the name. Default: that user's name.
	Users []string
	// Shell runs interactive sessions (as a login shell) and exec
	// requests (Shell -c COMMAND). Default /bin/sh.
	Shell string
	// Env is the base environment of sessions (NAME=value); it overrides
	// the default PATH. HOME, USER, LOGNAME, SHELL, TERM and SSH_* are
	// always set by the server.
	Env []string
	// AcceptEnv are the name patterns a client may send (SendEnv).
	// Default DefaultAcceptEnv. LD_* and the like are refused regardless.
	AcceptEnv []string

	// Banner, if set, is called for each interactive login and its text is
	// shown before the shell starts.
	Banner func() string
	// OnLogin, if set, is called after each successful authentication
	// with the login name, the key's SHA256 fingerprint and the client's
	// address. It runs inside the handshake and must not block.
	OnLogin func(user, fingerprint, remote string)
	// Logf logs logins, sessions and refusals. Default log.Printf.
	Logf func(format string, args ...any)

	// HandshakeTimeout bounds the time from TCP connect to login
	// (default 60s); IdleTimeout closes connections with no traffic at
	// all (default 10m; keepalives count as traffic).
	HandshakeTimeout, IdleTimeout time.Duration
	// KeepaliveInterval is how often the server probes the client
	// (default 15s); after KeepaliveMax unanswered probes (default 4) the
	// connection is dropped (its sessions end as when a client vanishes).
	KeepaliveInterval time.Duration
	KeepaliveMax      int
	// MaxUnauthenticated caps connections not yet logged in (default 128)
	// and MaxUnauthenticatedPerSource caps them per client address
	// (default 32, room for parallel tools like ansible or pssh). MaxAuthFailures (default 10) failed connections from
	// one address within FailureWindow (default 5m) make the server refuse
	// that address until the window passes. MaxAuthTries caps the keys
	// tried on one connection (default 6).
	MaxUnauthenticated          int
	MaxUnauthenticatedPerSource int
	MaxAuthFailures             int
	FailureWindow               time.Duration
	MaxAuthTries                int
	// BindRetry is the pause between attempts to bind a Listen address
	// (default 1s).
	BindRetry time.Duration
}

// DefaultPath is the PATH of sessions unless Config.Env sets one.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Server is a configured SSH server.
type Server struct {
	cfg      Config
	user     string // the account sessions run as
	uid      string
	home     string
	users    map[string]bool
	logf     func(string, ...any)
	preauth  *limitedLog // for what peers can cause before logging in
	gate     *gate
	hostKeys []gossh.Signer
	glider   *glssh.Server
}

// Serve runs a server with cfg until ctx is done, then closes every
// listener and connection and returns nil. It fails only when the server
// cannot start at all (no host key).
func Serve(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	return s.Serve(ctx)
}

// New checks cfg, fills in the defaults and loads the host keys.
func New(cfg Config) (*Server, error) {
	s := &Server{cfg: cfg, logf: cfg.Logf}
	if s.logf == nil {
		s.logf = log.Printf
	}
	c := &s.cfg
	if len(c.Listen) == 0 && len(c.Listeners) == 0 {
		c.Listen = []string{":22"}
	}
	if c.SSHDConfig == "" {
		c.SSHDConfig = "/etc/ssh/sshd_config"
	}
	if c.StateDir == "" {
		c.StateDir = "/var/lib/paroodise"
	}
	if c.Shell == "" {
		c.Shell = "/bin/sh"
	}
	if c.AcceptEnv == nil {
		c.AcceptEnv = DefaultAcceptEnv
	}
	setDefault(&c.HandshakeTimeout, 60*time.Second)
	setDefault(&c.IdleTimeout, 10*time.Minute)
	setDefault(&c.KeepaliveInterval, 15*time.Second)
	setDefault(&c.KeepaliveMax, 4)
	setDefault(&c.MaxUnauthenticated, 128)
	setDefault(&c.MaxUnauthenticatedPerSource, 32)
	setDefault(&c.MaxAuthFailures, 10)
	setDefault(&c.FailureWindow, 5*time.Minute)
	setDefault(&c.MaxAuthTries, 6)
	setDefault(&c.BindRetry, time.Second)

	s.user, s.uid, s.home = whoAmI()
	if c.AuthorizedKeysFiles == nil {
		c.AuthorizedKeysFiles = DefaultAuthorizedKeysFiles(c.SSHDConfig, s.user, s.uid, s.home)
	}
	if len(c.Users) == 0 {
		c.Users = []string{s.user}
	}
	s.users = map[string]bool{}
	for _, u := range c.Users {
		s.users[u] = true
	}

	files, optional := c.HostKeyFiles, false
	if files == nil {
		files, optional = DefaultHostKeyFiles, true
	}
	keys, err := loadHostKeys(files, optional, c.StateDir, s.logf)
	if err != nil {
		return nil, fmt.Errorf("sshd: %w", err)
	}
	s.hostKeys = keys
	s.preauth = &limitedLog{out: s.logf, burst: 50, period: 10 * time.Second}
	s.gate = newGate(c.MaxUnauthenticated, c.MaxUnauthenticatedPerSource, c.MaxAuthFailures, c.FailureWindow)
	s.glider = s.newGlider()
	if n := len(s.authorizedKeys(s.logf)); n == 0 {
		s.logf("warning: no authorized keys in %v: nobody can log in until one is added", c.AuthorizedKeysFiles)
	} else {
		s.logf("%d authorized keys in %v", n, c.AuthorizedKeysFiles)
	}
	return s, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// whoAmI names the account the server runs as. /etc/passwd may be absent
// in a fresh root, so uid 0 falls back to root and /root.
func whoAmI() (name, uid, home string) {
	uid = strconv.Itoa(os.Getuid())
	if u, err := user.LookupId(uid); err == nil {
		return u.Username, uid, u.HomeDir
	}
	if uid == "0" {
		return "root", uid, "/root"
	}
	return uid, uid, "/"
}

// Serve serves every configured address and listener until ctx is done.
func (s *Server) Serve(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ln := range s.cfg.Listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.logf("listening on %s", ln.Addr())
			if err := s.accept(ctx, ln); err != nil {
				s.logf("listener %s stopped: %v", ln.Addr(), err)
			}
		}()
	}
	for _, addr := range s.cfg.Listen {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.listenLoop(ctx, addr)
		}()
	}
	<-ctx.Done()
	wg.Wait()
	// Every listener is closed now; this closes the connections.
	if err := s.glider.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		s.logf("close: %v", err)
	}
	return nil
}

// listenLoop binds addr, retrying every BindRetry while it is taken (the
// old sshd holds :22 for a while after a takeover), and serves it; if
// serving fails it binds again.
func (s *Server) listenLoop(ctx context.Context, addr string) {
	var lastLogged time.Time
	for ctx.Err() == nil {
		var lc net.ListenConfig
		ln, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			if time.Since(lastLogged) > time.Minute {
				s.logf("listen %s: %v (retrying every %s)", addr, err, s.cfg.BindRetry)
				lastLogged = time.Now()
			}
			sleepCtx(ctx, s.cfg.BindRetry)
			continue
		}
		s.logf("listening on %s", ln.Addr())
		lastLogged = time.Time{}
		if err := s.accept(ctx, ln); err != nil {
			s.logf("listener %s stopped: %v", addr, err)
			sleepCtx(ctx, s.cfg.BindRetry)
		}
	}
}

// accept serves ln until ctx is done (then it returns nil) or ln is
// closed under it. Other accept errors, such as running out of file
// descriptors, are waited out rather than spun on.
func (s *Server) accept(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if ctx.Err() != nil {
			if c != nil {
				c.Close()
			}
			return nil
		}
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		if err != nil {
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.preauth.logf("accept on %s: %v", ln.Addr(), err)
			sleepCtx(ctx, delay)
			continue
		}
		delay = 0
		go s.handleConn(c)
	}
}

// handleConn serves one connection; a panic ends that connection only,
// never the server, which may be PID 1.
func (s *Server) handleConn(c net.Conn) {
	defer s.recovered("connection from "+c.RemoteAddr().String(), func() { c.Close() })
	s.glider.HandleConn(c)
}

// recovered, deferred, turns a panic into a log line with the stack and
// runs cleanup.
func (s *Server) recovered(what string, cleanup func()) {
	if r := recover(); r != nil {
		s.logf("panic in %s: %v\n%s", what, r, debug.Stack())
		if cleanup != nil {
			cleanup()
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
