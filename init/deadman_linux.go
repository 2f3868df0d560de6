package pid1

import (
	"time"
)

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
