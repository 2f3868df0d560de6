package pid1

import (
	"fmt"
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

// parseMountinfo parses mountinfo(5) text:
//
//	36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
func parseMountinfo(text string) ([]Mount, error) {
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
			Root: unescapeOctal(f[3]), Point: unescapeOctal(f[4]), Options: f[5],
			FSType: f[sep+1], Source: unescapeOctal(f[sep+2]),
		}
		if len(f) > sep+3 {
			m.SuperOptions = f[sep+3]
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// unescapeOctal undoes the kernel's \ooo escaping of space, tab, newline
// and backslash in mountinfo and /proc/swaps.
func unescapeOctal(s string) string {
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

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	if dir == "/" {
		return true
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// underDir picks the mounts at or below dir.
func underDir(dir string) func(Mount) bool {
	return func(m Mount) bool { return under(m.Point, dir) }
}

// unmountOrder returns the mounts pick selects in an order that can be
// unmounted: every mount before the one it sits on, so the deepest first.
// Stacked mounts on one path come out top first.
func unmountOrder(ms []Mount, pick func(Mount) bool) []Mount {
	byID := map[int]Mount{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	var sel []Mount
	for _, m := range ms {
		if pick(m) {
			sel = append(sel, m)
		}
	}
	// depth counts the selected mounts this one stands on.
	depth := func(m Mount) int {
		d := 0
		seen := map[int]bool{}
		for p, ok := byID[m.Parent]; ok && !seen[p.ID]; p, ok = byID[p.Parent] {
			seen[p.ID] = true
			if pick(p) {
				d++
			}
		}
		return d
	}
	slices.SortStableFunc(sel, func(a, b Mount) int {
		if da, db := depth(a), depth(b); da != db {
			return db - da
		}
		return strings.Compare(b.Point, a.Point)
	})
	return sel
}
