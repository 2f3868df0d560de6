// Package lsblk lists block devices, their partitions, sizes and mount
// points from sysfs and mountinfo, so an admin can find the disk to flash
// or to mount without any tool from the old system.
package lsblk

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/paroodise/paroodise/cli"
)

// Paths are where Run reads; tests point them at fixtures.
type Paths struct {
	SysBlock  string // /sys/block
	MountInfo string // /proc/self/mountinfo
}

// Device is one disk or partition.
type Device struct {
	Name      string
	MajMin    string
	Size      int64 // bytes
	RO        bool
	Removable bool
	Type      string // disk, part, loop, rom, dm, md
	Mounts    []string
	Parts     []Device
	num       int64 // partition number, for ordering
}

// Run is the lsblk command.
func Run(stdio cli.IO, args []string) error {
	return Paths{SysBlock: "/sys/block", MountInfo: "/proc/self/mountinfo"}.Run(stdio, args)
}

// Run is the lsblk command reading from p.
func (p Paths) Run(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "lsblk", "[-b] [-a]",
		"List block devices with their partitions, sizes and mount points.")
	bytes := fs.Bool("b", false, "print sizes in bytes")
	all := fs.Bool("a", false, "also list empty devices")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("unexpected argument %q", fs.Arg(0))
	}
	devs, err := p.List()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdio.Stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintln(w, "NAME\tMAJ:MIN\tRM\tSIZE\tRO\tTYPE\tMOUNTPOINTS")
	size := human
	if *bytes {
		size = func(n int64) string { return strconv.FormatInt(n, 10) }
	}
	row := func(prefix string, d Device) {
		fmt.Fprintf(w, "%s%s\t%s\t%d\t%s\t%d\t%s\t%s\n", prefix, d.Name, d.MajMin,
			b2i(d.Removable), size(d.Size), b2i(d.RO), d.Type, strings.Join(d.Mounts, " "))
	}
	for _, d := range devs {
		if d.Size == 0 && !*all {
			continue
		}
		row("", d)
		for i, part := range d.Parts {
			prefix := "├─"
			if i == len(d.Parts)-1 {
				prefix = "└─"
			}
			row(prefix, part)
		}
	}
	return w.Flush()
}

// List reads every block device with its partitions, sorted by name.
func (p Paths) List() ([]Device, error) {
	ents, err := os.ReadDir(p.SysBlock)
	if err != nil {
		return nil, err
	}
	mounts, err := readMounts(p.MountInfo)
	if err != nil {
		return nil, err
	}
	var devs []Device
	for _, e := range ents {
		dir := filepath.Join(p.SysBlock, e.Name())
		d, err := readDevice(dir, e.Name(), mounts)
		if err != nil {
			return nil, err
		}
		d.Type = diskType(dir, e.Name())
		d.Removable = readInt(filepath.Join(dir, "removable")) == 1
		sub, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, s := range sub {
			pdir := filepath.Join(dir, s.Name())
			if _, err := os.Stat(filepath.Join(pdir, "partition")); err != nil {
				continue
			}
			part, err := readDevice(pdir, s.Name(), mounts)
			if err != nil {
				return nil, err
			}
			part.Type = "part"
			part.num = readInt(filepath.Join(pdir, "partition"))
			part.Removable = d.Removable
			d.Parts = append(d.Parts, part)
		}
		sort.Slice(d.Parts, func(i, j int) bool { return d.Parts[i].num < d.Parts[j].num })
		devs = append(devs, d)
	}
	sort.Slice(devs, func(i, j int) bool { return devs[i].Name < devs[j].Name })
	return devs, nil
}

func readDevice(dir, name string, mounts map[string][]string) (Device, error) {
	dev, err := os.ReadFile(filepath.Join(dir, "dev"))
	if err != nil {
		return Device{}, err
	}
	majmin := strings.TrimSpace(string(dev))
	// sysfs sizes are in 512-byte sectors whatever the logical block size.
	return Device{
		Name:   name,
		MajMin: majmin,
		Size:   readInt(filepath.Join(dir, "size")) * 512,
		RO:     readInt(filepath.Join(dir, "ro")) == 1,
		Mounts: mounts[majmin],
	}, nil
}

func diskType(dir, name string) string {
	switch {
	case strings.HasPrefix(name, "loop"):
		return "loop"
	case strings.HasPrefix(name, "sr"):
		return "rom"
	}
	if _, err := os.Stat(filepath.Join(dir, "dm")); err == nil {
		return "dm"
	}
	if _, err := os.Stat(filepath.Join(dir, "md")); err == nil {
		return "md"
	}
	return "disk"
}

func readInt(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}

// readMounts maps "major:minor" to the mount points of that device.
func readMounts(path string) (map[string][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ...
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		m[fields[2]] = append(m[fields[2]], unescape(fields[4]))
	}
	return m, sc.Err()
}

// unescape undoes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// human prints a size as lsblk does: 1024-based units, one decimal when
// it does not round to a whole number.
func human(n int64) string {
	units := "BKMGTPE"
	v := float64(n)
	u := 0
	for v >= 1024 && u < len(units)-1 {
		v /= 1024
		u++
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", v), ".0") + string(units[u])
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
