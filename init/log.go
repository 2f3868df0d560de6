// Package pid1 is paroodise as PID 1: it keeps the machine alive after the
// takeover (signals, reaping, never exiting), brings up the network and the
// SSH server, releases the old root disk, reboots into the old system when
// nobody logs in in time, and answers `paroodise status`, `log`, `reboot`
// and `poweroff` over a control socket.
package pid1

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Entry is one line of PID 1's log.
type Entry struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Msg  string    `json:"msg"`
}

// Log keeps the last lines in memory for `paroodise log` and copies each
// line to its sinks (console, /dev/kmsg). It is safe for concurrent use.
type Log struct {
	mu    sync.Mutex
	ring  []Entry
	next  int // index of the oldest entry once the ring is full
	seq   uint64
	sinks []io.Writer
	wake  chan struct{} // closed and replaced on every new line
}

// NewLog returns a log keeping the last size lines.
func NewLog(size int, sinks ...io.Writer) *Log {
	return &Log{ring: make([]Entry, 0, size), sinks: sinks, wake: make(chan struct{})}
}

// AddSink copies every later line to w as well.
func (l *Log) AddSink(w io.Writer) {
	l.mu.Lock()
	l.sinks = append(l.sinks, w)
	l.mu.Unlock()
}

// Printf logs one line (a message with newlines becomes several lines).
func (l *Log) Printf(format string, args ...any) {
	msg := strings.TrimRight(fmt.Sprintf(format, args...), "\n")
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range strings.Split(msg, "\n") {
		l.seq++
		e := Entry{Seq: l.seq, Time: now, Msg: line}
		if len(l.ring) < cap(l.ring) {
			l.ring = append(l.ring, e)
		} else {
			l.ring[l.next] = e
			l.next = (l.next + 1) % len(l.ring)
		}
		for _, w := range l.sinks {
			// A sink that fails (console gone) must not stop the others.
			_, _ = io.WriteString(w, "paroodise: "+line+"\n")
		}
	}
	close(l.wake)
	l.wake = make(chan struct{})
}

// Flush waits up to d for sinks that write asynchronously.
func (l *Log) Flush(d time.Duration) {
	l.mu.Lock()
	sinks := l.sinks
	l.mu.Unlock()
	for _, w := range sinks {
		if a, ok := w.(*Async); ok {
			a.Flush(d)
		}
	}
}

// Since returns the kept entries with Seq > seq, oldest first, and a
// channel closed when another line arrives.
func (l *Log) Since(seq uint64) ([]Entry, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Entry
	for i := range l.ring {
		e := l.ring[(l.next+i)%len(l.ring)]
		if e.Seq > seq {
			out = append(out, e)
		}
	}
	return out, l.wake
}

// Async writes to w from its own goroutine and drops lines while w is
// stuck, so that a console that blocks (a stopped serial line, Scroll
// Lock on a VT) never stalls PID 1: every log call would wait behind it.
type Async struct {
	ch      chan []byte
	dropped atomic.Int64
	busy    atomic.Int64 // lines queued or being written
}

// NewAsync starts writing to w; up to queue lines wait.
func NewAsync(w io.Writer, queue int) *Async {
	a := &Async{ch: make(chan []byte, queue)}
	go func() {
		for b := range a.ch {
			if n := a.dropped.Swap(0); n > 0 {
				_, _ = fmt.Fprintf(w, "paroodise: (%d log lines dropped: output blocked)\n", n)
			}
			_, _ = w.Write(b)
			a.busy.Add(-1)
		}
	}()
	return a
}

func (a *Async) Write(p []byte) (int, error) {
	a.busy.Add(1)
	select {
	case a.ch <- bytes.Clone(p):
	default:
		a.busy.Add(-1)
		a.dropped.Add(1)
	}
	return len(p), nil
}

// Flush waits up to d for the queued lines to be written.
func (a *Async) Flush(d time.Duration) {
	for end := time.Now().Add(d); a.busy.Load() > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
}
