package pid1

import (
	"fmt"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// network brings the network up from the handoff state.
func (i *Init) network() {
	if i.NetworkUp == nil {
		i.update(func(s *Status) { s.Network.State = "skipped" })
		return
	}
	i.netMu.Lock()
	defer i.netMu.Unlock()
	ns := i.NetworkUp(i.ctx, i.State, i.Log.Printf)
	i.update(func(s *Status) { s.Network = ns })
}

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

// armDeadMan reboots into the untouched old system unless a login
// reaches the new server within State.ConfirmWithin.
func (i *Init) armDeadMan() {
	d := i.State.ConfirmWithin.Duration
	if d <= 0 {
		return
	}
	deadline := i.State.StartedAt.Add(d)
	if i.State.StartedAt.IsZero() || time.Until(deadline) > d {
		deadline = time.Now().Add(d)
	}
	i.update(func(s *Status) { s.DeadMan = DeadManStatus{State: DeadManArmed, Deadline: deadline} })
	i.Log.Printf("dead-man armed: reboot into the old system at %s unless someone logs in", deadline.Format(time.RFC3339))
	i.goSafe("dead-man", func() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-i.login:
			i.update(func(s *Status) { s.DeadMan.State = DeadManDisarmed })
			i.Log.Printf("dead-man disarmed by the first login")
		case <-t.C:
			i.update(func(s *Status) { s.DeadMan.State = DeadManFired })
			i.Shutdown(OpReboot, "dead-man: no login within "+d.String())
		case <-i.ctx.Done():
		}
	})
}

// Shutdown starts a reboot, poweroff or halt once; later calls are
// logged and ignored. It returns at once.
func (i *Init) Shutdown(op, why string) {
	first := false
	i.downOne.Do(func() { first = true })
	if !first {
		i.Log.Printf("%s (%s): already shutting down", op, why)
		return
	}
	i.update(func(s *Status) { s.ShuttingDown = op })
	go i.shutdown(op, why)
}

// shutdown stops every process, releases the old root, syncs and calls
// reboot(2). It never returns: if reboot(2) fails PID 1 stays alive.
func (i *Init) shutdown(op, why string) {
	defer func() {
		if r := recover(); r != nil {
			i.Log.Printf("PANIC during %s: %v", op, r)
		}
		i.finalReboot(op)
	}()
	i.Log.Printf("%s: %s", op, why)
	i.cancel()
	killAll(i.Log.Printf, procRoot, nil, 5*time.Second)
	unmountDisks(procRoot, i.Unmount, i.RemountRO, i.Log.Printf)
	i.syncBounded(30 * time.Second)
}

func (i *Init) finalReboot(op string) {
	cmd := map[string]int{
		OpReboot:   unix.LINUX_REBOOT_CMD_RESTART,
		OpPoweroff: unix.LINUX_REBOOT_CMD_POWER_OFF,
		OpHalt:     unix.LINUX_REBOOT_CMD_HALT,
	}[op]
	i.Log.Printf("%s now", op)
	i.Log.Flush(2 * time.Second) // the last lines, on the console
	if err := i.Reboot(cmd); err != nil {
		i.Log.Printf("%s failed: %v; staying up", op, err)
	}
	select {}
}

// syncBounded calls sync(2) but gives up waiting after d: a hung disk
// must not keep the machine from rebooting.
func (i *Init) syncBounded(d time.Duration) {
	done := make(chan struct{})
	go func() {
		i.Sync()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		i.Log.Printf("sync still running after %s; going on", d)
	}
}

// release frees the old root, sparing the admin's session; after the first
// login it goes again without sparing anyone.
func (i *Init) release() {
	i.update(func(s *Status) { s.OldRoot.State = RootReleasing })
	st := i.Release.Release(true)
	i.setRoot(st)
	// Old network daemons are gone now; whatever they removed is put back.
	i.network()
	// Processes killed a moment ago, by us or by the old init, hold the
	// disk until they are gone: look again a few times.
	for try := 0; st.State == RootBusy && try < 5; try++ {
		select {
		case <-time.After(2 * time.Second):
		case <-i.login:
			try = 5
			continue
		case <-i.ctx.Done():
			return
		}
		st = i.Release.Release(true)
		i.setRoot(st)
	}
	if len(st.Spared) == 0 && st.State == RootReleased {
		return
	}
	select {
	case <-i.login:
	case <-i.ctx.Done():
		return
	}
	i.Log.Printf("first login: releasing the old root without sparing the old session")
	i.setRoot(i.Release.Release(false))
}

func (i *Init) setRoot(st RootStatus) {
	i.update(func(s *Status) { s.OldRoot = st })
	i.Log.Printf("old root %s: %s, disk free: %t", st.Path, st.State, st.DiskFree)
	for _, e := range st.Errors {
		i.Log.Printf("  %s", e)
	}
	for _, h := range st.Holders {
		i.Log.Printf("  held by pid %d (%s): %s", h.Pid, h.Comm, strings.Join(h.How, ","))
	}
}
