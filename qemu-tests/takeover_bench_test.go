//go:build qemu && bench

package qemutests

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
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

// timeTakeover runs a takeover and then logs in to the new server as
// soon as the client can. It returns the time to the first login, the
// time the takeover itself reported from its start to the new SSH server
// answering (0 for soft-reboot, which cannot wait for it) and the MiB the
// new root uses in its tmpfs.
func timeTakeover(b *testing.B, g *vm.Guest, method string) (time.Duration, time.Duration, float64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The admin's session is already open when they type the command: the
	// takeover runs over a connection set up beforehand (ssh
	// multiplexing), so its SSH handshake is not counted; the login to the
	// new server afterwards is a full one.
	sock := filepath.Join(b.TempDir(), "mux")
	master := exec.CommandContext(ctx, "ssh", append(g.SSHOptions(), "-o", "ControlMaster=yes", "-o", "ControlPath="+sock, "-N", g.Target())...)
	if err := master.Start(); err != nil {
		b.Fatal(err)
	}
	defer master.Process.Kill()
	for exec.Command("ssh", append(g.SSHOptions(), "-o", "ControlPath="+sock, "-O", "check", g.Target())...).Run() != nil {
		if ctx.Err() != nil {
			b.Fatal("ssh master connection did not come up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ssh", append(g.SSHOptions(), "-o", "ControlPath="+sock, g.Target(), bin+" takeover --method "+method)...)
	cmd.Stdout, cmd.Stderr, cmd.WaitDelay = &stdout, &stderr, 5*time.Second
	start := time.Now()
	err := cmd.Run()
	r := vm.Result{Stdout: stdout.String(), Stderr: stderr.String()}
	if method != "soft-reboot" && err != nil {
		b.Fatalf("takeover: %v:\n%s%s", err, r.Stdout, r.Stderr)
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
