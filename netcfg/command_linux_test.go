package netcfg

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paroodise/paroodise/cli"
)

func runMain(args ...string) (stdout, stderr string, code int) {
	var o, e bytes.Buffer
	stdio := cli.IO{Stdin: strings.NewReader(""), Stdout: &o, Stderr: &e}
	code = cli.Code(stdio, "paroodise netcfg", Main(stdio, args))
	return o.String(), e.String(), code
}

func TestCommandUsage(t *testing.T) {
	doc := filepath.Join(t.TempDir(), "net.json")
	if err := os.WriteFile(doc, []byte(sampleDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string // in stdout, or stderr when the code is not 0
	}{
		{[]string{"-h"}, 0, ""},
		{[]string{"show", "-h"}, 0, ""},
		{[]string{"apply", "-h"}, 0, ""},
		{nil, 2, "missing subcommand"},
		{[]string{"frobnicate"}, 2, `unknown subcommand "frobnicate"`},
		{[]string{"capture"}, 2, "exactly one FILE"},
		{[]string{"show", "a", "b"}, 2, "at most one FILE"},
		{[]string{"apply", "-net", "addr=1.2.3.4", doc}, 2, "--net: addr=1.2.3.4"},
		{[]string{"show", doc}, 0, "default via 172.31.1.1 dev eth0 proto dhcp metric 100 onlink"},
		{[]string{"show", "-json", doc}, 0, `"valid_lft": 86300`},
		{[]string{"show", filepath.Join(t.TempDir(), "missing")}, 1, "no such file"},
	} {
		stdout, stderr, code := runMain(tc.args...)
		where := stdout
		if code != 0 {
			where = stderr
		}
		if code != tc.code || !strings.Contains(where, tc.out) {
			t.Errorf("netcfg %q: exit %d, want %d with %q\nstdout: %s\nstderr: %s", tc.args, code, tc.code, tc.out, stdout, stderr)
		}
		if code == 1 && strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("netcfg %q: error is not one line: %q", tc.args, stderr)
		}
	}
}

// capture and apply through the command, with a --net override.
func TestCommandCaptureApply(t *testing.T) {
	tn := newTestNet(t)
	tn.veth("eth0", "52:54:00:00:00:01", "p0")
	tn.pip("addr add 172.31.1.1/32 dev p0\nroute add 203.0.113.7/32 dev p0")
	tn.ip("addr add 192.0.2.5/24 dev eth0\nroute add default via 192.0.2.1 dev eth0")
	doc := filepath.Join(t.TempDir(), "net.json")
	if _, stderr, code := runMain("capture", doc); code != 0 {
		t.Fatalf("capture: %d %s", code, stderr)
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	stdout, stderr, code := runMain("apply", "-resolv-conf", resolv, "-check",
		"-net", "dev=52:54:00:00:00:01,addr=203.0.113.7/32,gw=172.31.1.1,dns=9.9.9.9", doc)
	if code != 0 || !strings.Contains(stdout, "changed   route  default via 172.31.1.1 dev eth0 proto static onlink") ||
		!strings.Contains(stdout, "reachable: gateway 172.31.1.1 on eth0 answered") {
		t.Fatalf("apply: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if b, err := os.ReadFile(resolv); err != nil || !strings.Contains(string(b), "nameserver 9.9.9.9") {
		t.Errorf("resolv.conf: %v %s", err, b)
	}
	stdout, _, _ = runMain("show")
	if !strings.Contains(stdout, "203.0.113.7/32") {
		t.Errorf("show after apply:\n%s", stdout)
	}
}

// A document that does not fit the machine (its NIC is missing here):
// every failure is a report line, stderr gets one line, the exit is 1.
func TestCommandApplyFailureIsOneLine(t *testing.T) {
	newTestNet(t)
	doc := filepath.Join(t.TempDir(), "net.json")
	if err := os.WriteFile(doc, []byte(sampleDoc), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runMain("apply", "-resolv-conf", "", doc)
	if code != 1 || strings.Count(stdout, "failed ") < 2 || strings.Count(strings.TrimSpace(stderr), "\n") != 0 ||
		!strings.Contains(stderr, "items failed (marked failed above); the rest was applied") {
		t.Fatalf("apply of a foreign document: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}
