package sshd

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	glssh "github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"
)

// Extensions of the gossh.Permissions of an authenticated connection,
// filled from the authorized_keys line that let it in.
const (
	extCommand = "paroodise-command"
	extNoPty   = "paroodise-no-pty"
)

type ctxKey struct{}

// connState is what the server tracks about one TCP connection.
type connState struct {
	src      string // client IP, the unit of the limits
	remote   string // client ip:port, for logs
	authed   atomic.Bool
	release  func() // frees the unauthenticated slot
	deadline *time.Timer

	mu      sync.Mutex
	offered []string // fingerprints of keys offered and not accepted
}

func (s *Server) newGlider() *glssh.Server {
	signers := make([]glssh.Signer, len(s.hostKeys))
	for i, k := range s.hostKeys {
		signers[i] = k
	}
	return &glssh.Server{
		HostSigners: signers,
		Version:     "paroodise",
		IdleTimeout: s.cfg.IdleTimeout,
		// Set so that gliderlabs never falls back to NoClientAuth; the
		// keys are checked here and again, verified, in VerifiedPublicKeyCallback.
		PublicKeyHandler:     s.publicKeyOK,
		ConnCallback:         s.admit,
		ServerConfigCallback: s.serverConfig,
		ConnectionFailedCallback: func(c net.Conn, err error) {
			s.preauth.logf("connection from %s failed before login: %v", c.RemoteAddr(), err)
		},
		ChannelHandlers: map[string]glssh.ChannelHandler{
			"session": s.handleSession,
			"default": s.refuseChannel,
		},
		RequestHandlers: map[string]glssh.RequestHandler{
			"tcpip-forward":                   s.refuseRequest,
			"streamlocal-forward@openssh.com": s.refuseRequest,
		},
	}
}

// admit applies the connection limits before the handshake starts.
func (s *Server) admit(ctx glssh.Context, c net.Conn) net.Conn {
	ip := addrIP(c.RemoteAddr())
	src := c.RemoteAddr().String()
	if ip != nil {
		src = ip.String()
	}
	release, refusal := s.gate.admit(src, time.Now())
	if refusal != "" {
		s.preauth.logf("refused connection from %s: %s", c.RemoteAddr(), refusal)
		return nil
	}
	st := &connState{src: src, remote: c.RemoteAddr().String(), release: release}
	st.deadline = time.AfterFunc(s.cfg.HandshakeTimeout, func() {
		if !st.authed.Load() {
			s.preauth.logf("connection from %s: no login within %s, closing", st.remote, s.cfg.HandshakeTimeout)
			c.Close()
		}
	})
	ctx.SetValue(ctxKey{}, st)
	return &trackedConn{Conn: c, srv: s, st: st}
}

// trackedConn settles the connection's account with the gate when it ends.
type trackedConn struct {
	net.Conn
	srv  *Server
	st   *connState
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		st := c.st
		st.deadline.Stop()
		if !st.authed.Load() {
			c.srv.gate.failed(st.src, time.Now())
			st.mu.Lock()
			if len(st.offered) > 0 {
				c.srv.preauth.logf("login refused from %s: none of the offered keys is authorized (%s)", st.remote, strings.Join(st.offered, ", "))
			}
			st.mu.Unlock()
		}
		st.release()
	})
	return c.Conn.Close()
}

func stateOf(ctx glssh.Context) *connState {
	st, _ := ctx.Value(ctxKey{}).(*connState)
	return st
}

// ciphers leaves out chacha20-poly1305: OpenSSH clients pick it first
// when offered, and x/crypto's chacha20 has no assembly on amd64, so it
// halves throughput. AES-GCM and AES-CTR use AES-NI; every client since
// OpenSSH 6.2 has GCM and every client at all has CTR.
var ciphers = []string{
	gossh.CipherAES128GCM, gossh.CipherAES256GCM,
	gossh.CipherAES128CTR, gossh.CipherAES192CTR, gossh.CipherAES256CTR,
}

// serverConfig is the per-connection x/crypto configuration: public keys
// only, a bounded number of tries, and the verified-key hook that carries
// the options of the authorized_keys line that let the client in.
func (s *Server) serverConfig(ctx glssh.Context) *gossh.ServerConfig {
	return &gossh.ServerConfig{
		Config:       gossh.Config{Ciphers: ciphers},
		MaxAuthTries: s.cfg.MaxAuthTries,
		VerifiedPublicKeyCallback: func(meta gossh.ConnMetadata, key gossh.PublicKey, _ *gossh.Permissions, _ string) (*gossh.Permissions, error) {
			return s.loggedIn(ctx, meta, key)
		},
	}
}

// publicKeyOK answers whether key may log in; it is asked before the
// client proves it holds the key, so it only decides.
func (s *Server) publicKeyOK(ctx glssh.Context, key glssh.PublicKey) bool {
	fp := gossh.FingerprintSHA256(key)
	_, err := s.match(ctx.User(), ctx.RemoteAddr(), key, s.preauth.logf)
	if err != nil {
		if st := stateOf(ctx); st != nil {
			st.mu.Lock()
			if len(st.offered) < 16 {
				st.offered = append(st.offered, fp)
			}
			st.mu.Unlock()
		}
		if !isUnknownKey(err) {
			s.preauth.logf("refused key %s for %q from %s: %v", fp, ctx.User(), ctx.RemoteAddr(), err)
		}
		return false
	}
	return true
}

type unknownKeyError struct{}

