package pid1

import (
	"strings"
	"time"
)

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
	i.update(func(s *Status) {
		st = mergeRoot(s.OldRoot, st)
		s.OldRoot = st
	})
	i.Log.Printf("old root %s: %s, disk free: %t", st.Path, st.State, st.DiskFree)
	for _, e := range st.Errors {
		i.Log.Printf("  %s", e)
	}
	for _, h := range st.Holders {
		i.Log.Printf("  held by pid %d (%s): %s", h.Pid, h.Comm, strings.Join(h.How, ","))
	}
}
