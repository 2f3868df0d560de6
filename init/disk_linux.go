package pid1

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockDev is a block device as sysfs names it.
type blockDev struct {
	Name string // vda1, dm-0, md127
	Dev  string // MAJ:MIN
}

// sysBlock reads block-device topology from a sysfs tree.
type sysBlock struct{ sys string }

func (s sysBlock) dir(name string) string { return filepath.Join(s.sys, "class/block", name) }

// byDev resolves MAJ:MIN to the device's name.
func (s sysBlock) byDev(dev string) (string, error) {
	p, err := filepath.EvalSymlinks(filepath.Join(s.sys, "dev/block", dev))
	if err != nil {
		return "", fmt.Errorf("block device %s: %w", dev, err)
	}
	return filepath.Base(p), nil
}

func (s sysBlock) devOf(name string) string {
	b, _ := os.ReadFile(filepath.Join(s.dir(name), "dev"))
	return strings.TrimSpace(string(b))
}

func (s sysBlock) list(name, sub string) []string {
	ents, _ := os.ReadDir(filepath.Join(s.dir(name), sub))
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// whole returns the disk a partition belongs to, or name itself.
func (s sysBlock) whole(name string) string {
	if _, err := os.Stat(filepath.Join(s.dir(name), "partition")); err != nil {
		return name
	}
	p, err := filepath.EvalSymlinks(s.dir(name))
	if err != nil {
		return name
	}
	return filepath.Base(filepath.Dir(p))
}

// disksBelow follows slaves (dm, md, LVM) down to the whole disks.
func (s sysBlock) disksBelow(name string) []string {
	var out []string
	var walk func(n string, depth int)
	walk = func(n string, depth int) {
		sl := s.list(n, "slaves")
		if len(sl) == 0 || depth > 16 {
			if w := s.whole(n); !slices.Contains(out, w) {
				out = append(out, w)
			}
			return
		}
		for _, x := range sl {
			walk(x, depth+1)
		}
	}
	walk(name, 0)
	return out
}

// stackAbove lists the devices built on disk or its partitions (dm, md),
// topmost first: the order they can be taken down in.
func (s sysBlock) stackAbove(disk string) []blockDev {
	var out []blockDev
	seen := map[string]bool{}
	var visit func(n string, depth int)
	visit = func(n string, depth int) {
		if depth > 16 {
			return
		}
		for _, h := range s.list(n, "holders") {
			if seen[h] {
				continue
			}
			seen[h] = true
			visit(h, depth+1)
			out = append(out, blockDev{Name: h, Dev: s.devOf(h)})
		}
	}
	visit(disk, 0)
	for _, p := range s.partitions(disk) {
		visit(p, 0)
	}
	return out
}

func (s sysBlock) partitions(disk string) []string {
	var out []string
	for _, e := range s.list(disk, "") {
		if _, err := os.Stat(filepath.Join(s.dir(disk), e, "partition")); err == nil {
			out = append(out, e)
		}
	}
	return out
}

// parseDev parses "MAJ:MIN".
func parseDev(s string) (uint64, bool) {
	a, b, ok := strings.Cut(s, ":")
	ma, err1 := strconv.ParseUint(a, 10, 32)
	mi, err2 := strconv.ParseUint(b, 10, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, false
	}
	return unix.Mkdev(uint32(ma), uint32(mi)), true
}

// devString formats a device number as "MAJ:MIN".
func devString(d uint64) string { return fmt.Sprintf("%d:%d", unix.Major(d), unix.Minor(d)) }

// resolveDevice turns "/dev/vda1" or "MAJ:MIN" into "MAJ:MIN".
func resolveDevice(dev string) (string, error) {
	if _, ok := parseDev(dev); ok {
		return dev, nil
	}
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", dev, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return "", fmt.Errorf("%s is not a block device", dev)
	}
	return devString(st.Rdev), nil
}

// removeDM removes a device-mapper device (an LVM volume, a dm-crypt
// mapping) the way `dmsetup remove` does, by device number.
func removeDM(devFS, dev string) error {
	num, ok := parseDev(dev)
	if !ok {
		return fmt.Errorf("bad device number %q", dev)
	}
	ctl := filepath.Join(devFS, "mapper/control")
	fd, err := unix.Open(ctl, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", ctl, err)
	}
	defer unix.Close(fd)
	var io unix.DmIoctl
	io.Version = [3]uint32{unix.DM_VERSION_MAJOR, 0, 0}
	io.Data_size = unix.SizeofDmIoctl
	io.Data_start = unix.SizeofDmIoctl
	io.Dev = num
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.DM_DEV_REMOVE, uintptr(unsafe.Pointer(&io))); e != 0 {
		return fmt.Errorf("ioctl(%s, DM_DEV_REMOVE, dev %s): %w", ctl, dev, e)
	}
	return nil
}

// stopMD stops an md RAID array like `mdadm --stop`.
func stopMD(devFS, name string) error {
	const stopArray = 0x932 // _IO(MD_MAJOR, 0x32)
	p := filepath.Join(devFS, name)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, stopArray, 0); err != nil {
		return fmt.Errorf("ioctl(%s, STOP_ARRAY): %w", p, err)
	}
	return nil
}

// openExclusive checks that nothing (a mount, a dm or md device, another
// exclusive opener) claims the block device, in any namespace: the kernel
// refuses O_EXCL with EBUSY then, and for a whole disk also when one of its
// partitions is claimed.
func openExclusive(path string) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_EXCL|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open(%s, O_EXCL): %w", path, err)
	}
	unix.Close(fd)
	return nil
}

// swapoff is swapoff(2); x/sys/unix has no wrapper for it.
func swapoff(path string) error {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return err
	}
	if _, _, e := unix.Syscall(unix.SYS_SWAPOFF, uintptr(unsafe.Pointer(p)), 0, 0); e != 0 {
		return e
	}
	return nil
}

// detachLoop detaches a loop device like `losetup -d`; while it is still
// in use the kernel detaches it on last close.
func detachLoop(devFS, name string) error {
	p := filepath.Join(devFS, name)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer unix.Close(fd)
	if err := unix.IoctlSetInt(fd, unix.LOOP_CLR_FD, 0); err != nil {
		return fmt.Errorf("ioctl(%s, LOOP_CLR_FD): %w", p, err)
	}
	return nil
}
