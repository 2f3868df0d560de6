package takeover

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/internal/testutil"
)

// TestExecuteRollsBackWhenPID1DoesNotReexec runs the real hand-over (tmpfs,
// pivot_root, the moves of /dev /proc /sys /run) in a private mount
// namespace, with a trigger the old PID 1 ignores: after --wait the pivot
// must be undone and the mount table be as before.
func TestExecuteRollsBackWhenPID1DoesNotReexec(t *testing.T) {
	testutil.Root(t)
	h := newFakeHost(t)
	p, err := Preflight(h.Env(), Options{Method: MethodReexec})
	if err != nil || p.Err() != nil {
		t.Fatalf("preflight: %v %v", err, p.Err())
	}
	fired := 0
	orig := triggers[MethodReexec]
	triggers[MethodReexec] = struct {
		fire func() error
		what string
	}{func() error { fired++; return nil }, "a trigger the old init ignores"}
	defer func() { triggers[MethodReexec] = orig }()

	var out bytes.Buffer
	var before, after string
	testutil.InMountNS(t, func() {
		mountinfo := "/proc/thread-self/mountinfo"
		before = mountPoints(t, mountinfo)
		err = Execute(cli.IO{Stdout: &out, Stderr: &out}, p, time.Second)
		after = mountPoints(t, mountinfo)
	})
	if before == "" {
		t.Fatal("no mount namespace: nothing was run")
	}
	if err == nil || !strings.Contains(err.Error(), "did not re-execute within 1s") || !strings.Contains(err.Error(), "rolled back") {
		t.Fatalf("Execute: %v\n%s", err, out.String())
	}
	t.Logf("output:\n%s", out.String())
	if fired != 1 {
		t.Errorf("trigger fired %d times", fired)
	}
	if before != after {
		t.Errorf("mount table not restored:\nbefore:\n%s\nafter:\n%s\noutput:\n%s", before, after, out.String())
	}
}

// mountPoints lists the mount points with their filesystem types.
func mountPoints(t *testing.T, mountinfo string) string {
	b, err := os.ReadFile(mountinfo)
	if err != nil {
		t.Error(err)
		return ""
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(l)
		lines = append(lines, f[4]+" "+f[len(f)-3])
	}
	return strings.Join(lines, "\n")
}
