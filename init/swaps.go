package pid1

import "strings"

// Swap is one line of /proc/swaps.
type Swap struct {
	Path string // device or file
	File bool   // a swap file rather than a partition
}

// parseSwaps parses /proc/swaps:
//
//	Filename    Type       Size  Used  Priority
//	/dev/vda5   partition  1046524  0  -2
func parseSwaps(text string) []Swap {
	var out []Swap
	for i, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 {
			continue
		}
		out = append(out, Swap{Path: unescapeOctal(f[0]), File: f[1] == "file"})
	}
	return out
}
