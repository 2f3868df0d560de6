package multicall

import (
	"bytes"
	"strings"
	"testing"

	"github.com/paroodise/paroodise/cli"
)

func run(argv ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Run(cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, argv)
	return code, out.String(), errb.String()
}

func TestDispatch(t *testing.T) {
	if code, out, _ := run("/usr/bin/paroodise", "help"); code != 0 || !strings.Contains(out, "version") {
		t.Fatalf("help: %d %q", code, out)
	}
	if code, out, _ := run("paroodise", "version"); code != 0 || !strings.HasPrefix(out, "paroodise ") {
		t.Fatalf("version: %d %q", code, out)
	}
	code, _, errs := run("paroodise", "frobnicate")
	if code != 2 || strings.Count(errs, "\n") != 1 || !strings.Contains(errs, "unknown command") {
		t.Fatalf("unknown: %d %q", code, errs)
	}
	if code, _, _ := run("paroodise"); code != 2 {
		t.Fatalf("no command: %d", code)
	}
}

func TestEveryCommandHasHelp(t *testing.T) {
	for _, c := range commands {
		code, _, errs := run("paroodise", c.Name, "-h")
		if code != 0 || !strings.Contains(errs, "usage:") {
			t.Errorf("%s -h: code %d, stderr %q", c.Name, code, errs)
		}
	}
}

func TestAliasesAreUnique(t *testing.T) {
	seen := map[string]string{}
	for _, c := range commands {
		for _, a := range append([]string{c.Name}, c.Aliases...) {
			if prev, ok := seen["alias:"+a]; ok && prev != c.Name {
				t.Errorf("alias %q used by %s and %s", a, prev, c.Name)
			}
			seen["alias:"+a] = c.Name
		}
	}
}
