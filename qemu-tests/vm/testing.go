package vm

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// Time-outs generous enough for TCG on a busy 2-core host, where a boot
// takes 40-150 s.
const (
	BootTimeout    = 6 * time.Minute
	CommandTimeout = 10 * time.Minute
)

// Boot starts a guest of image for a test and waits until ssh logs in with
// strict host key checking. The VM is killed when the test ends; if the
// test failed, the serial console is logged first. Any error fails the test.
func Boot(t testing.TB, image string, opts Options) *Guest {
	t.Helper()
	if opts.Logf == nil {
		opts.Logf = t.Logf
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	g, err := Start(ctx, image, opts)
	if err != nil {
		t.Fatalf("start %s guest: %v", image, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serial console of the %s guest:\n%s", image, g.Serial())
		}
		g.Close()
	})
	if err := g.WaitSSH(BootTimeout); err != nil {
		t.Fatalf("boot %s: %v", image, err)
	}
	t.Logf("%s guest: ssh up %.0fs after qemu start", image, g.Uptime().Seconds())
	return g
}

// MustRun runs command on the guest and returns its stdout with surrounding
// white space trimmed; a failure fails the test with the remote stderr.
func (g *Guest) MustRun(t testing.TB, command string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	out, err := g.Run(ctx, command)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return strings.TrimSpace(out)
}

// MustPut copies a local file to the guest (see PutFile) or fails the test.
func (g *Guest) MustPut(t testing.TB, local, remote string, mode os.FileMode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), CommandTimeout)
	defer cancel()
	if err := g.PutFile(ctx, local, remote, mode); err != nil {
		t.Fatal(err)
	}
}
