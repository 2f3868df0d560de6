package pid1

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/mounts"
)

// apiMount is one filesystem the system needs; after a takeover they were
// moved into the new root and are already there, when the kernel started
// us as its init they are not.
type apiMount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

var apiMounts = []apiMount{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
}

// mountAPI mounts what is missing and returns what it did, for the log
// that does not exist yet. A target that is already a mount point is left
// alone; EBUSY from the kernel means the same.
func mountAPI() []string {
	var msgs []string
	for _, m := range apiMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			msgs = append(msgs, fmt.Sprintf("mkdir %s: %v", m.target, err))
			continue
		}
		if isMountPoint(m.target) {
			continue
		}
		err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data)
		switch {
		case err == nil:
			msgs = append(msgs, "mounted "+m.fstype+" on "+m.target)
		case errors.Is(err, unix.EBUSY):
		default:
			msgs = append(msgs, fmt.Sprintf("mount(%s, %s, %s, %#x, %q): %v", m.source, m.target, m.fstype, m.flags, m.data, err))
		}
	}
	// /dev/ptmx is left as it is: since Linux 4.7 the 5:2 node opens the
	// devpts instance mounted at pts/ beside it, and devtmpfs is one
	// filesystem shared by every mount of it, so changing it here would
	// change it everywhere.
	return msgs
}

// detachAutofs unmounts the automount points the old init left (systemd's
// binfmt_misc one moves with /proc). Their daemon was the old PID 1, whose
// pipe closeInherited just closed, so each would fail every access, and
// df with it.
func detachAutofs(mountinfo string) []string {
	ms, err := mounts.Read(mountinfo)
	if err != nil {
		return []string{"autofs: " + err.Error()}
	}
	var msgs []string
	for _, m := range unmountOrder(ms, func(m mounts.Mount) bool { return m.FSType == "autofs" }) {
		err := unix.Unmount(m.Point, 0)
		if errors.Is(err, unix.EBUSY) {
			err = unix.Unmount(m.Point, unix.MNT_DETACH)
		}
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("umount2(%s): %v", m.Point, err))
		} else {
			msgs = append(msgs, "unmounted the orphaned automount "+m.Point)
		}
	}
	return msgs
}

// isMountPoint reports whether dir is the root of a mount: its device
// differs from its parent's, or it is "/".
func isMountPoint(dir string) bool {
	var a, b unix.Stat_t
	if unix.Lstat(dir, &a) != nil || unix.Lstat(dir+"/..", &b) != nil {
		return false
	}
	return a.Dev != b.Dev || a.Ino == b.Ino
}
