package pid1

import (
	"github.com/paroodise/paroodise/mounts"

	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/reaper"
)

// Releaser frees the old root: it stops the old processes, turns off swap
// on the old disk, unmounts the old root deepest first, and takes down the
// dm/LVM/md devices on its disk, until the disk can be opened exclusively.
// Each destructive step is a func field so that tests can watch or fake it.
type Releaser struct {
	OldRoot string // where the old / is mounted, or "" when already gone
	Device  string // the old / device, "/dev/vda1" or "MAJ:MIN", if known
	// SparePIDs are kept alive (with their ancestors and descendants)
	// while Release is called with spare set.
	SparePIDs []int
	// Started lists the children this process started (reaper.Owned):
	// they and their descendants (SSH sessions) are never stopped.
	Started func() []int
	Grace   time.Duration // between SIGTERM and SIGKILL
	Logf    func(string, ...any)

	ProcFS, SysFS, DevFS string

	// Kill stops every process but those spare (called on each fresh
	// listing of /proc) names.
	Kill     func(spare func([]Proc) map[int]bool) []Proc
	Unmount2 func(target string, flags int) error
	Remount  func(target string) error // read-only
	Swapoff  func(path string) error
	RemoveDM func(dev string) error // "MAJ:MIN"
	StopMD   func(name string) error
	// DetachLoop detaches a loop device ("loop3") from its backing file.
	DetachLoop func(name string) error
	// Free opens a device node exclusively; nil error means it is free.
	Free func(path string) error

	mu      sync.Mutex
	rootDev string // MAJ:MIN of the old root, once known
}

// NewReleaser returns a Releaser acting on the real system.
func NewReleaser(oldRoot string, logf func(string, ...any)) *Releaser {
	r := &Releaser{
		OldRoot: oldRoot,
		Grace:   10 * time.Second,
		Logf:    logf,
		ProcFS:  procRoot, SysFS: "/sys", DevFS: "/dev",
		Started:  reaper.Owned,
		Unmount2: unix.Unmount,
		Remount:  remountRO,
		Swapoff:  swapoff,
		Free:     openExclusive,
	}
	r.Kill = func(spare func([]Proc) map[int]bool) []Proc { return killAll(r.Logf, r.ProcFS, spare, r.Grace) }
	r.RemoveDM = func(dev string) error { return removeDM(r.DevFS, dev) }
	r.StopMD = func(name string) error { return stopMD(r.DevFS, name) }
	r.DetachLoop = func(name string) error { return detachLoop(r.DevFS, name) }
	return r
}

