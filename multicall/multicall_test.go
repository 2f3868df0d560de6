package multicall

import (
	"bytes"
	"os"
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

func TestPID1AlwaysRunsInit(t *testing.T) {
	var ran []string
	for i := range commands {
		if commands[i].Name == "init" {
			orig := commands[i].Run
			commands[i].Run = func(stdio cli.IO, args []string) error {
				ran = append(ran, strings.Join(args, " "))
				return nil
			}
			defer func() { commands[i].Run = orig }()
		}
	}
	isPID1 = func() bool { return true }
	defer func() { isPID1 = func() bool { return os.Getpid() == 1 } }()
	for _, argv := range [][]string{{"/usr/local/sbin/paroodise"}, {"/lib/systemd/systemd", "--system", "--deserialize=12"}, {"paroodise", "quiet"}} {
		if code, _, errs := run(argv...); code != 0 {
			t.Errorf("%q as PID 1: exit %d, %s", argv, code, errs)
		}
	}
	if len(ran) != 3 || ran[1] != "--system --deserialize=12" || ran[2] != "quiet" {
		t.Fatalf("init ran with %q", ran)
	}
	// Another name keeps its meaning, as for init=/bin/sh.
	if code, _, errs := run("/bin/sh", "-c", "exit 3"); code != 3 || len(ran) != 3 {
		t.Fatalf("sh as PID 1: exit %d (%s), init ran %d times", code, errs, len(ran))
	}
}
