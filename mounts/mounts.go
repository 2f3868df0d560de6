// Package mounts reads the kernel's mount table (/proc/PID/mountinfo) and
// swap table (/proc/swaps), which takeover inspects and init tears down.
package mounts

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Mount is one line of /proc/PID/mountinfo.
type Mount struct {
	ID, Parent   int
	Dev          string // "MAJ:MIN"
	Root         string // path of the mount's root within its filesystem
	Point        string // mount point, unescaped
	Options      string // per-mount options (ro, rw, nosuid …)
	FSType       string
	Source       string
	SuperOptions string
}

// ReadOnly reports whether the mount is read-only.
func (m Mount) ReadOnly() bool {
	return slices.Contains(strings.Split(m.Options, ","), "ro")
}

// Read parses a mountinfo file such as /proc/self/mountinfo.
func Read(path string) ([]Mount, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(string(b))
}

// Parse parses mountinfo(5) text:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func Parse(text string) ([]Mount, error) {
	var ms []Mount
	for n, line := range strings.Split(text, "\n") {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		sep := slices.Index(f, "-")
		if len(f) < 7 || sep < 6 || len(f) < sep+3 {
			return nil, fmt.Errorf("mountinfo line %d: malformed: %q", n+1, line)
		}
		id, err1 := strconv.Atoi(f[0])
		parent, err2 := strconv.Atoi(f[1])
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("mountinfo line %d: bad ids: %q", n+1, line)
		}
		m := Mount{
			ID: id, Parent: parent, Dev: f[2],
			Root: Unescape(f[3]), Point: Unescape(f[4]), Options: f[5],
			FSType: f[sep+1], Source: Unescape(f[sep+2]),
		}
		if len(f) > sep+3 {
			m.SuperOptions = f[sep+3]
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// Swap is one line of /proc/swaps.
type Swap struct {
	Path string // device or file
	Type string // "partition" or "file"
	Size uint64 // bytes
}

// File reports whether the swap is a file rather than a device.
func (s Swap) File() bool { return s.Type == "file" }

// ParseSwaps parses /proc/swaps:
//
//	Filename    Type       Size     Used  Priority
//	/dev/vda5   partition  1046524  0     -2
func ParseSwaps(text string) ([]Swap, error) {
	var out []Swap
	for n, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || (n == 0 && f[0] == "Filename") {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("/proc/swaps line %d: malformed: %q", n+1, line)
		}
		kb, err := strconv.ParseUint(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc/swaps line %d: size %q: %w", n+1, f[2], err)
		}
		out = append(out, Swap{Path: Unescape(f[0]), Type: f[1], Size: kb << 10})
	}
	return out, nil
}

// Unescape undoes the kernel's \ooo escaping of space, tab, newline and
// backslash in mountinfo and /proc/swaps.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
