package sshd

import (
	"sync"
	"time"
)

// gate bounds what unauthenticated peers can take: a global and a
// per-address number of connections still in the handshake, and the
// number of failed logins an address may have within failWindow. A
// success from an address forgives its failures.
type gate struct {
	maxPending, maxPendingPerSource int
	maxFailures                     int
	failWindow                      time.Duration

	mu       sync.Mutex
	pending  int
	perSrc   map[string]int
	failures map[string][]time.Time
}

func newGate(maxPending, maxPendingPerSource, maxFailures int, failWindow time.Duration) *gate {
	return &gate{
		maxPending: maxPending, maxPendingPerSource: maxPendingPerSource,
		maxFailures: maxFailures, failWindow: failWindow,
		perSrc: map[string]int{}, failures: map[string][]time.Time{},
	}
}

// admit reserves a pending slot for src, or says why not. The returned
// release must be called exactly once when the peer authenticates or
// goes away.
func (g *gate) admit(src string, now time.Time) (release func(), refusal string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if n := len(g.recentFailures(src, now)); n >= g.maxFailures {
		return nil, "too many failed logins from this address"
	}
	if g.pending >= g.maxPending {
		return nil, "too many unauthenticated connections"
	}
	if g.perSrc[src] >= g.maxPendingPerSource {
		return nil, "too many unauthenticated connections from this address"
	}
	g.pending++
	g.perSrc[src]++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			g.pending--
			if g.perSrc[src]--; g.perSrc[src] <= 0 {
				delete(g.perSrc, src)
			}
		})
	}, ""
}

// failed records a connection from src that ended without logging in.
func (g *gate) failed(src string, now time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failures[src] = append(g.recentFailures(src, now), now)
	if len(g.failures) > maxTrackedSources {
		for s := range g.failures {
			g.recentFailures(s, now)
		}
	}
}

// maxTrackedSources bounds the failure table against address sprays; past
// it, stale entries are swept on every new failure.
const maxTrackedSources = 4096

// succeeded forgets src's failures.
func (g *gate) succeeded(src string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.failures, src)
}

// recentFailures prunes and returns src's failures inside the window;
// called with mu held.
func (g *gate) recentFailures(src string, now time.Time) []time.Time {
	f := g.failures[src]
	i := 0
	for i < len(f) && now.Sub(f[i]) > g.failWindow {
		i++
	}
	f = f[i:]
	if len(f) == 0 {
		delete(g.failures, src)
		return nil
	}
	g.failures[src] = f
	return f
}
