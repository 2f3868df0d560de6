package pid1

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Status is what `paroodise status --json` prints and what the login
// banner summarises. Fields are only ever added, so scripts keep working.
type Status struct {
	Pid       int       `json:"pid"`
	Method    string    `json:"method"` // reexec, soft-reboot, telinit, kernel
	OldInit   string    `json:"old_init,omitempty"`
	Argv      []string  `json:"argv"`
	StartedAt time.Time `json:"started_at"`
	Now       time.Time `json:"now"`
	// FDsClosed counts the inherited descriptors closed at start.
	FDsClosed int `json:"fds_closed"`

	SSH     SSHStatus     `json:"ssh"`
	DeadMan DeadManStatus `json:"dead_man"`
	Network NetStatus     `json:"network"`
	OldRoot RootStatus    `json:"old_root"`
	// Flash is filled in by the flasher, when one is running.
	Flash string `json:"flash,omitempty"`
	// ShuttingDown is "reboot", "poweroff" or "halt" once one has begun.
	ShuttingDown string `json:"shutting_down,omitempty"`
}

// SSHStatus describes the supervised SSH server.
type SSHStatus struct {
	Listen []string `json:"listen"`
	// Listening are the TCP addresses PID 1 listens on right now, as the
	// kernel reports them (":22" shows once the old sshd has let go).
	Listening  []string  `json:"listening"`
	Running    bool      `json:"running"`
	Restarts   int       `json:"restarts"`
	LastError  string    `json:"last_error,omitempty"`
	Logins     int       `json:"logins"`
	FirstLogin time.Time `json:"first_login,omitzero"`
}

// Dead-man states.
const (
	DeadManOff      = "off"      // no deadline configured
	DeadManArmed    = "armed"    // reboots at Deadline unless someone logs in
	DeadManDisarmed = "disarmed" // a login reached the new server
	DeadManFired    = "fired"    // the deadline passed; rebooting
)

// DeadManStatus is the dead-man switch.
type DeadManStatus struct {
	State    string    `json:"state"`
	Deadline time.Time `json:"deadline,omitzero"`
}

// NetStatus is the outcome of bringing the network up.
type NetStatus struct {
	State string `json:"state"` // pending, skipped, applied, failed
	// Detail is netcfg's report in one or a few lines.
	Detail string `json:"detail,omitempty"`
	// Reachable is nil until a reachability check has run.
	Reachable *bool  `json:"reachable,omitempty"`
	Reach     string `json:"reach,omitempty"` // what was checked and how it went
}

// line is the one-line summary shown by status and the login banner.
func (n NetStatus) line() string {
	l := "network: " + n.State
	if n.Reachable != nil {
		l += fmt.Sprintf(", reachable: %t", *n.Reachable)
	}
	if n.Reach != "" {
		l += " (" + n.Reach + ")"
	}
	return l
}

// Old-root states.
const (
	RootNone      = "none"      // there is no old root (soft-reboot, kernel init)
	RootPending   = "pending"   // not released yet
	RootReleasing = "releasing" // stopping processes, unmounting
	RootBusy      = "busy"      // something still holds it; see Holders
	RootReleased  = "released"  // unmounted; the disks are free
)

// RootStatus says whether the old root disk is free, and what holds it.
type RootStatus struct {
	Path  string `json:"path,omitempty"`
	State string `json:"state"`
	// Mounted lists mount points still under Path (read-only ones marked).
	Mounted []string `json:"mounted,omitempty"`
	// Holders are processes keeping something under Path busy.
	Holders []Holder `json:"holders,omitempty"`
	// Spared are the admin's processes left alive until the first login.
	Spared []int `json:"spared,omitempty"`
	// SwapOff lists swap areas turned off; Stopped the dm/md devices removed.
	SwapOff []string `json:"swap_off,omitempty"`
	Stopped []string `json:"stopped,omitempty"`
	Disks   []Disk   `json:"disks,omitempty"`
	// DiskFree is true when every disk below the old root could be opened
	// exclusively: nothing mounts, maps or holds it any more.
	DiskFree bool     `json:"disk_free"`
	Errors   []string `json:"errors,omitempty"`
}

// Holder is a process that keeps a mount busy, and how.
type Holder struct {
	Pid  int    `json:"pid"`
	Comm string `json:"comm"`
	// How: cwd, root, exe, fd N, maps.
	How  []string `json:"how"`
	Path string   `json:"path"`
}

// Disk is one block device below the old root.
type Disk struct {
	Dev  string `json:"dev"` // /dev/vda
	Free bool   `json:"free"`
	// HeldBy names what still claims it (holders in /sys, or the open error).
	HeldBy []string `json:"held_by,omitempty"`
}

