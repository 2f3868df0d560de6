package pid1

import (
	"slices"
	"strings"

	"github.com/paroodise/paroodise/mounts"
)

// under reports whether path is dir or below it.
func under(path, dir string) bool {
	if dir == "/" {
		return true
	}
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// underDir picks the mounts at or below dir.
func underDir(dir string) func(mounts.Mount) bool {
	return func(m mounts.Mount) bool { return under(m.Point, dir) }
}

// unmountOrder returns the mounts pick selects in an order that can be
// unmounted: every mount before the one it sits on, so the deepest first.
// Stacked mounts on one path come out top first.
func unmountOrder(ms []mounts.Mount, pick func(mounts.Mount) bool) []mounts.Mount {
	byID := map[int]mounts.Mount{}
	for _, m := range ms {
		byID[m.ID] = m
	}
	var sel []mounts.Mount
	for _, m := range ms {
		if pick(m) {
			sel = append(sel, m)
		}
	}
	// depth counts the selected mounts this one stands on.
	depth := func(m mounts.Mount) int {
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
	slices.SortStableFunc(sel, func(a, b mounts.Mount) int {
		if da, db := depth(a), depth(b); da != db {
			return db - da
		}
		return strings.Compare(b.Point, a.Point)
	})
	return sel
}
