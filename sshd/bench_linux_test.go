//go:build bench

package sshd

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/paroodise/paroodise/internal/testutil"
)

// BenchmarkSSH compares `paroodise sshd` with the machine's own OpenSSH
// sshd on loopback in one run: 1 GiB through `ssh host 'cat > /dev/null'`
// (best of three each, alternating, so a busy machine hurts both alike),
// and the server's RSS idle and with 16 sessions open. Run it with
// `make bench` (go test -tags bench -bench SSH -benchtime 1x ./sshd/).
func BenchmarkSSH(b *testing.B) {
	testutil.Root(b)
	for _, tool := range []string{"ssh", "head", "/usr/sbin/sshd"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("%s not installed (apt-get install openssh-client openssh-server)", tool)
		}
	}
	dir := b.TempDir()
	hostKey := filepath.Join(dir, "host_key")
	clientKey := filepath.Join(dir, "id")
	writeKey(b, hostKey, newEd25519(b))
	client := writeKey(b, clientKey, newEd25519(b))
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, gossh.MarshalAuthorizedKey(client.PublicKey()), 0o600); err != nil {
		b.Fatal(err)
	}

	ours := startParoodise(b, dir, hostKey, authKeys)
	theirs := startOpenSSH(b, dir, hostKey, authKeys)

	for range b.N {
		var best [2]time.Duration
		for round := 0; round < 3; round++ {
			for i, port := range []int{ours.port, theirs.port} {
				d := pushGiB(b, clientKey, port)
				if best[i] == 0 || d < best[i] {
					best[i] = d
				}
			}
		}
		mbps := func(d time.Duration) float64 { return 1024 / d.Seconds() }
		ratio := best[1].Seconds() / best[0].Seconds()
		idle := rssKiB(b, ours.cmd.Process.Pid)
		busy := withSessions(b, clientKey, ours.port, 16, func() int { return rssKiB(b, ours.cmd.Process.Pid) })
		b.ReportMetric(mbps(best[0]), "paroodise-MiB/s")
		b.ReportMetric(mbps(best[1]), "openssh-MiB/s")
		b.ReportMetric(ratio, "throughput-ratio")
		b.ReportMetric(float64(idle)/1024, "rss-idle-MiB")
		b.ReportMetric(float64(busy)/1024, "rss-16-sessions-MiB")
		fmt.Printf("sshd: 1 GiB through ssh 'cat > /dev/null': paroodise %.0f MiB/s (%s), OpenSSH %.0f MiB/s (%s), ratio %.2f (goal >= 0.8)\n",
			mbps(best[0]), negotiated(b, clientKey, ours.port), mbps(best[1]), negotiated(b, clientKey, theirs.port), ratio)
		fmt.Printf("sshd: paroodise sshd RSS: %.1f MiB idle, %.1f MiB with 16 sessions open\n",
			float64(idle)/1024, float64(busy)/1024)
	}
}

func newEd25519(b *testing.B) ed25519.PrivateKey {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	return k
}

type benchServer struct {
	cmd  *exec.Cmd
	port int
}

func freePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startBenchServer runs cmd and waits until its port accepts connections.
func startBenchServer(b *testing.B, cmd *exec.Cmd, port int) *benchServer {
	logFile, err := os.Create(filepath.Join(b.TempDir(), "server.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if b.Failed() {
			logFile.Seek(0, io.SeekStart)
			io.Copy(os.Stderr, logFile)
		}
		logFile.Close()
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return &benchServer{cmd: cmd, port: port}
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never listened on %d", cmd.Path, port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startParoodise(b *testing.B, dir, hostKey, authKeys string) *benchServer {
	port := freePort(b)
	cmd := exec.Command(testutil.Binary(b), "sshd", "-listen", fmt.Sprintf("127.0.0.1:%d", port),
		"-host-key", hostKey, "-authorized-keys", authKeys, "-state-dir", filepath.Join(dir, "state"))
	return startBenchServer(b, cmd, port)
}

func startOpenSSH(b *testing.B, dir, hostKey, authKeys string) *benchServer {
	port := freePort(b)
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // its privilege separation directory
		b.Fatal(err)
	}
	conf := filepath.Join(dir, "sshd_config")
	err := os.WriteFile(conf, []byte(fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PasswordAuthentication no
LogLevel ERROR
`, port, hostKey, authKeys)), 0o600)
	if err != nil {
		b.Fatal(err)
	}
	return startBenchServer(b, exec.Command("/usr/sbin/sshd", "-D", "-e", "-f", conf), port)
}

func benchSSH(key string, port int, args ...string) *exec.Cmd {
	user, _, _ := whoAmI()
	base := []string{"-F", "/dev/null", "-i", key, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
		"-o", "LogLevel=ERROR", "-l", user, "-p", strconv.Itoa(port), "127.0.0.1"}
	return exec.Command("ssh", append(base, args...)...)
}

// pushGiB times head -c 1G /dev/zero | ssh host 'cat > /dev/null'.
func pushGiB(b *testing.B, key string, port int) time.Duration {
	cmd := benchSSH(key, port, "cat > /dev/null")
	defer feedGiB(b, cmd)()
	start := time.Now()
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("ssh to port %d: %v %s", port, err, msg)
	}
	return time.Since(start)
}

// negotiated is the cipher and MAC a default ssh client ends up with.
func negotiated(b *testing.B, key string, port int) string {
	cmd := benchSSH(key, port, "true")
	cmd.Args = append(cmd.Args[:1], append([]string{"-v"}, cmd.Args[1:]...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("ssh -v: %v %s", err, out)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if _, after, ok := strings.Cut(l, "kex: client->server cipher: "); ok {
			return strings.TrimSpace(after)
		}
	}
	return "cipher unknown"
}

// withSessions opens n sessions, calls f while all are open, and closes them.
func withSessions(b *testing.B, key string, port, n int, f func() int) int {
	var cmds []*exec.Cmd
	defer func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}()
	for range n {
		c := benchSSH(key, port, "echo ready; exec sleep 600")
		out, err := c.StdoutPipe()
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Start(); err != nil {
			b.Fatal(err)
		}
		cmds = append(cmds, c)
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || line != "ready\n" {
			b.Fatalf("session %d: %q %v", len(cmds), line, err)
		}
		go io.Copy(io.Discard, out)
	}
	return f()
}

// rssKiB is VmRSS of pid.
func rssKiB(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	b.Fatalf("no VmRSS for %d", pid)
	return 0
}
