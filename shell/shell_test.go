package shell

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/reaper"
)

// sh runs a shell in-process (without taking over signals) and returns
// its exit status and output.
func sh(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	stdio := cli.IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb}
	o, err := parseArgs(args)
	if err != nil {
		return cli.Code(stdio, "sh", err), out.String(), errb.String()
	}
	return newShell(stdio).run(o), out.String(), errb.String()
}

func TestParseArgs(t *testing.T) {
	cmd := func(s string) *string { return &s }
	for _, tc := range []struct {
		args []string
		want options
	}{
		{nil, options{name: "sh"}},
		{[]string{"-c", "echo", "n", "a", "b"}, options{command: cmd("echo"), name: "n", params: []string{"a", "b"}}},
		{[]string{"-ec", "echo"}, options{command: cmd("echo"), name: "sh", setOpts: []string{"-e"}}},
		{[]string{"-o", "pipefail", "+x", "f", "a"}, options{file: "f", name: "f", params: []string{"a"}, setOpts: []string{"-o", "pipefail", "+x"}}},
		{[]string{"-s", "a", "b"}, options{stdin: true, name: "sh", params: []string{"a", "b"}}},
		{[]string{"-l"}, options{name: "sh"}},
		{[]string{"-i"}, options{interactive: true, name: "sh"}},
		{[]string{"--", "-f"}, options{file: "-f", name: "-f", params: []string{}}},
	} {
		got, err := parseArgs(tc.args)
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if (got.command == nil) != (tc.want.command == nil) || (got.command != nil && *got.command != *tc.want.command) ||
			got.file != tc.want.file || got.name != tc.want.name || got.stdin != tc.want.stdin ||
			got.interactive != tc.want.interactive || !slices.Equal(got.params, tc.want.params) || !slices.Equal(got.setOpts, tc.want.setOpts) {
			t.Errorf("%q: got %+v, want %+v", tc.args, *got, tc.want)
		}
	}
	for _, bad := range [][]string{{"-c"}, {"-q"}, {"-o"}} {
		if _, err := parseArgs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	noexec := filepath.Join(dir, "noexec")
	os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644)
	for _, tc := range []struct {
		script string
		code   int
		stderr string
	}{
		{"true", 0, ""},
		{"exit 3", 3, ""},
		{"/bin/sh -c 'exit 7'", 7, ""},
		{"no-such-command-xyz", 127, "sh: no-such-command-xyz: command not found\n"},
		{"/no/such/file", 127, "sh: /no/such/file: no such file or directory\n"},
		{noexec, 126, "sh: " + noexec + ": permission denied\n"},
		{"/bin/sh -c 'kill -9 $$'", 128 + 9, ""},
		{"/bin/sh -c 'kill -TERM $$'", 128 + 15, ""},
		{"if then", 2, ""},
		{"false; echo $?", 0, ""},
	} {
		code, _, errs := sh(t, "", "-c", tc.script)
		if code != tc.code || (tc.stderr != "" && errs != tc.stderr) {
			t.Errorf("%q: exit %d, stderr %q; want %d, %q", tc.script, code, errs, tc.code, tc.stderr)
		}
	}
}

func TestOutputAndParams(t *testing.T) {
	code, out, _ := sh(t, "", "-c", `echo "$0:$1:$2:$#"; /bin/echo external`, "name", "a b", "c")
	if code != 0 || out != "name:a b:c:2\nexternal\n" {
		t.Errorf("-c: %d %q", code, out)
	}
	script := filepath.Join(t.TempDir(), "s")
	os.WriteFile(script, []byte("echo \"$0 $1\"\nexit 5\n"), 0o644)
	if code, out, _ := sh(t, "", script, "arg"); code != 5 || out != script+" arg\n" {
		t.Errorf("file: %d %q", code, out)
	}
	if code, _, errs := sh(t, "", filepath.Join(t.TempDir(), "missing")); code != 127 || !strings.Contains(errs, "missing") {
		t.Errorf("missing file: %d %q", code, errs)
	}
}

func TestStdinStream(t *testing.T) {
	code, out, _ := sh(t, "echo a\nfor i in 1 2; do\n  echo $i\ndone\nexit 4\necho never\n")
	if code != 4 || out != "a\n1\n2\n" {
		t.Errorf("%d %q", code, out)
	}
	if code, out, _ := sh(t, "echo $1$2\n", "-s", "x", "y"); code != 0 || out != "xy\n" {
		t.Errorf("-s: %d %q", code, out)
	}
	// A background job outlives the line that started it.
	if code, out, _ := sh(t, "(/bin/sleep 0.3; echo bg) &\necho fg\nwait\n"); code != 0 || out != "fg\nbg\n" {
		t.Errorf("background job: %d %q", code, out)
	}
	if code, _, errs := sh(t, "echo ok\nif fi\n"); code != 2 || errs == "" {
		t.Errorf("syntax error: %d %q", code, errs)
	}
}

func TestOptions(t *testing.T) {
	if code, out, _ := sh(t, "", "-e", "-c", "false; echo reached"); code != 1 || out != "" {
		t.Errorf("-e: %d %q", code, out)
	}
	if code, _, _ := sh(t, "", "-o", "pipefail", "-c", "false | true"); code != 1 {
		t.Errorf("pipefail: %d", code)
	}
	if code, _, errs := sh(t, "", "-o", "nonsense", "-c", "true"); code != 2 || errs == "" {
		t.Errorf("bad -o: %d %q", code, errs)
	}
}

func TestEnvironment(t *testing.T) {
	code, out, _ := sh(t, "", "-c", "export A=1; B=2; C=3 /usr/bin/env")
	if code != 0 || !strings.Contains(out, "\nA=1\n") || !strings.Contains(out, "\nC=3\n") || strings.Contains(out, "\nB=2\n") {
		t.Errorf("%d %q", code, out)
	}
}

func TestKillAndUmask(t *testing.T) {
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	pid := sleep.Process.Pid
	if code, _, errs := sh(t, "", "-c", "kill -s HUP "+strconv.Itoa(pid)); code != 0 {
		t.Fatalf("kill: %d %q", code, errs)
	}
	sleep.Wait()
	if ws := sleep.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGHUP {
		t.Errorf("sleep ended with %v, want SIGHUP", sleep.ProcessState)
	}
	for _, bad := range []string{"kill -FOO 1", "kill", "kill %1", "kill 999999999"} {
		if code, _, errs := sh(t, "", "-c", bad); code != 1 || errs == "" {
			t.Errorf("%q: %d %q", bad, code, errs)
		}
	}
	if _, out, _ := sh(t, "", "-c", "kill -l"); !strings.Contains(out, " 9 KILL\n") {
		t.Errorf("kill -l: %q", out)
	}
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	if code, out, _ := sh(t, "", "-c", "umask 027 && umask"); code != 0 || out != "0027\n" {
		t.Errorf("umask: %d %q", code, out)
	}
	if code, _, _ := sh(t, "", "-c", "umask 9"); code != 1 {
		t.Errorf("umask 9: %d", code)
	}
}

// TestReaperKeepsStatus runs children while the reaper loop collects
// orphans, as under PID 1: each child's status must still reach the shell,
// which it would not if the shell waited for children on its own.
func TestReaperKeepsStatus(t *testing.T) {
	reaper.Loop()
	code, out, errs := sh(t, "", "-c", `n=0; while [ $n -lt 40 ]; do /bin/sh -c 'exit 7'; [ $? = 7 ] || echo "lost $n"; n=$((n+1)); done`)
	if code != 0 || out != "" {
		t.Errorf("%d %q %q", code, out, errs)
	}
}