// Release runs every step and reports where the old root stands. With
// spare, the admin's processes (SparePIDs) are left running.
func (r *Releaser) Release(spare bool) RootStatus {
	st := RootStatus{Path: r.OldRoot, State: RootReleasing}
	ms, err := r.mounts()
	if err != nil {
		st.Errors = append(st.Errors, err.Error())
	}
	r.noteRootDev(ms)

	// The admin's old session is found once; PID 1's own sessions on each
	// listing, since new ones start while old processes are stopped.
	admin := map[int]bool{}
	if spare && len(r.SparePIDs) > 0 {
		ps := listProcs(r.ProcFS)
		var all []int
		for _, p := range ps {
			all = append(all, p.Pid)
		}
		admin = spareSet(ps, r.SparePIDs, listeners(r.ProcFS, all))
		for pid := range admin {
			st.Spared = append(st.Spared, pid)
		}
		slices.Sort(st.Spared)
	}
	keep := func(ps []Proc) map[int]bool {
		set := maps.Clone(admin)
		if r.Started != nil {
			maps.Copy(set, ours(ps, r.Started()))
		}
		return set
	}
	if r.OldRoot != "" {
		r.Kill(keep)
	}

	disks, stack := r.topology()
	devs := r.diskDevs(disks, stack)
	st.SwapOff, st.Errors = r.swapoff(disks, stack, st.Errors)
	if r.OldRoot != "" || len(devs) > 0 {
		var still []mounts.Mount
		still, st.Errors = r.unmountAll(devs, st.Errors)
		if len(still) > 0 {
			// A loop device backed by a file on the old root (snaps, disk
			// images) keeps it busy without any process holding it.
			var detached []string
			detached, st.Errors = r.detachLoops(st.Errors)
			st.Stopped = append(st.Stopped, detached...)
			if len(detached) > 0 {
				still, st.Errors = r.unmountAll(devs, st.Errors)
			}
		}
		for _, m := range still {
			desc := m.Point
			if m.ReadOnly() {
				desc += " (read-only)"
			}
			st.Mounted = append(st.Mounted, desc)
		}
		if len(still) > 0 {
			st.Holders = holders(r.ProcFS, still)
		}
	}
	for _, d := range stack {
		var err error
		switch {
		case strings.HasPrefix(d.Name, "dm-"):
			err = r.RemoveDM(d.Dev)
		case strings.HasPrefix(d.Name, "md"):
			err = r.StopMD(d.Name)
		default:
			continue
		}
		if err != nil {
			st.Errors = append(st.Errors, fmt.Sprintf("stop %s: %v", d.Name, err))
			continue
		}
		st.Stopped = append(st.Stopped, d.Name)
	}
	st.DiskFree = len(st.Mounted) == 0
	for _, name := range disks {
		d := Disk{Dev: filepath.Join(r.DevFS, name), Free: true}
		if err := r.Free(d.Dev); err != nil {
			d.Free = false
			d.HeldBy = append(sysBlock{r.SysFS}.claims(name), err.Error())
			st.DiskFree = false
		}
		st.Disks = append(st.Disks, d)
	}
	st.State = RootReleased
	if !st.DiskFree {
		st.State = RootBusy
	}
	return st
}

func (r *Releaser) mounts() ([]mounts.Mount, error) {
	b, err := os.ReadFile(filepath.Join(r.ProcFS, "thread-self/mountinfo"))
	if err != nil {
		return nil, err
	}
	return mounts.Parse(string(b))
}

// noteRootDev remembers the old root's device before it is unmounted.
func (r *Releaser) noteRootDev(ms []mounts.Mount) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rootDev != "" {
		return
	}
	if r.Device != "" {
		if d, err := resolveDevice(r.Device); err == nil {
			r.rootDev = d
			return
		}
	}
	for _, m := range ms {
		if m.Point != r.OldRoot {
			continue
		}
		r.rootDev = m.Dev
		// btrfs and others show an anonymous 0:N; the source names the disk.
		if strings.HasPrefix(m.Dev, "0:") && strings.HasPrefix(m.Source, "/dev/") {
			if d, err := resolveDevice(m.Source); err == nil {
				r.rootDev = d
			}
		}
	}
}

// topology returns the whole disks below the old root and the dm/md
// devices built on them, topmost first.
func (r *Releaser) topology() (disks []string, stack []blockDev) {
	r.mu.Lock()
	dev := r.rootDev
	r.mu.Unlock()
	if dev == "" {
		return nil, nil
	}
	sb := sysBlock{r.SysFS}
	name, err := sb.byDev(dev)
	if err != nil {
		return nil, nil // not a block device (nfs, overlay, tmpfs)
	}
	disks = sb.disksBelow(name)
	for _, d := range disks {
		stack = append(stack, sb.stackAbove(d)...)
	}
	return disks, stack
}

