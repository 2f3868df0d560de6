package pid1

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/handoff"
	"github.com/paroodise/paroodise/reaper"
)

// Init is paroodise running as PID 1. The func fields are the seams
// through which tests (and the wiring to other packages) reach it.
type Init struct {
	Log   *Log
	State *handoff.State
	// Control is the control socket path (ControlSocket).
	Control string

	// Reboot is reboot(2). Inside a PID namespace the kernel turns it into
	// killing that namespace's init, which is how tests exercise it.
	Reboot func(cmd int) error
	// NetworkUp brings the network up from the state; nil leaves it as
	// the old system left it.
	NetworkUp func(ctx context.Context, st *handoff.State, logf func(string, ...any)) NetStatus
	// ServeSSH runs the SSH server until ctx is done; it is restarted
	// whenever it returns early.
	ServeSSH func(ctx context.Context, cfg SSHConfig) error
	// Release frees the old root; nil when there is none.
	Release *Releaser
	// Sync flushes filesystems (sync(2)).
	Sync func()
	// Unmount is umount2(2) and RemountRO a read-only remount, used on the
	// way down.
	Unmount   func(target string, flags int) error
	RemountRO func(target string) error

	ctx    context.Context
	cancel context.CancelFunc

	netMu    sync.Mutex // one network apply at a time
	mu       sync.Mutex
	status   Status
	login    chan struct{} // closed by the first login
	loginOne sync.Once
	downOne  sync.Once
}

// SSHConfig is what PID 1 hands its SSH server.
type SSHConfig struct {
	Listen              []string
	HostKeyFiles        []string
	AuthorizedKeysFiles []string
	Shell               string
	Banner              func() string
	OnLogin             func(user, fingerprint, remote string)
	Logf                func(string, ...any)
}

// Shell is the login shell: the toolbox's sh in the new root.
const Shell = "/bin/sh"

// boot is the whole life of PID 1. It never returns.
func boot(argv []string) {
	sigs := earlySignals // first: see catchSignals
	if sigs == nil {
		sigs = catchSignals()
	}
	defer func() {
		// Before the log exists: say why on stderr, then reboot rather
		// than exit (which would panic the kernel).
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "paroodise: PANIC during start-up: %v\n%s", r, debug.Stack())
			unix.Sync()
			_ = reboot(unix.LINUX_REBOOT_CMD_RESTART)
			select {}
		}
	}()
	openStdio()
	early, reexeced := reexecLogged()
	if err := os.Chdir("/"); err != nil {
		early = append(early, "chdir /: "+err.Error())
	}
	early = append(early, mountAPI()...)
	early = append(early, seedRandom("/")...)
	if !reexeced {
		err := reexecClean(early)
		early = append(early, "re-exec with an empty signal mask failed, children inherit a blocked mask: "+err.Error())
	}
	closed, err := closeInherited("/proc/self/fd")
	if err != nil {
		early = append(early, "closing inherited descriptors: "+err.Error())
	}
	early = append(early, detachAutofs("/proc/self/mountinfo")...)
	consoleStdio()

	log := NewLog(4096)
	k := openKmsg()
	if k != nil {
		log.AddSink(NewAsync(k, 256))
	}
	// When the kernel already prints our kernel-log lines on the console,
	// writing them there too would show each line twice.
	if k == nil || !stderrIsConsole() || consoleLoglevel() <= kmsgLevel {
		log.AddSink(NewAsync(os.Stderr, 256))
	}
	i := New(log, argv)
	i.status.FDsClosed = closed
	defer i.crashed("main")
	log.Printf("paroodise init %v: PID %d, argv %q, closed %d inherited descriptors", cli.Version, os.Getpid(), argv, closed)
	for _, m := range early {
		log.Printf("%s", m)
	}
	i.Run(sigs)
}

// New returns an Init with the real system behind every seam, with the
// handoff state loaded from the current root.
func New(log *Log, argv []string) *Init {
	st, note := loadState("/", argv)
	i := &Init{
		Log:       log,
		State:     st,
		Control:   ControlSocket,
		Reboot:    reboot,
		Sync:      unix.Sync,
		Unmount:   unix.Unmount,
		RemountRO: remountRO,
		login:     make(chan struct{}),
	}
	i.ServeSSH = serveSSH
	i.NetworkUp = networkUp
	if st.OldRoot != "" || st.OldRootDevice != "" {
		i.Release = NewReleaser(st.OldRoot, log.Printf)
		i.Release.SparePIDs = st.SparePIDs
		i.Release.Device = st.OldRootDevice
	}
	i.ctx, i.cancel = context.WithCancel(context.Background())
	i.status = Status{
		Pid:       os.Getpid(),
		Method:    st.Method,
		OldInit:   st.OldInit,
		Argv:      argv,
		StartedAt: time.Now(),
		SSH:       SSHStatus{Listen: st.Listen},
		DeadMan:   DeadManStatus{State: DeadManOff},
		Network:   NetStatus{State: "pending"},
		OldRoot:   RootStatus{State: RootNone},
	}
	if st.OldRoot != "" {
		i.status.OldRoot = RootStatus{Path: st.OldRoot, State: RootPending}
	}
	log.Printf("%s", note)
	return i
}

