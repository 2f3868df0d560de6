package lsblk

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paroodise/paroodise/cli"
)

// fixture builds a fake /sys/block with one disk of two partitions, an
// empty loop device and a mountinfo mounting partition 1 at two places.
func fixture(t *testing.T) Paths {
	dir := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(dir, "sys", rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("vda/dev", "254:0")
	write("vda/size", "41943040") // 20 GiB
	write("vda/ro", "0")
	write("vda/removable", "0")
	write("vda/vda2/dev", "254:2")
	write("vda/vda2/size", "2097152") // 1 GiB
	write("vda/vda2/partition", "2")
	write("vda/vda1/dev", "254:1")
	write("vda/vda1/size", "39843807")
	write("vda/vda1/partition", "1")
	write("loop0/dev", "7:0")
	write("loop0/size", "0")
	write("loop0/ro", "1")
	mi := filepath.Join(dir, "mountinfo")
	os.WriteFile(mi, []byte(
		"22 1 254:1 / / rw,relatime - ext4 /dev/vda1 rw\n"+
			"30 22 254:1 /srv /mnt/old\\040root rw - ext4 /dev/vda1 rw\n"+
			"23 22 0:21 / /proc rw - proc proc rw\n"), 0o644)
	return Paths{SysBlock: filepath.Join(dir, "sys"), MountInfo: mi}
}

func run(p Paths, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	stdio := cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	return cli.Code(stdio, "lsblk", p.Run(stdio, args)), out.String(), errb.String()
}

func TestList(t *testing.T) {
	p := fixture(t)
	code, out, errs := run(p)
	if code != 0 {
		t.Fatalf("%d %s", code, errs)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	want := [][]string{
		{"NAME", "MAJ:MIN", "RM", "SIZE", "RO", "TYPE", "MOUNTPOINTS"},
		{"vda", "254:0", "0", "20G", "0", "disk"},
		{"├─vda1", "254:1", "0", "19G", "0", "part", "/", "/mnt/old root"},
		{"└─vda2", "254:2", "0", "1G", "0", "part"},
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		got := strings.Fields(lines[i])
		if i == 2 {
			// The mount point holding a space is the rest of the line.
			got = append(got[:6], strings.SplitN(strings.Join(got[6:], " "), " ", 2)...)
		}
		if strings.Join(got, "|") != strings.Join(w, "|") {
			t.Errorf("line %d = %q, want %q", i, got, w)
		}
	}
	if _, out, _ := run(p, "-a", "-b"); !strings.Contains(out, "loop0") || !strings.Contains(out, "21474836480") {
		t.Errorf("-a -b:\n%s", out)
	}
}

func TestErrors(t *testing.T) {
	if code, _, errs := run(Paths{SysBlock: "/nonexistent", MountInfo: "/proc/self/mountinfo"}); code != 1 || !strings.Contains(errs, "/nonexistent") {
		t.Errorf("missing sysfs: %d %q", code, errs)
	}
	if code, _, _ := run(fixture(t), "vda"); code != 2 {
		t.Errorf("argument: %d", code)
	}
}

func TestHuman(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 512: "512B", 1024: "1K", 1536: "1.5K", 20 << 30: "20G", 500107862016: "465.8G"} {
		if got := human(n); got != want {
			t.Errorf("human(%d) = %q, want %q", n, got, want)
		}
	}
}
