package pid1

import (
	"bytes"
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLogRing(t *testing.T) {
	var sink bytes.Buffer
	l := NewLog(3, &sink)
	l.Printf("a")
	l.Printf("b\nc")
	l.Printf("d")
	got, wake := l.Since(0)
	if len(got) != 3 || got[0].Msg != "b" || got[2].Msg != "d" || got[2].Seq != 4 {
		t.Fatalf("ring %+v", got)
	}
	if s := sink.String(); s != "paroodise: a\nparoodise: b\nparoodise: c\nparoodise: d\n" {
		t.Fatalf("sink %q", s)
	}
	if tail, _ := l.Since(3); len(tail) != 1 || tail[0].Msg != "d" {
		t.Fatalf("since 3: %+v", tail)
	}
	l.Printf("e")
	select {
	case <-wake:
	default:
		t.Fatal("no wake-up on a new line")
	}
}

type fakeHandler struct {
	log   *Log
	down  chan string
	flash chan string
}

func (f *fakeHandler) SetFlash(text string) { f.flash <- text }

func (f *fakeHandler) Status() *Status {
	return &Status{Pid: 1, Method: "kernel", OldRoot: RootStatus{State: RootNone}}
}
func (f *fakeHandler) Logs() *Log            { return f.log }
func (f *fakeHandler) Shutdown(op, _ string) { f.down <- op }

// serve answers one control connection over a socket pair.
func serve(t *testing.T, h handler) Client {
	t.Helper()
	path := t.TempDir() + "/c.sock"
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go serveConn(ctx, c, h)
		}
	}()
	return Client{Path: path, Timeout: 5 * time.Second}
}

func TestControlProtocol(t *testing.T) {
	h := &fakeHandler{log: NewLog(10), down: make(chan string, 1), flash: make(chan string, 1)}
	h.log.Printf("one")
	h.log.Printf("two")
	cl := serve(t, h)

	st, err := cl.Status()
	if err != nil || st.Pid != 1 || st.Method != "kernel" {
		t.Fatalf("status %+v %v", st, err)
	}
	var msgs []string
	if err := cl.Log(false, 0, func(e Entry) error { msgs = append(msgs, e.Msg); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(msgs, ",") != "one,two" {
		t.Fatalf("log %q", msgs)
	}
	// Following: a line logged later arrives.
	got := make(chan string, 4)
	go cl.Log(true, 2, func(e Entry) error { got <- e.Msg; return nil })
	time.Sleep(50 * time.Millisecond)
	h.log.Printf("three")
	select {
	case m := <-got:
		if m != "three" {
			t.Fatalf("followed %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follow got nothing")
	}
	if err := cl.SetFlash("writing /dev/vda: 10%"); err != nil {
		t.Fatal(err)
	}
	if f := <-h.flash; f != "writing /dev/vda: 10%" {
		t.Fatalf("flash %q", f)
	}
	if err := cl.Shutdown(OpPoweroff); err != nil {
		t.Fatal(err)
	}
	if op := <-h.down; op != OpPoweroff {
		t.Fatalf("shutdown %q", op)
	}
	if _, err := cl.roundTrip(Request{Op: "frob"}); err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Fatalf("unknown op: %v", err)
	}
	if _, err := (Client{Path: t.TempDir() + "/none"}).Status(); err == nil || !strings.Contains(err.Error(), "not running under paroodise init") {
		t.Fatalf("no socket: %v", err)
	}
}

func TestStatusText(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	yes := true
	s := &Status{
		Pid: 1, Method: "reexec", OldInit: "systemd 252", StartedAt: now.Add(-time.Minute), Now: now,
		SSH:     SSHStatus{Listen: []string{":22"}, Listening: []string{"0.0.0.0:22"}, Running: true},
		DeadMan: DeadManStatus{State: DeadManArmed, Deadline: now.Add(9 * time.Minute)},
		Network: NetStatus{State: "applied", Reachable: &yes, Reach: "reachable: gateway answered"},
		OldRoot: RootStatus{Path: "/oldroot", State: RootBusy, Mounted: []string{"/oldroot (read-only)"},
			Holders: []Holder{{Pid: 7, Comm: "bash", How: []string{"cwd"}, Path: "/oldroot"}},
			Disks:   []Disk{{Dev: "/dev/vda", HeldBy: []string{"vda1 is held by dm-0"}}}},
	}
	var b bytes.Buffer
	s.WriteText(&b)
	for _, want := range []string{"started by reexec from systemd 252", "(up 1m0s)", "ssh: running for :22, listening on 0.0.0.0:22",
		"armed: reboots into the old system at 03:13:05 (in 9m0s)", "reachable: true",
		"old root /oldroot: busy", "held by pid 7 (bash): cwd /oldroot", "disk /dev/vda: BUSY", "disk free: false"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status text lacks %q:\n%s", want, b.String())
		}
	}
	if ban := s.Banner(); !strings.Contains(ban, "old disk: /oldroot still busy") || !strings.Contains(ban, "flash: none running") ||
		!strings.Contains(ban, "network: applied, reachable: true (reachable: gateway answered)") {
		t.Errorf("banner %q", ban)
	}
}

// blockingWriter blocks until released.
type blockingWriter struct {
	release chan struct{}
	mu      sync.Mutex
	got     []string
}

func (b *blockingWriter) Write(p []byte) (int, error) {
	<-b.release
	b.mu.Lock()
	b.got = append(b.got, string(p))
	b.mu.Unlock()
	return len(p), nil
}

func TestAsyncNeverBlocks(t *testing.T) {
	w := &blockingWriter{release: make(chan struct{})}
	l := NewLog(10, NewAsync(w, 2))
	done := make(chan struct{})
	go func() {
		for range 100 {
			l.Printf("line")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("logging blocked behind a stuck sink")
	}
	close(w.release)
	l.Flush(5 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.mu.Lock()
		got := strings.Join(w.got, "")
		w.mu.Unlock()
		if strings.Contains(got, "log lines dropped: output blocked") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no note about dropped lines: %q", got)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