// reboot is reboot(2), refused unless we are PID 1 so that no code path
// in a test process can take the host down.
func reboot(cmd int) error {
	if os.Getpid() != 1 {
		return fmt.Errorf("reboot(%#x): refused, this is pid %d, not PID 1", cmd, os.Getpid())
	}
	if err := unix.Reboot(cmd); err != nil {
		return fmt.Errorf("reboot(%#x): %w", cmd, err)
	}
	return nil
}

// Run starts every duty of PID 1 and then handles signals forever.
func (i *Init) Run(sigs <-chan os.Signal) {
	reaper.Loop()
	orphans, _ := reaper.Subscribe()
	i.goSafe("orphan log", func() {
		for e := range orphans {
			i.Log.Printf("reaped orphan pid %d: %s", e.Pid, waitText(e.Status))
		}
	})
	// With Ctrl-Alt-Del "off" the kernel sends SIGINT to PID 1 instead of
	// rebooting on the spot, so it gets a clean shutdown.
	if err := i.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF); err != nil {
		i.Log.Printf("Ctrl-Alt-Del stays with the kernel: %v", err)
	}
	if err := i.serveControl(); err != nil {
		i.Log.Printf("control socket: %v", err)
	}
	i.goSafe("network", i.network)
	i.goSafe("ssh", i.superviseSSH)
	i.armDeadMan()
	if i.Release != nil {
		i.goSafe("release", i.release)
	}
	for sig := range sigs {
		switch op := signalAction(sig); op {
		case "-":
		case "":
			i.Log.Printf("signal %v: ignored", sig)
		default:
			i.Shutdown(op, "signal "+sig.String())
		}
	}
}

// goSafe runs fn in a goroutine; a panic there would kill PID 1 and with
// it the machine, so it is logged and turned into a reboot instead.
func (i *Init) goSafe(name string, fn func()) {
	go func() {
		defer i.crashed(name)
		fn()
	}()
}

// crashed turns a panic into a logged, synced reboot; it must be
// deferred directly.
func (i *Init) crashed(where string) {
	r := recover()
	if r == nil {
		return
	}
	i.Log.Printf("PANIC in %s: %v\n%s", where, r, debug.Stack())
	i.Shutdown(OpReboot, "panic")
	select {}
}

// Status returns a snapshot of PID 1's state.
func (i *Init) Status() *Status {
	i.mu.Lock()
	defer i.mu.Unlock()
	s := i.status
	s.Now = time.Now()
	s.SSH.Listen = slices.Clone(s.SSH.Listen)
	s.SSH.Listening = listeners(procRoot, []int{s.Pid})[s.Pid]
	slices.Sort(s.SSH.Listening)
	return &s
}

// update changes the status under the lock.
func (i *Init) update(fn func(s *Status)) {
	i.mu.Lock()
	fn(&i.status)
	i.mu.Unlock()
}

// SetFlash records what a flash job is doing ("" when none is).
func (i *Init) SetFlash(text string) {
	i.update(func(s *Status) { s.Flash = text })
	if text == "" {
		text = "done"
	}
	i.Log.Printf("flash: %s", text)
}

// Logs returns PID 1's log.
func (i *Init) Logs() *Log { return i.Log }

// serveControl listens on the control socket and answers root only.
func (i *Init) serveControl() error {
	dir := filepath.Dir(i.Control)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	_ = os.Chmod(dir, 0o700)
	_ = os.Remove(i.Control)
	l, err := net.Listen("unix", i.Control)
	if err != nil {
		return err
	}
	_ = os.Chmod(i.Control, 0o600)
	i.goSafe("control", func() {
		for {
			c, err := l.Accept()
			if err != nil {
				i.Log.Printf("control socket: accept: %v", err)
				time.Sleep(time.Second)
				continue
			}
			if uid, err := peerUID(c); err != nil || uid != 0 {
				i.Log.Printf("control socket: refused peer uid %d (%v)", uid, err)
				c.Close()
				continue
			}
			i.goSafe("control conn", func() { serveConn(i.ctx, c, i) })
		}
	})
	return nil
}

func peerUID(c net.Conn) (int, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return -1, fmt.Errorf("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if cerr != nil {
		return -1, fmt.Errorf("getsockopt(SO_PEERCRED): %w", cerr)
	}
	return int(cred.Uid), nil
}

func waitText(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit status %d", ws.ExitStatus())
	case ws.Signaled():
		return "killed by " + unix.SignalName(ws.Signal())
	}
	return fmt.Sprintf("wait status %#x", uint32(ws))
}
