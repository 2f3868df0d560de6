package pid1

import (
	"fmt"
	"time"
)

// superviseSSH keeps the SSH server running: it is the only way in.
func (i *Init) superviseSSH() {
	if i.ServeSSH == nil {
		i.update(func(s *Status) { s.SSH.LastError = "no SSH server in this build" })
		return
	}
	cfg := SSHConfig{
		Listen:              i.State.Listen,
		HostKeyFiles:        i.State.HostKeys,
		AuthorizedKeysFiles: i.State.AuthorizedKeys,
		Shell:               Shell,
		Banner:              func() string { return i.Status().Banner() },
		OnLogin:             i.loggedIn,
		Logf:                i.Log.Printf,
	}
	backoff := time.Second
	for {
		i.update(func(s *Status) { s.SSH.Running = true })
		start := time.Now()
		err := i.serveSSHOnce(cfg)
		if i.ctx.Err() != nil {
			i.update(func(s *Status) { s.SSH.Running = false })
			return
		}
		if time.Since(start) > time.Minute {
			backoff = time.Second
		}
		msg := "returned"
		if err != nil {
			msg = err.Error()
		}
		i.Log.Printf("ssh server stopped (%s); restarting in %s", msg, backoff)
		i.update(func(s *Status) {
			s.SSH.Running = false
			s.SSH.Restarts++
			s.SSH.LastError = msg
		})
		select {
		case <-time.After(backoff):
		case <-i.ctx.Done():
			return
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// serveSSHOnce runs the server once; a panic in it becomes an error so
// that the supervisor restarts it instead of the machine rebooting.
func (i *Init) serveSSHOnce(cfg SSHConfig) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = panicError{r}
		}
	}()
	return i.ServeSSH(i.ctx, cfg)
}

type panicError struct{ v any }

func (p panicError) Error() string { return fmt.Sprintf("panic: %v", p.v) }

// loggedIn is the SSH server's OnLogin: the first login disarms the
// dead-man and ends the grace of the admin's old session.
func (i *Init) loggedIn(user, fingerprint, remote string) {
	i.Log.Printf("login: %s from %s with key %s", user, remote, fingerprint)
	i.update(func(s *Status) {
		s.SSH.Logins++
		if s.SSH.FirstLogin.IsZero() {
			s.SSH.FirstLogin = time.Now()
		}
	})
	i.loginOne.Do(func() { close(i.login) })
}
