package shell

import (
	"os"
	"path/filepath"
	"testing"
)

func TestComplete(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc", "network"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "fstab"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "etc", "fstab.bak"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, ".hidden"), nil, 0o644)
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	os.WriteFile(filepath.Join(bin, "zzfrob"), nil, 0o755)
	for _, tc := range []struct {
		line string
		pos  int // -1: end of line
		want string
		ok   bool
	}{
		{"lsb", -1, "lsblk ", true},      // a toolbox command
		{"zzf", -1, "zzfrob ", true},     // from PATH
		{"cat et", -1, "cat etc/", true}, // a directory
		{"cat etc/fs", -1, "cat etc/fstab", true},
		{"cat etc/fstab", -1, "", false}, // ambiguous, nothing to add
		{"cat etc/n", -1, "cat etc/network/", true},
		{"echo x; lsb", -1, "echo x; lsblk ", true},
		{"cat " + dir + "/etc/fstab.", -1, "cat " + dir + "/etc/fstab.bak ", true},
		{"cat etc/fs | wc", 10, "cat etc/fstab | wc", true}, // cursor mid-line
		{"cat nothing", -1, "", false},
		{"cat ", -1, "", false}, // . files are not offered for an empty word
	} {
		pos := tc.pos
		if pos < 0 {
			pos = len(tc.line)
		}
		got, newPos, ok := complete(tc.line, pos, dir, bin)
		if ok != tc.ok || got != tc.want {
			t.Errorf("complete(%q, %d) = %q, %v; want %q, %v", tc.line, pos, got, ok, tc.want, tc.ok)
			continue
		}
		if ok && got[:newPos] != got[:len(got)-len(tc.line)+pos] {
			t.Errorf("complete(%q): cursor %d in %q", tc.line, newPos, got)
		}
	}
}
