package takeover

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/paroodise/paroodise/mounts"
)

// rootMount is the mount at "/", the last one when / was mounted over.
func rootMount(ms []mounts.Mount) (mounts.Mount, bool) {
	var r mounts.Mount
	ok := false
	for _, m := range ms {
		if m.Point == "/" {
			r, ok = m, true
		}
	}
	return r, ok
}

// Holder is a block device stacked on the disk: device mapper (LVM,
// dm-crypt) or md RAID.
type Holder struct {
	Dev  string // kernel name, e.g. dm-0, md127
	Name string // dm name, e.g. vg0-root; empty for md
	On   string // the disk or partition it holds, e.g. vda3
}

func (h Holder) String() string {
	if h.Name != "" {
		return fmt.Sprintf("%s (%s) on %s", h.Name, h.Dev, h.On)
	}
	return fmt.Sprintf("%s on %s", h.Dev, h.On)
}

// Disk is what the preflight learns about the disk under /.
type Disk struct {
	RootSource string         // e.g. /dev/vda1 or /dev/mapper/vg0-root
	RootFSType string         // e.g. ext4
	RootDev    string         // kernel name of the device / is on, e.g. vda1, dm-0
	RootMajMin string         // its "major:minor", e.g. 254:1
	Disks      []string       // whole disks under it, e.g. [vda]
	Mounts     []mounts.Mount // other mounts on those disks
	Swaps      []mounts.Swap  // every active swap: init turns them all off
	Holders    []Holder       // dm and md devices stacked on those disks
}

// blockName maps "major:minor" to the kernel's device name via sysfs.
func blockName(sys, dev string) (string, error) {
	link, err := os.Readlink(filepath.Join(sys, "dev", "block", dev))
	if err != nil {
		return "", fmt.Errorf("block device %s: %w", dev, err)
	}
	return filepath.Base(link), nil
}

// blockBySource finds the kernel name of a mount source such as
// /dev/vda2 or /dev/mapper/vg0-root through sysfs; "" when it is none.
func blockBySource(sys, source string) string {
	if name, ok := strings.CutPrefix(source, "/dev/mapper/"); ok {
		dms, _ := filepath.Glob(filepath.Join(sys, "class", "block", "dm-*"))
		for _, dm := range dms {
			if b, err := os.ReadFile(filepath.Join(dm, "dm", "name")); err == nil && strings.TrimSpace(string(b)) == name {
				return filepath.Base(dm)
			}
		}
		return ""
	}
	if !strings.HasPrefix(source, "/dev/") {
		return ""
	}
	name := filepath.Base(source)
	if _, err := os.Stat(filepath.Join(sys, "class", "block", name)); err != nil {
		return ""
	}
	return name
}

// disksUnder returns the whole disks a block device lives on: the parent
// of a partition, the disks under every slave of a dm/md device.
func disksUnder(sys, name string, seen map[string]bool) []string {
	if seen[name] {
		return nil
	}
	seen[name] = true
	dir := filepath.Join(sys, "class", "block", name)
	if slaves, _ := os.ReadDir(filepath.Join(dir, "slaves")); len(slaves) > 0 {
		var out []string
		for _, s := range slaves {
			out = append(out, disksUnder(sys, s.Name(), seen)...)
		}
		return out
	}
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		real, err := filepath.EvalSymlinks(dir)
		if err == nil {
			return []string{filepath.Base(filepath.Dir(real))}
		}
	}
	return []string{name}
}

// partitionsOf lists a disk's partitions (sysfs subdirectories that have
// a "partition" file).
func partitionsOf(sys, disk string) []string {
	dir := filepath.Join(sys, "class", "block", disk)
	ents, _ := os.ReadDir(dir + "/")
	var parts []string
	for _, e := range ents {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "partition")); err == nil {
			parts = append(parts, e.Name())
		}
	}
	return parts
}

func holdersOf(sys, disk string) []Holder {
	var hs []Holder
	for _, dev := range append([]string{disk}, partitionsOf(sys, disk)...) {
		base := filepath.Join(sys, "class", "block", disk)
		if dev != disk {
			base = filepath.Join(base, dev)
		}
		ents, _ := os.ReadDir(filepath.Join(base, "holders"))
		for _, e := range ents {
			h := Holder{Dev: e.Name(), On: dev}
			if b, err := os.ReadFile(filepath.Join(sys, "class", "block", e.Name(), "dm", "name")); err == nil {
				h.Name = strings.TrimSpace(string(b))
			}
			hs = append(hs, h)
		}
	}
	return hs
}

// inspectDisk finds the device under / and everything else on its disks.
func inspectDisk(proc, sys string) (Disk, error) {
	var d Disk
	ms, err := mounts.Read(filepath.Join(proc, "self", "mountinfo"))
	if err != nil {
		return d, fmt.Errorf("read mount table: %w", err)
	}
	root, ok := rootMount(ms)
	if !ok {
		return d, fmt.Errorf("%s/self/mountinfo has no mount at /", proc)
	}
	d.RootSource, d.RootFSType, d.RootMajMin = root.Source, root.FSType, root.Dev
	if sw, err := os.ReadFile(filepath.Join(proc, "swaps")); err == nil {
		if d.Swaps, err = mounts.ParseSwaps(string(sw)); err != nil {
			return d, err
		}
	}
	if strings.HasPrefix(root.Dev, "0:") {
		// btrfs reports an anonymous device number per subvolume: find the
		// device by its source. Overlay, tmpfs, nfs have none at all;
		// init still unmounts them.
		d.RootDev = blockBySource(sys, root.Source)
		if d.RootDev == "" {
			return d, nil
		}
		if b, err := os.ReadFile(filepath.Join(sys, "class", "block", d.RootDev, "dev")); err == nil {
			d.RootMajMin = strings.TrimSpace(string(b))
		}
	} else if d.RootDev, err = blockName(sys, root.Dev); err != nil {
		return d, err
	}
	d.Disks = disksUnder(sys, d.RootDev, map[string]bool{})
	sort.Strings(d.Disks)
	onDisk := map[string]bool{}
	for _, disk := range d.Disks {
		onDisk[disk] = true
		for _, p := range partitionsOf(sys, disk) {
			onDisk[p] = true
		}
		d.Holders = append(d.Holders, holdersOf(sys, disk)...)
	}
	for _, h := range d.Holders {
		onDisk[h.Dev] = true
	}
	for _, m := range ms {
		if m.ID == root.ID || strings.HasPrefix(m.Dev, "0:") {
			continue
		}
		if name, err := blockName(sys, m.Dev); err == nil && onDisk[name] {
			d.Mounts = append(d.Mounts, m)
		}
	}
	return d, nil
}
