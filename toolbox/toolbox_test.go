package toolbox

import (
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
)

// notTools are argv[0] names of the binary that must not be run from a
// shell by accident: they start PID 1.
var notTools = []string{"init", "systemd"}

func TestNamesMatchTools(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "tools.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		want = append(want, path.Base(p))
	}
	cmds, err := os.ReadDir("../cmd")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cmds {
		if !slices.Contains(notTools, c.Name()) {
			want = append(want, c.Name())
		}
	}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("names = %q\nwant    %q (tools.go imports and cmd/ dirs)", names, want)
	}
	for _, n := range notTools {
		if Has(n) {
			t.Errorf("Has(%q)", n)
		}
	}
	if !Has("ls") || !Has("sh") || Has("bash") {
		t.Error("Has is wrong")
	}
}

func TestInstall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// A real tool already in place is kept.
	if err := os.WriteFile(filepath.Join(dir, "ls"), []byte("real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Install(dir, "/x/paroodise"); err != nil {
		t.Fatal(err)
	}
	if got, err := os.Readlink(filepath.Join(dir, "cat")); err != nil || got != "/x/paroodise" {
		t.Errorf("cat -> %q, %v", got, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "ls")); string(b) != "real" {
		t.Error("existing ls replaced")
	}
	if err := Install(dir, "/x/paroodise"); err != nil {
		t.Errorf("second Install: %v", err)
	}
	if err := Install("/proc/nope", "/x"); err == nil {
		t.Error("Install into /proc succeeded")
	}
}
