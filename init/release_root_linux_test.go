package pid1

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/internal/testutil"
)

func mountTmpfs(dirs ...string) error {
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
			return fmt.Errorf("mount tmpfs on %s: %w", dir, err)
		}
	}
	return nil
}

func TestReleaserUnmountsDeepestFirstAndReportsHolders(t *testing.T) {
	testutil.InMountNS(t, func() {
		old := t.TempDir()
		if err := mountTmpfs(old, old+"/tmp", old+"/a", old+"/a/b"); err != nil {
			t.Error(err)
			return
		}
		// One process sits in /a/b (read-only still possible), one writes
		// to /tmp (even that is refused).
		cwd := exec.Command("sleep", "60")
		cwd.Dir = old + "/a/b"
		writer := exec.Command("sh", "-c", "exec 3>"+old+"/tmp/f; exec sleep 60")
		for _, c := range []*exec.Cmd{cwd, writer} {
			c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			if err := c.Start(); err != nil {
				t.Error(err)
				return
			}
			defer func() { c.Process.Kill(); c.Wait() }()
		}
		time.Sleep(200 * time.Millisecond) // for sh to open the file

		r := NewReleaser(old, t.Logf)
		r.SparePIDs = []int{writer.Process.Pid}
		var spared map[int]bool
		r.Kill = func(spare func([]Proc) map[int]bool) []Proc { // never signal the host's processes
			spared = spare(listProcs("/proc"))
			return nil
		}
		r.Swapoff = func(p string) error { t.Errorf("swapoff(%s)", p); return nil }
		r.DetachLoop = func(n string) error { t.Errorf("detach %s", n); return nil }
		st := r.Release(true)

		if !spared[writer.Process.Pid] || spared[cwd.Process.Pid] {
			t.Errorf("spared %v", spared)
		}
		if st.State != RootBusy || st.DiskFree {
			t.Errorf("state %s, disk free %t", st.State, st.DiskFree)
		}
		// Parents stay busy under busy children and go read-only as well.
		want := []string{old + "/a/b (read-only)", old + "/tmp", old + "/a (read-only)", old + " (read-only)"}
		if !slices.Equal(st.Mounted, want) {
			t.Errorf("still mounted %q, want %q", st.Mounted, want)
		}
		how := map[int]string{}
		for _, h := range st.Holders {
			how[h.Pid] = strings.Join(h.How, ",")
		}
		if how[cwd.Process.Pid] != "cwd" || !strings.Contains(how[writer.Process.Pid], "fd 3") {
			t.Errorf("holders %+v", st.Holders)
		}

		cwd.Process.Kill()
		writer.Process.Kill()
		cwd.Wait()
		writer.Wait()
		st = r.Release(false)
		if st.State != RootReleased || !st.DiskFree || len(st.Mounted) != 0 || len(st.Errors) != 0 {
			t.Errorf("after the holders died: %+v", st)
		}
		b, _ := os.ReadFile("/proc/thread-self/mountinfo")
		if strings.Contains(string(b), old) {
			t.Errorf("still in mountinfo:\n%s", b)
		}
	})
}

func TestPID1ReleasesOldRoot(t *testing.T) {
	st := testState()
	st.OldRoot = "/oldroot"
	p := startPID1(t, st, func(root string) error {
		return mountTmpfs(root+"/oldroot", root+"/oldroot/tmp", root+"/oldroot/tmp/deeper")
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		s := p.status()
		if s.OldRoot.State == RootReleased {
			if !s.OldRoot.DiskFree || len(s.OldRoot.Mounted) != 0 {
				t.Fatalf("old root %+v", s.OldRoot)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old root still %+v", s.OldRoot)
		}
		time.Sleep(100 * time.Millisecond)
	}
	var order []string
	_ = p.client().Log(false, 0, func(e Entry) error {
		if strings.HasPrefix(e.Msg, "unmounted ") {
			order = append(order, strings.Fields(e.Msg)[1])
		}
		return nil
	})
	if !slices.Equal(order, []string{"/oldroot/tmp/deeper", "/oldroot/tmp", "/oldroot"}) {
		t.Fatalf("unmount order %q", order)
	}
}

// TestDetachAutofs leaves an automount whose daemon is gone (its pipe
// closed), as the old PID 1 leaves binfmt_misc's, and expects it gone.
func TestDetachAutofs(t *testing.T) {
	testutil.InMountNS(t, func() {
		dir := t.TempDir()
		var p [2]int
		if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			t.Error(err)
			return
		}
		opts := fmt.Sprintf("fd=%d,pgrp=%d,minproto=5,maxproto=5,direct", p[1], unix.Getpgrp())
		if err := unix.Mount("paroodise-test", dir, "autofs", 0, opts); err != nil {
			t.Errorf("mount autofs: %v", err)
			return
		}
		unix.Close(p[0])
		unix.Close(p[1])
		mi := fmt.Sprintf("/proc/%d/task/%d/mountinfo", os.Getpid(), unix.Gettid())
		msgs := detachAutofs(mi)
		// The host's own automounts, if any, go too, in this namespace only.
		if !slices.Contains(msgs, "unmounted the orphaned automount "+dir) {
			t.Errorf("detachAutofs: %q", msgs)
		}
		b, _ := os.ReadFile(mi)
		if strings.Contains(string(b), " "+dir+" ") {
			t.Errorf("autofs still mounted:\n%s", b)
		}
	})
}
