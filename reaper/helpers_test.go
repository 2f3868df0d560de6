package reaper

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func osGetpid() int { return os.Getpid() }

func writeStat(t *testing.T, dir string, pid int, stat string) {
	t.Helper()
	p := filepath.Join(dir, strconv.Itoa(pid))
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "stat"), []byte(stat), 0o644); err != nil {
		t.Fatal(err)
	}
}
