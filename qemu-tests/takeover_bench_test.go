//go:build qemu && bench

package qemutests

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paroodise/paroodise/internal/testutil"
	"github.com/paroodise/paroodise/qemu-tests/vm"
)

// BenchmarkTakeover measures, per method, the time from starting
// `paroodise takeover` to the first successful login on the new server,
// as a ratio to the same VM's boot-to-SSH time (goal: at most 0.05), and
// what the new system costs: the tmpfs root's footprint and PID 1's RSS.
// Each method runs on a freshly booted guest, once (-benchtime 1x).
func BenchmarkTakeover(b *testing.B) {
	for _, tc := range []struct{ image, method string }{
		{vm.Bookworm, "reexec"},
		{vm.Trixie, "reexec"},
		{vm.Trixie, "soft-reboot"},
		{vm.BookwormSysvinit, "telinit"},
	} {
		b.Run(tc.image+"/"+tc.method, func(b *testing.B) {
			exe := testutil.Binary(b)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				g := vm.Boot(b, tc.image, vm.Options{})
				boot := g.Uptime()
				g.MustPut(b, exe, bin, 0o755)
				b.StartTimer()
				took, inGuest, tmpfs := timeTakeover(b, g, tc.method)
				b.StopTimer()
				b.ReportMetric(took.Seconds(), "s-to-login")
				b.ReportMetric(inGuest.Seconds(), "s-in-guest")
				b.ReportMetric(boot.Seconds(), "s-boot-to-ssh")
				b.ReportMetric(took.Seconds()/boot.Seconds(), "ratio-vs-boot")
				b.ReportMetric(tmpfs, "MiB-tmpfs")
				b.ReportMetric(float64(kib(b, g, "set -- $(grep VmRSS /proc/1/status); echo $2")), "KiB-pid1-rss")
				g.Close()
			}
		})
	}
}

// timeTakeover runs a takeover and tries to log in to the new server
// as fast as the client can. It returns the time to the first login, the
// time the takeover itself reported from its start to the new SSH server
// answering (0 for soft-reboot, which cannot wait for it) and the MiB the
// new root uses in its tmpfs.
func timeTakeover(b *testing.B, g *vm.Guest, method string) (time.Duration, time.Duration, float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := g.SSH(ctx, nil, bin+" takeover --method "+method)
	if err != nil {
		b.Fatal(err)
	}
	if method != "soft-reboot" && r.Code != 0 {
		b.Fatalf("takeover exit %d:\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	for {
		r, err := g.SSH(ctx, nil, "paroodise status >/dev/null")
		if err == nil && r.Code == 0 {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("no login to the new server: %v", err)
		}
	}
	took := time.Since(start)
	var inGuest time.Duration
	var tmpfs float64
	for _, l := range strings.Split(r.Stdout, "\n") {
		// "the new root uses 13.2 MiB of its 46 MiB tmpfs"
		if rest, ok := strings.CutPrefix(l, "the new root uses "); ok {
			tmpfs, _ = strconv.ParseFloat(strings.Fields(rest)[0], 64)
		}
		// "the new SSH server is up on [:22] (2.9s after takeover started)"
		if strings.HasPrefix(l, "the new SSH server is up") {
			s := l[strings.LastIndexByte(l, '(')+1 : strings.LastIndex(l, "s after")]
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				inGuest = time.Duration(f * float64(time.Second))
			}
		}
	}
	if tmpfs == 0 {
		b.Fatalf("the takeover did not report the tmpfs footprint:\n%s", r.Stdout)
	}
	return took, inGuest, tmpfs
}

func kib(b *testing.B, g *vm.Guest, cmd string) int {
	out := g.MustRun(b, cmd)
	n, err := strconv.Atoi(strings.TrimSpace(out))
	if err != nil {
		b.Fatalf("%s: %q", cmd, out)
	}
	return n
}
