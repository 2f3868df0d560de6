package rootfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Where the new root is mounted before it becomes /. Both are under /run,
// a tmpfs, so preparing the hand-over writes nothing to the old disk.
const (
	// PivotDir is the tmpfs for the pivot methods (re-exec, telinit).
	PivotDir = "/run/paroodise/newroot"
	// NextRoot is where systemd's soft-reboot looks for the next root.
	NextRoot = "/run/nextroot"
	// OldRootName is where the old / appears after pivot_root.
	OldRootName = "oldroot"
)

// MovedMounts are the API filesystems carried into the new root as they
// are, with everything mounted below them (ptys, cgroups, /run/user).
var MovedMounts = []string{"dev", "proc", "sys", "run"}

// SetPanic sets kernel.panic so that a crash of the new PID 1 reboots
// into the old system (which is still untouched on disk) instead of
// hanging. Undo restores the previous value.
func SetPanic(proc string, seconds int) Step {
	path := filepath.Join(proc, "sys", "kernel", "panic")
	var old []byte
	return Step{
		Name: fmt.Sprintf("set kernel.panic=%d (reboot %d s after a crash)", seconds, seconds),
		Do: func() error {
			var err error
			if old, err = os.ReadFile(path); err != nil {
				return err
			}
			return os.WriteFile(path, []byte(strconv.Itoa(seconds)+"\n"), 0o644)
		},
		Undo: func() error { return os.WriteFile(path, old, 0o644) },
	}
}

// MakePrivate stops mount propagation under /: systemd makes / shared at
// boot, and the kernel refuses MS_MOVE and pivot_root on shared mounts.
// Undo makes / shared again, which is systemd's boot-time setting.
func MakePrivate() Step {
	return Step{
		Name: "make / and every mount under it private (MS_REC|MS_PRIVATE)",
		Do: func() error {
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
				return fmt.Errorf("mount(/, MS_REC|MS_PRIVATE): %w", err)
			}
			return nil
		},
		Undo: func() error {
			if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_SHARED, ""); err != nil {
				return fmt.Errorf("mount(/, MS_REC|MS_SHARED): %w", err)
			}
			return nil
		},
	}
}

// MountTmpfs mounts a tmpfs of at most size bytes on dir, creating dir
// (and its parent, mode 0700) when missing. Undo unmounts it and removes
// what it created.
func MountTmpfs(dir string, size uint64) Step {
	var created []string
	return Step{
		Name: fmt.Sprintf("mount a tmpfs of at most %d MiB on %s", size>>20, dir),
		Do: func() error {
			for _, d := range []string{filepath.Dir(dir), dir} {
				if err := os.Mkdir(d, 0o700); err == nil {
					created = append(created, d)
				} else if !errors.Is(err, os.ErrExist) {
					return err
				}
			}
			if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
				return fmt.Errorf("%s is not an empty directory (%v): is another takeover running?", dir, err)
			}
			opts := fmt.Sprintf("mode=0755,size=%d", size)
			if err := unix.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
				return fmt.Errorf("mount(tmpfs, %s, %s): %w", dir, opts, err)
			}
			return nil
		},
		Undo: func() error {
			if err := unix.Unmount(dir, 0); err != nil {
				return fmt.Errorf("umount(%s): %w", dir, err)
			}
			for i := len(created) - 1; i >= 0; i-- {
				os.Remove(created[i])
			}
			return nil
		},
	}
}

// Populate lays the new root out in dir (see Build). Its undo is the
// tmpfs's: unmounting it drops everything.
func Populate(dir string, s *Spec) Step {
	return Step{
		Name: fmt.Sprintf("lay out the new root in %s (the binary, its names, keys, network, state)", dir),
		Do:   func() error { return Build(dir, s) },
		Undo: func() error { return nil },
	}
}

// PivotRoot makes dir the root of every process whose root was / (PID 1
// and the admin's session included) and puts the old / at /oldroot.
// Undo pivots back, the tmpfs returning to dir.
func PivotRoot(dir string) Step {
	return Step{
		Name: fmt.Sprintf("pivot_root: %s becomes /, the old / moves to /%s", dir, OldRootName),
		Do: func() error {
			if err := unix.Chdir(dir); err != nil {
				return fmt.Errorf("chdir(%s): %w", dir, err)
			}
			if err := unix.PivotRoot(".", OldRootName); err != nil {
				return fmt.Errorf("pivot_root(%s, %s/%s): %w", dir, dir, OldRootName, err)
			}
			return unix.Chdir("/")
		},
		Undo: func() error {
			old := "/" + OldRootName
			if err := unix.Chdir(old); err != nil {
				return fmt.Errorf("chdir(%s): %w", old, err)
			}
			// Relative to the old root, which becomes / again.
			put := strings.TrimPrefix(dir, "/")
			if err := unix.PivotRoot(".", put); err != nil {
				return fmt.Errorf("pivot_root(%s, %s): %w", old, dir, err)
			}
			return unix.Chdir("/")
		},
	}
}

