//go:build bench

package toolbox_test

import (
	"github.com/paroodise/paroodise/internal/testutil"

	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/paroodise/paroodise/toolbox"
)

// BenchmarkBinarySize reports the size of the binary, so it shows in
// `make bench` next to the speed numbers.
func BenchmarkBinarySize(b *testing.B) {
	st, err := os.Stat(testutil.Toolbox(b))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
	}
	b.ReportMetric(float64(st.Size())/(1<<20), "MiB")
}

// links makes a directory with the toolbox linked in.
func links(b *testing.B) string {
	dir := b.TempDir()
	if err := toolbox.Install(dir, testutil.Toolbox(b)); err != nil {
		b.Fatal(err)
	}
	return dir
}

// best runs cmd n times (fresh from mk each time) and returns the fastest.
func best(b *testing.B, n int, mk func() *exec.Cmd) time.Duration {
	var min time.Duration
	for i := 0; i < n; i++ {
		c := mk()
		start := time.Now()
		if out, err := c.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v\n%s", c.Args, err, out)
		}
		if d := time.Since(start); i == 0 || d < min {
			min = d
		}
	}
	return min
}

// BenchmarkStartup: how long a toolbox command takes to start and exit,
// against the host's own /bin/true (ratio = ours / host; lower is better).
// Every toolbox command pays the start-up of the whole binary.
func BenchmarkStartup(b *testing.B) {
	dir := links(b)
	for b.Loop() {
	}
	ours := best(b, 50, func() *exec.Cmd { return exec.Command(filepath.Join(dir, "true")) })
	host := best(b, 50, func() *exec.Cmd { return exec.Command("/bin/true") })
	b.ReportMetric(float64(ours.Microseconds()), "µs-toolbox")
	b.ReportMetric(float64(host.Microseconds()), "µs-host")
	b.ReportMetric(float64(ours)/float64(host), "ratio")
}

// BenchmarkSha256sum: throughput of the toolbox's sha256sum over 256 MiB
// against coreutils' (ratio = ours / host; goal ≥ 0.8), the check an admin
// runs on an image before flashing it.
func BenchmarkSha256sum(b *testing.B) {
	dir := links(b)
	data := filepath.Join(b.TempDir(), "data")
	buf := make([]byte, 256<<20)
	rand.Read(buf)
	if err := os.WriteFile(data, buf, 0o644); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
	}
	ours := best(b, 3, func() *exec.Cmd { return exec.Command(filepath.Join(dir, "sha256sum"), data) })
	host := best(b, 3, func() *exec.Cmd { return exec.Command("sha256sum", data) })
	mb := float64(len(buf)) / (1 << 20)
	b.ReportMetric(mb/ours.Seconds(), "MiB/s-toolbox")
	b.ReportMetric(mb/host.Seconds(), "MiB/s-host")
	b.ReportMetric(host.Seconds()/ours.Seconds(), "ratio")
}
