package sha256sum

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paroodise/paroodise/cli"
)

func run(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	stdio := cli.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	return cli.Code(stdio, "sha256sum", Run(stdio, args)), out.String(), errb.String()
}

// Sum of "abc" from FIPS 180-2.
const abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

func TestSumAndCheck(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := run("abc"); code != 0 || out != abc+"  -\n" {
		t.Fatalf("stdin: %d %q", code, out)
	}
	code, out, _ := run("", f)
	if code != 0 || out != abc+"  "+f+"\n" {
		t.Fatalf("file: %d %q", code, out)
	}
	list := filepath.Join(dir, "SUMS")
	os.WriteFile(list, []byte(out), 0o644)
	if code, out, _ := run("", "-c", list); code != 0 || out != f+": OK\n" {
		t.Fatalf("check ok: %d %q", code, out)
	}
	os.WriteFile(f, []byte("abd"), 0o644)
	if code, out, errs := run("", "-c", list); code != 1 || out != f+": FAILED\n" || !strings.Contains(errs, "did NOT match") {
		t.Fatalf("check bad: %d %q %q", code, out, errs)
	}
	if code, _, errs := run("", "-c", "-"); code != 1 || errs == "" {
		t.Fatalf("empty list: %d %q", code, errs)
	}
}

func TestMissingFileKeepsGoing(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	os.WriteFile(f, []byte("abc"), 0o644)
	code, out, errs := run("", filepath.Join(dir, "nope"), f)
	if code != 1 || out != abc+"  "+f+"\n" || !strings.Contains(errs, "nope") {
		t.Fatalf("%d %q %q", code, out, errs)
	}
}

func TestMalformed(t *testing.T) {
	in := abc + "  -\nnot a sum line\n"
	code, _, errs := run(in, "-c")
	if code != 1 || !strings.Contains(errs, "improperly formatted") {
		t.Fatalf("%d %q", code, errs)
	}
}