// MoveMount moves the old root's /NAME (after the pivot: /oldroot/NAME)
// to /NAME in the new root. Moving keeps every open file, pty and
// submount; mounting fresh ones would leave the old ones pinning the old
// root. A NAME that is no mount of its own (a /run directory on the root
// filesystem in some containers) stays where it is. Undo moves it back.
func MoveMount(name string) Step {
	from, to := "/"+OldRootName+"/"+name, "/"+name
	moved := false
	return Step{
		Name: fmt.Sprintf("move %s to %s (MS_MOVE)", from, to),
		Do: func() error {
			if !isMountPoint(from) {
				return nil
			}
			if err := unix.Mount(from, to, "", unix.MS_MOVE, ""); err != nil {
				return fmt.Errorf("mount(%s, %s, MS_MOVE): %w", from, to, err)
			}
			moved = true
			return nil
		},
		Undo: func() error {
			if !moved {
				return nil
			}
			if err := unix.Mount(to, from, "", unix.MS_MOVE, ""); err != nil {
				return fmt.Errorf("mount(%s, %s, MS_MOVE): %w", to, from, err)
			}
			moved = false
			return nil
		},
	}
}

// isMountPoint tells a mount from a plain directory by its device: the
// API filesystems are never bind mounts of their parent's filesystem.
func isMountPoint(path string) bool {
	var st, parent unix.Stat_t
	if unix.Lstat(path, &st) != nil || unix.Lstat(filepath.Dir(path), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// PanicSeconds is kernel.panic during the hand-over.
const PanicSeconds = 10

// PivotSteps are the preparation for re-exec and telinit, with the new
// root at dir (PivotDir): afterwards it is / with /dev /proc /sys /run in
// it and the old / at /oldroot, and PID 1 only has to execute its own
// path again.
func PivotSteps(proc, dir string, s *Spec, size uint64) []Step {
	steps := []Step{
		SetPanic(proc, PanicSeconds),
		MakePrivate(),
		MountTmpfs(dir, size),
		Populate(dir, s),
		PivotRoot(dir),
	}
	for _, m := range MovedMounts {
		steps = append(steps, MoveMount(m))
	}
	return steps
}

// SoftRebootSteps prepare systemd's soft-reboot: the new root at
// /run/nextroot; systemd itself stops everything, moves the API mounts
// and switches root.
func SoftRebootSteps(proc string, s *Spec, size uint64) []Step {
	return []Step{
		SetPanic(proc, PanicSeconds),
		MountTmpfs(NextRoot, size),
		Populate(NextRoot, s),
	}
}

// Reexec asks systemd to re-execute itself: SIGTERM to PID 1 is the
// system manager's daemon-reexec, kept for compatibility with sysvinit.
// It needs no D-Bus and no reply, so nothing waits on a PID 1 that is
// about to become paroodise.
func Reexec() error {
	if err := unix.Kill(1, unix.SIGTERM); err != nil {
		return fmt.Errorf("kill(1, SIGTERM): %w", err)
	}
	return nil
}

// sysvinit's /run/initctl protocol (initreq.h): a 384-byte request.
const (
	initMagic    = 0x03091969
	initCmdRunlv = 1
	initReqSize  = 384
)

// TelinitRequest is `telinit u` as bytes: runlevel 'U' makes sysvinit
// re-execute /sbin/init, keeping its PID.
func TelinitRequest() []byte {
	var b bytes.Buffer
	for _, v := range []int32{initMagic, initCmdRunlv, 'U', 0} {
		binary.Write(&b, binary.NativeEndian, v)
	}
	b.Write(make([]byte, initReqSize-b.Len()))
	return b.Bytes()
}

// InitctlFIFOs are where sysvinit listens: /run/initctl since 2.88 on
// Debian, /dev/initctl before.
var InitctlFIFOs = []string{"/run/initctl", "/dev/initctl"}

// Telinit sends `telinit u` through sysvinit's FIFO itself: the telinit
// binary is in the old root, and run there (chroot /oldroot) it would not
// find the FIFO, which moved with /run.
func Telinit() error {
	var errs []error
	for _, p := range InitctlFIFOs {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			errs = append(errs, fmt.Errorf("%s: not a FIFO (%v)", p, err))
			continue
		}
		// O_NONBLOCK: fail with ENXIO rather than hang when init is not
		// reading.
		fd, err := unix.Open(p, unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("open(%s): %w", p, err))
			continue
		}
		_, err = unix.Write(fd, TelinitRequest())
		unix.Close(fd)
		if err != nil {
			return fmt.Errorf("write(%s): %w", p, err)
		}
		return nil
	}
	return fmt.Errorf("no sysvinit control FIFO: %w", errors.Join(errs...))
}