// swapoff turns off swap files under the old root and swap partitions on
// its disks: the kernel keeps both busy.
func (r *Releaser) swapoff(disks []string, stack []blockDev, errs []string) ([]string, []string) {
	b, err := os.ReadFile(filepath.Join(r.ProcFS, "swaps"))
	if err != nil {
		return nil, errs
	}
	onDisk := map[string]bool{}
	sb := sysBlock{r.SysFS}
	for _, d := range disks {
		onDisk[d] = true
		for _, p := range sb.partitions(d) {
			onDisk[p] = true
		}
	}
	for _, d := range stack {
		onDisk[d.Name] = true
	}
	swaps, err := mounts.ParseSwaps(string(b))
	if err != nil {
		return nil, append(errs, err.Error())
	}
	var done []string
	for _, sw := range swaps {
		mine := sw.File() && r.OldRoot != "" && under(sw.Path, r.OldRoot)
		if !sw.File() {
			if dev, err := resolveDevice(sw.Path); err == nil {
				if name, err := sb.byDev(dev); err == nil {
					mine = onDisk[name]
				}
			}
		}
		if !mine {
			continue
		}
		if err := r.Swapoff(sw.Path); err != nil {
			errs = append(errs, fmt.Sprintf("swapoff(%s): %v", sw.Path, err))
			continue
		}
		r.Logf("swap off: %s", sw.Path)
		done = append(done, sw.Path)
	}
	return done, errs
}

// unmountAll unmounts, deepest first, every mount under the old root and
// every mount of a device on its disks elsewhere (bind mounts of it). It
// returns what is still mounted.
func (r *Releaser) unmountAll(devs map[string]bool, errs []string) ([]mounts.Mount, []string) {
	ms, err := r.mounts()
	if err != nil {
		return nil, append(errs, err.Error())
	}
	pick := func(m mounts.Mount) bool {
		return m.Point != "/" && (r.OldRoot != "" && under(m.Point, r.OldRoot) || devs[m.Dev])
	}
	return unmountMounts(unmountOrder(ms, pick), r.Unmount2, r.Remount, r.Logf, errs)
}

// diskDevs are the device numbers of the disks, their partitions and the
// devices stacked on them.
func (r *Releaser) diskDevs(disks []string, stack []blockDev) map[string]bool {
	sb := sysBlock{r.SysFS}
	devs := map[string]bool{}
	for _, d := range disks {
		devs[sb.devOf(d)] = true
		for _, p := range sb.partitions(d) {
			devs[sb.devOf(p)] = true
		}
	}
	for _, d := range stack {
		devs[d.Dev] = true
	}
	delete(devs, "")
	return devs
}

// detachLoops detaches the loop devices whose backing file lies under the
// old root.
func (r *Releaser) detachLoops(errs []string) ([]string, []string) {
	if r.OldRoot == "" {
		return nil, errs
	}
	files, _ := filepath.Glob(filepath.Join(r.SysFS, "block/loop*/loop/backing_file"))
	var done []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || !under(strings.TrimSuffix(strings.TrimSpace(string(b)), " (deleted)"), r.OldRoot) {
			continue
		}
		name := filepath.Base(filepath.Dir(filepath.Dir(f)))
		if err := r.DetachLoop(name); err != nil {
			errs = append(errs, fmt.Sprintf("detach %s: %v", name, err))
			continue
		}
		r.Logf("detached %s (%s)", name, strings.TrimSpace(string(b)))
		done = append(done, name)
	}
	return done, errs
}

// unmountMounts unmounts ms in order. A busy mount is retried briefly,
// then remounted read-only so that its filesystem at least stays
// consistent. It returns what is still mounted.
func unmountMounts(ms []mounts.Mount, umount func(string, int) error, remount func(string) error,
	logf func(string, ...any), errs []string) ([]mounts.Mount, []string) {
	var still []mounts.Mount
	for _, m := range ms {
		err := umount(m.Point, 0)
		for try := 0; errors.Is(err, unix.EBUSY) && try < 5; try++ {
			time.Sleep(100 * time.Millisecond)
			err = umount(m.Point, 0)
		}
		switch {
		case err == nil:
			logf("unmounted %s (%s %s)", m.Point, m.FSType, m.Source)
			continue
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT):
			continue // already gone with its parent
		}
		errs = append(errs, fmt.Sprintf("umount(%s): %v", m.Point, err))
		if !m.ReadOnly() {
			if rerr := remount(m.Point); rerr != nil {
				errs = append(errs, fmt.Sprintf("mount(%s, MS_REMOUNT|MS_RDONLY): %v", m.Point, rerr))
			} else {
				m.Options = "ro" + strings.TrimPrefix(m.Options, "rw")
			}
		}
		still = append(still, m)
	}
	return still, errs
}

