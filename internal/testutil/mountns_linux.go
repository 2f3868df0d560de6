package testutil

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// InMountNS runs fn on a thread with a private mount namespace of its own
// and / recursively private in it, so that mounts, moves and pivot_root
// never reach the host. fn is not run when that cannot be set up.
func InMountNS(t testing.TB, fn func()) {
	t.Helper()
	Root(t)
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Never unlocked: the thread is discarded with its namespace.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			t.Errorf("unshare(CLONE_NEWNS): %v", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			t.Errorf("mount(/, MS_REC|MS_PRIVATE): %v", err)
			return
		}
		fn()
	}()
	<-done
}
