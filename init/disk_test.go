package pid1

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/paroodise/paroodise/internal/testutil"
	"golang.org/x/sys/unix"
)

// fakeSys builds a sysfs block tree: vda with vda1 and vda2; vda2 holds
// dm-0 (a crypt mapping) which holds dm-1 (an LVM volume, the old root);
// vdb1 and vda1 make up md0.
func fakeSys(t *testing.T) string {
	t.Helper()
	sys := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Join(sys, p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	file := func(p, v string) {
		mk(filepath.Dir(p))
		if err := os.WriteFile(filepath.Join(sys, p), []byte(v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, p string) {
		mk(filepath.Dir(p))
		if err := os.Symlink(target, filepath.Join(sys, p)); err != nil {
			t.Fatal(err)
		}
	}
	devs := map[string]struct{ path, dev string }{
		"vda":  {"devices/pci/block/vda", "252:0"},
		"vda1": {"devices/pci/block/vda/vda1", "252:1"},
		"vda2": {"devices/pci/block/vda/vda2", "252:2"},
		"vdb":  {"devices/pci/block/vdb", "252:16"},
		"vdb1": {"devices/pci/block/vdb/vdb1", "252:17"},
		"dm-0": {"devices/virtual/block/dm-0", "253:0"},
		"dm-1": {"devices/virtual/block/dm-1", "253:1"},
		"md0":  {"devices/virtual/block/md0", "9:0"},
	}
	for name, d := range devs {
		file(d.path+"/dev", d.dev+"\n")
		mk(d.path + "/holders")
		mk(d.path + "/slaves")
		link("../../"+d.path, "class/block/"+name)
		link("../../"+d.path, "dev/block/"+d.dev)
	}
	for _, p := range []string{"vda1", "vda2", "vdb1"} {
		file(devs[p].path+"/partition", "1\n")
	}
	rel := func(from, to string) {
		// holders/slaves entries are symlinks to the other device.
		link("../../"+filepath.Base(devs[to].path), filepath.Join(devs[from].path, "holders", to))
		link("../../"+filepath.Base(devs[from].path), filepath.Join(devs[to].path, "slaves", from))
	}
	rel("vda2", "dm-0")
	rel("dm-0", "dm-1")
	rel("vda1", "md0")
	rel("vdb1", "md0")
	return sys
}

func TestBlockTopology(t *testing.T) {
	sb := sysBlock{fakeSys(t)}
	name, err := sb.byDev("253:1")
	if err != nil || name != "dm-1" {
		t.Fatalf("byDev: %q %v", name, err)
	}
	if got := sb.disksBelow("dm-1"); !reflect.DeepEqual(got, []string{"vda"}) {
		t.Fatalf("disks below dm-1: %v", got)
	}
	if got := sb.disksBelow("md0"); !reflect.DeepEqual(got, []string{"vda", "vdb"}) {
		t.Fatalf("disks below md0: %v", got)
	}
	var names []string
	for _, d := range sb.stackAbove("vda") {
		names = append(names, d.Name+"="+d.Dev)
	}
	// Topmost first: dm-1 before the dm-0 it sits on.
	if !reflect.DeepEqual(names, []string{"md0=9:0", "dm-1=253:1", "dm-0=253:0"}) {
		t.Fatalf("stack above vda: %v", names)
	}
	if got := sb.claims("vda"); !reflect.DeepEqual(got, []string{"vda1 is held by md0", "vda2 is held by dm-0"}) {
		t.Fatalf("claims %v", got)
	}
}

// With the old root already unmounted (soft-reboot), Release takes down
// the dm and md devices on its disk and checks that the disk is free.
func TestReleaseDeviceStack(t *testing.T) {
	proc := t.TempDir()
	os.MkdirAll(proc+"/thread-self", 0o755)
	os.WriteFile(proc+"/thread-self/mountinfo", nil, 0o644)
	os.WriteFile(proc+"/swaps", []byte("Filename Type Size Used Priority\n"), 0o644)
	r := NewReleaser("", t.Logf)
	r.Device = "253:1"
	r.ProcFS, r.SysFS, r.DevFS = proc, fakeSys(t), "/dev"
	r.Kill = func(func([]Proc) map[int]bool) []Proc { t.Error("Kill without an old root"); return nil }
	var removed, stopped, opened []string
	r.RemoveDM = func(dev string) error { removed = append(removed, dev); return nil }
	r.StopMD = func(name string) error { stopped = append(stopped, name); return errors.New("device or resource busy") }
	r.Free = func(p string) error { opened = append(opened, p); return nil }
	st := r.Release(false)
	if !reflect.DeepEqual(removed, []string{"253:1", "253:0"}) || !reflect.DeepEqual(stopped, []string{"md0"}) {
		t.Fatalf("removed %v, stopped %v", removed, stopped)
	}
	if !reflect.DeepEqual(st.Stopped, []string{"dm-1", "dm-0"}) || len(st.Errors) != 1 {
		t.Fatalf("status %+v", st)
	}
	if !reflect.DeepEqual(opened, []string{"/dev/vda"}) || !st.DiskFree || st.State != RootReleased {
		t.Fatalf("opened %v, status %+v", opened, st)
	}
	r.Free = func(string) error { return errors.New("open(/dev/vda, O_EXCL): device or resource busy") }
	st = r.Release(false)
	if st.DiskFree || st.State != RootBusy || len(st.Disks) != 1 || st.Disks[0].Free || len(st.Disks[0].HeldBy) != 3 {
		t.Fatalf("busy disk: %+v", st)
	}
}

func TestDetachLoops(t *testing.T) {
	sys := t.TempDir()
	for name, file := range map[string]string{
		"loop3": "/oldroot/var/lib/snapd/snaps/core_1.snap\n",
		"loop4": "/home/disk.img\n",
		"loop5": "/oldroot/srv/gone.img (deleted)\n",
	} {
		os.MkdirAll(filepath.Join(sys, "block", name, "loop"), 0o755)
		os.WriteFile(filepath.Join(sys, "block", name, "loop", "backing_file"), []byte(file), 0o644)
	}
	r := NewReleaser("/oldroot", t.Logf)
	r.SysFS = sys
	var got []string
	r.DetachLoop = func(n string) error { got = append(got, n); return nil }
	done, errs := r.detachLoops(nil)
	if !reflect.DeepEqual(got, []string{"loop3", "loop5"}) || !reflect.DeepEqual(done, got) || len(errs) != 0 {
		t.Fatalf("detached %v (%v), errors %v", got, done, errs)
	}
}

// Swap files under the old root and swap partitions on its disks (or on
// the dm devices above them) are turned off; other swaps are left alone.
func TestSwapoffChoosesTheOldDisks(t *testing.T) {
	testutil.Root(t) // mknod
	dev, proc := t.TempDir(), t.TempDir()
	for name, nr := range map[string]int{"vda2": 2, "vdb1": 17} {
		if err := unix.Mknod(filepath.Join(dev, name), unix.S_IFBLK|0o600, int(unix.Mkdev(252, uint32(nr)))); err != nil {
			t.Fatal(err)
		}
	}
	swaps := "Filename\tType\tSize\tUsed\tPriority\n" +
		"/oldroot/swapfile file 1024 0 -2\n" +
		"/srv/swapfile file 1024 0 -3\n" +
		dev + "/vda2 partition 1024 0 -4\n" +
		dev + "/vdb1 partition 1024 0 -5\n"
	if err := os.WriteFile(proc+"/swaps", []byte(swaps), 0o644); err != nil {
		t.Fatal(err)
	}
	r := NewReleaser("/oldroot", t.Logf)
	r.ProcFS, r.SysFS = proc, fakeSys(t)
	var off []string
	r.Swapoff = func(p string) error { off = append(off, p); return nil }
	done, errs := r.swapoff([]string{"vda"}, nil, nil)
	want := []string{"/oldroot/swapfile", dev + "/vda2"}
	if !reflect.DeepEqual(off, want) || !reflect.DeepEqual(done, want) || len(errs) != 0 {
		t.Fatalf("swapoff %v, done %v, errors %v; want %v", off, done, errs, want)
	}
	r.Swapoff = func(string) error { return errors.New("device or resource busy") }
	if done, errs := r.swapoff([]string{"vda"}, nil, nil); len(done) != 0 || len(errs) != 2 {
		t.Fatalf("failing swapoff: done %v, errors %v", done, errs)
	}
}