// unmountDisks unmounts, deepest first, every mount of a block device
// this process sees (a disk the admin mounted during the rescue, the old
// root), remounting read-only what stays busy, so that a reboot leaves no
// filesystem dirty. Run on the way down, after every process is gone.
func unmountDisks(procFS string, umount func(string, int) error, remount func(string) error, logf func(string, ...any)) {
	b, err := os.ReadFile(filepath.Join(procFS, "thread-self/mountinfo"))
	if err != nil {
		logf("unmount before reboot: %v", err)
		return
	}
	ms, err := mounts.Parse(string(b))
	if err != nil {
		logf("unmount before reboot: %v", err)
		return
	}
	disks := unmountOrder(ms, func(m mounts.Mount) bool { return !strings.HasPrefix(m.Dev, "0:") && m.Point != "/" })
	_, errs := unmountMounts(disks, umount, remount, logf, nil)
	for _, e := range errs {
		logf("%s", e)
	}
}

// holders finds the processes that keep the given mounts busy: their
// cwd, root, executable, an open file or a mapped file lies on one.
func holders(procFS string, ms []mounts.Mount) []Holder {
	devs := map[uint64]string{}
	for _, m := range ms {
		if d, ok := parseDev(m.Dev); ok {
			devs[d] = m.Point
		}
	}
	var out []Holder
	self := os.Getpid()
	for _, p := range listProcs(procFS) {
		if p.Kernel || p.Pid == self {
			continue
		}
		dir := filepath.Join(procFS, strconv.Itoa(p.Pid))
		h := Holder{Pid: p.Pid, Comm: p.Comm}
		note := func(how, link string) {
			var st unix.Stat_t
			if unix.Stat(filepath.Join(dir, link), &st) != nil {
				return
			}
			if pt, ok := devs[st.Dev]; ok {
				h.How = append(h.How, how)
				h.Path = pt
			}
		}
		note("cwd", "cwd")
		note("root", "root")
		note("exe", "exe")
		fds, _ := os.ReadDir(filepath.Join(dir, "fd"))
		for _, fd := range fds {
			note("fd "+fd.Name(), filepath.Join("fd", fd.Name()))
		}
		if lines, err := readLines(filepath.Join(dir, "maps")); err == nil {
			for _, l := range lines {
				if d, ok := mapsDev(l); ok {
					if pt, ok := devs[d]; ok {
						h.How = append(h.How, "maps")
						h.Path = pt
						break
					}
				}
			}
		}
		if len(h.How) > 0 {
			out = append(out, h)
		}
	}
	return out
}

// mapsDev returns the device of a file-backed line of /proc/PID/maps:
//
//	7f0c1c000000-7f0c1c021000 r-xp 00000000 fd:01 1234  /usr/lib/x.so
func mapsDev(line string) (uint64, bool) {
	f := strings.Fields(line)
	if len(f) < 6 || f[4] == "0" {
		return 0, false
	}
	a, b, ok := strings.Cut(f[3], ":")
	ma, err1 := strconv.ParseUint(a, 16, 32)
	mi, err2 := strconv.ParseUint(b, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, false
	}
	return unix.Mkdev(uint32(ma), uint32(mi)), true
}

// claims names what sysfs says holds a disk or its partitions.
func (s sysBlock) claims(disk string) []string {
	var out []string
	for _, n := range append([]string{disk}, s.partitions(disk)...) {
		for _, h := range s.list(n, "holders") {
			out = append(out, n+" is held by "+h)
		}
	}
	return out
}

// remountRO makes the filesystem mounted at target read-only.
func remountRO(target string) error {
	return unix.Mount("", target, "", unix.MS_REMOUNT|unix.MS_RDONLY, "")
}
