package mounts

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	ms, err := Parse(`22 1 0:21 / / rw,relatime - tmpfs tmpfs rw
30 22 253:1 / /oldroot rw,relatime shared:1 master:2 - ext4 /dev/vda1 rw,errors=remount-ro
33 30 0:41 /sub /oldroot/home/a\040b ro - tmpfs my\011src rw
`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Mount{
		{ID: 22, Parent: 1, Dev: "0:21", Root: "/", Point: "/", Options: "rw,relatime", FSType: "tmpfs", Source: "tmpfs", SuperOptions: "rw"},
		{ID: 30, Parent: 22, Dev: "253:1", Root: "/", Point: "/oldroot", Options: "rw,relatime", FSType: "ext4", Source: "/dev/vda1", SuperOptions: "rw,errors=remount-ro"},
		{ID: 33, Parent: 30, Dev: "0:41", Root: "/sub", Point: "/oldroot/home/a b", Options: "ro", FSType: "tmpfs", Source: "my\tsrc", SuperOptions: "rw"},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Fatalf("got  %+v\nwant %+v", ms, want)
	}
	if ms[1].ReadOnly() || !ms[2].ReadOnly() {
		t.Fatal("ReadOnly")
	}
	for _, bad := range []string{"garbage line\n", "x 1 0:1 / / rw - tmpfs tmpfs rw\n", "1 1 0:1 / / rw tmpfs tmpfs rw\n"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}

func TestParseSwaps(t *testing.T) {
	sw, err := ParseSwaps("Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/vda5                               partition\t1046524\t\t0\t\t-2\n/oldroot/swap\\040file file 1000 0 -3\n")
	if err != nil {
		t.Fatal(err)
	}
	want := []Swap{{Path: "/dev/vda5", Type: "partition", Size: 1046524 << 10}, {Path: "/oldroot/swap file", Type: "file", Size: 1000 << 10}}
	if !reflect.DeepEqual(sw, want) || sw[0].File() || !sw[1].File() {
		t.Fatalf("%+v", sw)
	}
	if _, err := ParseSwaps("Filename Type Size\n/dev/x partition lots\n"); err == nil {
		t.Fatal("bad size parsed")
	}
}

func FuzzParse(f *testing.F) {
	f.Add("30 22 253:1 / /oldroot rw,relatime shared:1 - ext4 /dev/vda1 rw\n")
	f.Add(`33 30 0:41 / /a\040b ro - tmpfs t\134 rw`)
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := Parse(s)
		if err == nil && len(ms) > len(s) {
			t.Fatalf("%d mounts from %d bytes", len(ms), len(s))
		}
	})
}