func (unknownKeyError) Error() string { return "not in any authorized_keys file" }

func isUnknownKey(err error) bool { _, ok := err.(unknownKeyError); return ok }

// match finds the authorized key entry that lets user in from addr;
// problems in the files go to logf.
func (s *Server) match(user string, addr net.Addr, key gossh.PublicKey, logf func(string, ...any)) (*AuthorizedKey, error) {
	if !s.users[user] {
		return nil, fmt.Errorf("user %q is not accepted (only %s)", user, strings.Join(s.cfg.Users, ", "))
	}
	var lastErr error = unknownKeyError{}
	now := time.Now()
	for _, k := range s.authorizedKeys(logf) {
		if !glssh.KeysEqual(k.Key, key) {
			continue
		}
		if err := k.permits(addr, now); err != nil {
			lastErr = err
			continue
		}
		return &k, nil
	}
	return nil, lastErr
}

// authorizedKeys reads every authorized_keys file now, logging problems
// to logf unless it is nil (each login attempt logs them, so they are
// seen when they matter).
func (s *Server) authorizedKeys(logf func(string, ...any)) []AuthorizedKey {
	var all []AuthorizedKey
	for _, f := range s.cfg.AuthorizedKeysFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			if !os.IsNotExist(err) && logf != nil {
				logf("authorized keys: %v", err)
			}
			continue
		}
		keys, problems := ParseAuthorizedKeys(f, b)
		if logf != nil {
			for _, p := range problems {
				logf("authorized keys: %s", p)
			}
		}
		all = append(all, keys...)
	}
	return all
}

// loggedIn runs once the client has proven it holds an accepted key.
func (s *Server) loggedIn(ctx glssh.Context, meta gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
	k, err := s.match(meta.User(), meta.RemoteAddr(), key, nil)
	if err != nil {
		// The files changed between the offer and the signature.
		return nil, err
	}
	fp := gossh.FingerprintSHA256(key)
	perms := &gossh.Permissions{Extensions: map[string]string{}}
	if k.Command != "" {
		perms.Extensions[extCommand] = k.Command
	}
	if k.NoPty {
		perms.Extensions[extNoPty] = "1"
	}
	if st := stateOf(ctx); st != nil {
		st.authed.Store(true)
		st.deadline.Stop()
		st.release()
		s.gate.succeeded(st.src)
		go func() {
			defer s.recovered("keepalive of "+st.remote, nil)
			s.keepalive(ctx)
		}()
	}
	s.logf("login %s from %s with key %s %s (%s %q)", meta.User(), meta.RemoteAddr(), key.Type(), fp, k.Source, k.Comment)
	if s.cfg.OnLogin != nil {
		s.cfg.OnLogin(meta.User(), fp, meta.RemoteAddr().String())
	}
	return perms, nil
}

// keepalive probes the client so that a vanished peer is noticed and its
// connection closed, ending its sessions as hangup describes.
func (s *Server) keepalive(ctx glssh.Context) {
	t := time.NewTicker(s.cfg.KeepaliveInterval)
	defer t.Stop()
	var lastReply atomic.Int64
	lastReply.Store(time.Now().UnixNano())
	var inFlight atomic.Bool
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		conn, _ := ctx.Value(glssh.ContextKeyConn).(*gossh.ServerConn)
		if conn == nil {
			continue // handshake still finishing
		}
		silent := time.Since(time.Unix(0, lastReply.Load()))
		if silent > time.Duration(s.cfg.KeepaliveMax)*s.cfg.KeepaliveInterval {
			s.logf("connection from %s: no keepalive reply for %s, closing", conn.RemoteAddr(), silent.Round(time.Second))
			conn.Close()
			return
		}
		if inFlight.Swap(true) {
			continue
		}
		go func() {
			// Any reply, even a failure, proves the peer is alive.
			if _, _, err := conn.SendRequest("keepalive@openssh.com", true, nil); err == nil {
				lastReply.Store(time.Now().UnixNano())
			}
			inFlight.Store(false)
		}()
	}
}

func (s *Server) refuseChannel(_ *glssh.Server, conn *gossh.ServerConn, ch gossh.NewChannel, _ glssh.Context) {
	s.logf("refused %s channel from %s@%s: forwarding is not offered", ch.ChannelType(), conn.User(), conn.RemoteAddr())
	ch.Reject(gossh.Prohibited, "paroodise sshd offers sessions only")
}

func (s *Server) refuseRequest(ctx glssh.Context, _ *glssh.Server, req *gossh.Request) (bool, []byte) {
	s.logf("refused %s request from %s@%s: forwarding is not offered", req.Type, ctx.User(), ctx.RemoteAddr())
	return false, nil
}

// limitedLog passes at most burst lines per period, then says how many it
// dropped, so that peers who never log in cannot flood the log.
type limitedLog struct {
	out    func(string, ...any)
	burst  int
	period time.Duration

	mu      sync.Mutex
	start   time.Time
	n       int
	dropped int
}

func (l *limitedLog) logf(format string, args ...any) {
	l.mu.Lock()
	now := time.Now()
	dropped := 0
	if now.Sub(l.start) >= l.period {
		dropped = l.dropped
		l.start, l.n, l.dropped = now, 0, 0
	}
	pass := l.n < l.burst
	if pass {
		l.n++
	} else {
		l.dropped++
	}
	l.mu.Unlock()
	if dropped > 0 {
		l.out("%d more messages about connections without login were dropped", dropped)
	}
	if pass {
		l.out(format, args...)
	}
}