// WriteText prints s for people.
func (s *Status) WriteText(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	how := s.Method
	if s.OldInit != "" {
		how += " from " + s.OldInit
	}
	p("paroodise init: PID %d, started by %s at %s (up %s)", s.Pid, how,
		s.StartedAt.Format(time.RFC3339), s.Now.Sub(s.StartedAt).Round(time.Second))
	if s.ShuttingDown != "" {
		p("shutting down: %s", s.ShuttingDown)
	}
	ssh := "not running"
	if s.SSH.Running {
		ssh = "running"
	}
	listening := "nothing yet"
	if len(s.SSH.Listening) > 0 {
		listening = strings.Join(s.SSH.Listening, " ")
	}
	p("ssh: %s for %s, listening on %s, %d login(s), %d restart(s)", ssh, strings.Join(s.SSH.Listen, " "),
		listening, s.SSH.Logins, s.SSH.Restarts)
	if s.SSH.LastError != "" {
		p("  last error: %s", s.SSH.LastError)
	}
	p("dead-man: %s", s.DeadMan.Text(s.Now))
	p("%s", s.Network.line())
	if s.Network.Detail != "" {
		p("  %s", strings.ReplaceAll(s.Network.Detail, "\n", "\n  "))
	}
	r := s.OldRoot
	switch {
	case r.State == RootNone:
		p("old root: none")
	case r.Path == "":
		p("old root (unmounted by the old init): %s", r.State)
	default:
		p("old root %s: %s", r.Path, r.State)
	}
	for _, m := range r.Mounted {
		p("  still mounted: %s", m)
	}
	for _, h := range r.Holders {
		p("  held by pid %d (%s): %s %s", h.Pid, h.Comm, strings.Join(h.How, ","), h.Path)
	}
	if len(r.Spared) > 0 {
		p("  spared until the first login: %v", r.Spared)
	}
	for _, sw := range r.SwapOff {
		p("  swap off: %s", sw)
	}
	for _, d := range r.Stopped {
		p("  stopped: %s", d)
	}
	for _, e := range r.Errors {
		p("  error: %s", e)
	}
	for _, d := range r.Disks {
		if d.Free {
			p("disk %s: free", d.Dev)
		} else {
			p("disk %s: BUSY, held by %s", d.Dev, strings.Join(d.HeldBy, ", "))
		}
	}
	if len(r.Disks) > 0 {
		p("disk free: %t", r.DiskFree)
	}
	if s.Flash != "" {
		p("flash: %s", s.Flash)
	}
}

// Text describes the dead-man switch at time now.
func (d DeadManStatus) Text(now time.Time) string {
	if d.State == DeadManArmed {
		return fmt.Sprintf("armed: reboots into the old system at %s (in %s) unless someone logs in",
			d.Deadline.Format("15:04:05"), d.Deadline.Sub(now).Round(time.Second))
	}
	return d.State
}

// Banner is the short text shown at login.
func (s *Status) Banner() string {
	var b strings.Builder
	fmt.Fprintf(&b, "paroodise rescue system (PID 1 since %s, started by %s)\n", s.StartedAt.Format(time.RFC3339), s.Method)
	switch s.OldRoot.State {
	case RootNone:
		b.WriteString("old disk: not mounted\n")
	case RootReleased:
		b.WriteString("old disk: unmounted and free\n")
	default:
		fmt.Fprintf(&b, "old disk: %s still %s (see 'paroodise status')\n", s.OldRoot.Path, s.OldRoot.State)
	}
	b.WriteString(s.Network.line() + "\n")
	if s.Flash != "" {
		fmt.Fprintf(&b, "flash: %s\n", s.Flash)
	} else {
		b.WriteString("flash: none running\n")
	}
	if s.DeadMan.State == DeadManArmed {
		b.WriteString("dead-man: this login disarms the reboot into the old system\n")
	}
	return b.String()
}

// mergeRoot is the old root's status after another release pass: each
// pass reports what it did, and status keeps what earlier passes did too
// (the swap turned off before the first login stays listed after it).
func mergeRoot(prev, next RootStatus) RootStatus {
	for _, v := range prev.SwapOff {
		if !slices.Contains(next.SwapOff, v) {
			next.SwapOff = append(next.SwapOff, v)
		}
	}
	for _, v := range prev.Stopped {
		if !slices.Contains(next.Stopped, v) {
			next.Stopped = append(next.Stopped, v)
		}
	}
	return next
}
