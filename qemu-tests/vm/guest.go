package vm

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options tune a guest. The zero value is a 1 GiB, 2 CPU guest that
// reboots in place (a reboot boots whatever is on its disk by then).
type Options struct {
	// MemoryMiB is the guest's RAM; 0 means 1024.
	MemoryMiB int
	// CPUs is the number of vCPUs; 0 means 2.
	CPUs int
	// Forward lists extra guest TCP ports to forward from free ports on
	// 127.0.0.1; see Guest.HostPort. Port 22 is always forwarded.
	Forward []int
	// NoReboot makes qemu exit when the guest reboots or powers off,
	// instead of resetting it.
	NoReboot bool
	// ExtraArgs are appended to the qemu command line.
	ExtraArgs []string
	// Logf hears progress (image builds, boot); nil means silent.
	Logf func(format string, args ...any)
}

// Result is what one run of the ssh client gave.
type Result struct {
	Stdout, Stderr string
	// Code is the remote command's exit status; 255 means ssh itself failed
	// (connection refused, host key mismatch, ...).
	Code int
}

// ExitError is returned by Run when the remote command exits non-zero.
type ExitError struct {
	Command string
	Result
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("ssh %q: exit status %d: %s", e.Command, e.Code, strings.TrimSpace(e.Stderr))
}

// Guest is a running qemu VM. Close kills it; Boot arranges that for tests.
type Guest struct {
	Image *Image
	Dir   string // private scratch directory: overlay, serial log, sockets

	*vmState
	sshPort int // the guest port ssh connects to (see Via)
}

// vmState is shared by a Guest and its Via views.
type vmState struct {
	key        string
	knownHosts string
	serialPath string
	qemuLog    string
	monitor    string
	ports      map[int]int // guest port -> host port
	started    time.Time

	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	closed   chan struct{}
	closeOne sync.Once
	monMu    sync.Mutex
	logf     func(string, ...any)
}

// Start ensures the image is built, then starts a qemu guest booting it
// from a fresh copy-on-write overlay. It does not wait for SSH (see
// WaitSSH). The caller must Close the guest.
func Start(ctx context.Context, image string, opts Options) (*Guest, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	img, err := EnsureImage(ctx, image, logf)
	if err != nil {
		return nil, err
	}
	key, err := TestKey()
	if err != nil {
		return nil, err
	}
	sweepStale()
	dir, err := os.MkdirTemp("", "paroodise-vm-")
	if err != nil {
		return nil, err
	}
	g := &Guest{Image: img, Dir: dir, sshPort: 22, vmState: &vmState{
		key:        key,
		knownHosts: filepath.Join(dir, "known_hosts"),
		serialPath: filepath.Join(dir, "serial.log"),
		qemuLog:    filepath.Join(dir, "qemu.log"),
		monitor:    filepath.Join(dir, "monitor.sock"),
		closed:     make(chan struct{}),
		logf:       logf,
	}}
	overlay := filepath.Join(dir, "disk.qcow2")
	if out, err := exec.CommandContext(ctx, "qemu-img", "create", "-q", "-f", "qcow2",
		"-b", img.Disk, "-F", "raw", overlay).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("qemu-img create -b %s %s: %w: %s", img.Disk, overlay, err, out)
	}
	// A free port found by listening can be taken before qemu binds it;
	// qemu then exits at once, and a retry picks new ports.
	for attempt := 1; ; attempt++ {
		err = g.launch(opts, overlay)
		if err == nil {
			break
		}
		if attempt == 3 || !strings.Contains(err.Error(), "forwarding") {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := g.TrustHostKeys(img.HostKeys); err != nil {
		g.Close()
		return nil, err
	}
	logf("started %s guest (qemu pid %d, ssh port %d, dir %s)", image, g.cmd.Process.Pid, g.Port(), dir)
	return g, nil
}

func (g *Guest) launch(opts Options, overlay string) error {
	mem, cpus := opts.MemoryMiB, opts.CPUs
	if mem == 0 {
		mem = 1024
	}
	if cpus == 0 {
		cpus = 2
	}
	g.ports = map[int]int{}
	netdev := "user,id=n0,restrict=on"
	for _, gp := range append([]int{22}, opts.Forward...) {
		if _, dup := g.ports[gp]; dup {
			continue
		}
		hp, err := freePort()
		if err != nil {
			return err
		}
		g.ports[gp] = hp
		netdev += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-:%d", hp, gp)
	}
	accel := []string{"-accel", "tcg,thread=multi", "-cpu", "qemu64"}
	// /dev/kvm exists on these build hosts but cannot boot a stock kernel,
	// so KVM is used only when asked for.
	if os.Getenv("PAROODISE_KVM") == "1" {
		accel = []string{"-accel", "kvm", "-cpu", "host"}
	}
	args := []string{
		"-name", fmt.Sprintf("paroodise-vm-%d", os.Getpid()),
		"-machine", "q35", "-m", strconv.Itoa(mem), "-smp", strconv.Itoa(cpus),
	}
	args = append(args, accel...)
	args = append(args,
		"-display", "none", "-nodefaults",
		"-serial", "file:"+g.serialPath,
		"-monitor", "unix:"+g.monitor+",server=on,wait=off",
		"-drive", "file="+overlay+",if=virtio,format=qcow2",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0",
	)
	if opts.NoReboot {
		args = append(args, "-no-reboot")
	}
	args = append(args, opts.ExtraArgs...)
	logFile, err := os.Create(g.qemuLog)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command("qemu-system-x86_64", args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start qemu-system-x86_64: %w", err)
	}
	g.cmd = cmd
	g.exited = make(chan struct{})
	g.started = time.Now()
	go func() {
		g.exitErr = cmd.Wait()
		close(g.exited)
	}()
	register(cmd.Process.Pid)
	// The monitor answers only once qemu has finished setting up every
	// device and forward, so a reply means the VM is really running.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := g.Monitor("info status"); err == nil {
			return nil
		}
		select {
		case <-g.exited:
			unregister(cmd.Process.Pid)
			return fmt.Errorf("qemu exited at start (%v): %s", g.exitErr, tail(g.qemuLog, 2000))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			g.kill()
			return fmt.Errorf("qemu monitor did not answer within 30s: %s", tail(g.qemuLog, 2000))
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Close kills the VM and removes its scratch directory. It is safe to call
// more than once.
func (g *Guest) Close() error {
	g.closeOne.Do(func() {
		close(g.closed)
		g.kill()
		os.RemoveAll(g.Dir)
	})
	return nil
}

func (g *Guest) kill() {
	if g.cmd == nil {
		return
	}
	g.cmd.Process.Kill()
	<-g.exited
	unregister(g.cmd.Process.Pid)
}

// Exited is closed when the qemu process has ended.
func (g *Guest) Exited() <-chan struct{} { return g.exited }

// Port is the host port (on 127.0.0.1) that ssh connects to: the one
// forwarded to the guest's port 22, or to the port given to Via.
func (g *Guest) Port() int { return g.ports[g.sshPort] }

// Via returns a view of the same guest whose ssh calls (SSH, Run, PutFile,
// WaitSSH, ...) go to guestPort, one of Options.Forward: e.g. a second SSH
// server listening on 2222. The known_hosts file covers every forwarded
// port, so the view checks the same host keys.
func (g *Guest) Via(guestPort int) *Guest {
	if _, ok := g.ports[guestPort]; !ok {
		panic(fmt.Sprintf("vm: guest port %d is not forwarded (add it to Options.Forward)", guestPort))
	}
	v := *g
	v.sshPort = guestPort
	return &v
}

// HostPort is the host port forwarded to guestPort (one of
// Options.Forward, or 22), or 0 if that port is not forwarded.
func (g *Guest) HostPort(guestPort int) int { return g.ports[guestPort] }

// Uptime is how long ago qemu was started.
func (g *Guest) Uptime() time.Duration { return time.Since(g.started) }

// Serial returns everything the guest wrote to its serial console so far,
// across reboots.
func (g *Guest) Serial() string {
	b, _ := os.ReadFile(g.serialPath)
	return string(b)
}

// KnownHosts is the path of the known_hosts file the ssh client checks.
func (g *Guest) KnownHosts() string { return g.knownHosts }

// Key is the path of the private key root's authorized_keys accepts.
func (g *Guest) Key() string { return g.key }

// TrustHostKeys replaces the known_hosts file with keys ("type base64") for
// every forwarded port, e.g. after the guest was flashed with another image
// whose Image.HostKeys it now serves. Until then a different host key fails
// every ssh call.
func (g *Guest) TrustHostKeys(keys []string) error {
	var hosts []string
	for _, hp := range g.ports {
		hosts = append(hosts, fmt.Sprintf("[127.0.0.1]:%d", hp))
	}
	sort.Strings(hosts)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s %s\n", strings.Join(hosts, ","), k)
	}
	return os.WriteFile(g.knownHosts, []byte(b.String()), 0o600)
}

// SSHOptions are the client options every connection uses, valid for ssh,
// scp and sftp alike: the test key, the strict known_hosts file, the port
// and time-outs. Append the target "root@127.0.0.1" (see Target).
func (g *Guest) SSHOptions() []string {
	return []string{
		"-F", "/dev/null", // no host user configuration
		"-i", g.key,
		"-o", "IdentitiesOnly=yes",
		"-o", "Port=" + strconv.Itoa(g.Port()),
		"-o", "UserKnownHostsFile=" + g.knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UpdateHostKeys=no",
		"-o", "BatchMode=yes",
		"-o", "ConnectTimeout=10",
		"-o", "ServerAliveInterval=5",
		"-o", "ServerAliveCountMax=6",
		"-o", "LogLevel=ERROR",
	}
}

// Target is the ssh destination of the guest.
func (g *Guest) Target() string { return "root@127.0.0.1" }

// SSHCommand is the command line an admin would type to log in.
func (g *Guest) SSHCommand() string {
	return fmt.Sprintf("ssh -i %s -p %d -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes %s",
		g.key, g.Port(), g.knownHosts, g.Target())
}

// SSH runs the OpenSSH client with SSHOptions, the target and args (a
// remote command, or client flags before it). stdin may be nil. The error
// is non-nil only when the client could not be run or ctx ended; look at
// Result.Code for the exit status.
func (g *Guest) SSH(ctx context.Context, stdin io.Reader, args ...string) (Result, error) {
	argv := append(g.SSHOptions(), g.Target())
	argv = append(argv, args...)
	return runClient(ctx, stdin, "ssh", argv...)
}

func runClient(ctx context.Context, stdin io.Reader, name string, args ...string) (Result, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin = stdin
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	// Do not hang on a session the killed client left behind.
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	r := Result{Stdout: stdout.String(), Stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("%s: %w (stderr: %s)", name, ctx.Err(), strings.TrimSpace(r.Stderr))
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
		return r, nil
	case err != nil:
		return r, fmt.Errorf("%s: %w", name, err)
	}
	return r, nil
}

// Run runs a shell command line on the guest and returns its stdout. A
// non-zero exit gives an *ExitError holding stdout, stderr and the code.
func (g *Guest) Run(ctx context.Context, command string) (string, error) {
	return g.RunInput(ctx, nil, command)
}

// RunInput is Run with stdin streamed to the remote command.
func (g *Guest) RunInput(ctx context.Context, stdin io.Reader, command string) (string, error) {
	r, err := g.SSH(ctx, stdin, command)
	if err != nil {
		return r.Stdout, err
	}
	if r.Code != 0 {
		return r.Stdout, &ExitError{Command: command, Result: r}
	}
	return r.Stdout, nil
}

// PutFile copies a local file to remote on the guest with mode, through
// ssh and cat (so it works wherever a shell with cat, chmod and mv runs).
// It writes a temporary file first and renames it, so a running binary
// can be replaced.
func (g *Guest) PutFile(ctx context.Context, local, remote string, mode os.FileMode) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp := remote + ".part"
	q := shellQuote
	_, err = g.RunInput(ctx, f, fmt.Sprintf("cat > %s && chmod %o %s && mv -f %s %s",
		q(tmp), mode.Perm(), q(tmp), q(tmp), q(remote)))
	if err != nil {
		return fmt.Errorf("put %s to guest:%s: %w", local, remote, err)
	}
	return nil
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// BootID returns the guest kernel's boot id, which changes on every boot.
func (g *Guest) BootID(ctx context.Context) (string, error) {
	out, err := g.Run(ctx, "cat /proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(out), err
}

// ErrExited means qemu ended while waiting for the guest.
var ErrExited = errors.New("qemu exited")

// WaitSSH waits until `ssh true` succeeds. It gives up early when qemu
// exits, the kernel panics, or the guest serves a host key not in
// known_hosts (waiting would not help).
func (g *Guest) WaitSSH(timeout time.Duration) error {
	return g.poll(timeout, "ssh login", func(ctx context.Context) (bool, error) {
		r, err := g.SSH(ctx, nil, "true")
		if err != nil {
			return false, nil
		}
		if strings.Contains(r.Stderr, "Host key verification failed") ||
			strings.Contains(r.Stderr, "IDENTIFICATION HAS CHANGED") {
			return false, fmt.Errorf("guest host key does not match known_hosts: %s", strings.TrimSpace(r.Stderr))
		}
		return r.Code == 0, nil
	})
}

// WaitReboot waits until the guest answers ssh with a boot id other than
// oldBootID (from BootID before the reboot was triggered).
func (g *Guest) WaitReboot(oldBootID string, timeout time.Duration) error {
	return g.poll(timeout, "reboot", func(ctx context.Context) (bool, error) {
		id, err := g.BootID(ctx)
		return err == nil && id != "" && id != oldBootID, nil
	})
}

// WaitDown waits until ssh no longer logs in (the guest is shutting down,
// rebooting, or its ssh server is gone).
func (g *Guest) WaitDown(timeout time.Duration) error {
	return g.poll(timeout, "ssh to stop answering", func(ctx context.Context) (bool, error) {
		r, err := g.SSH(ctx, nil, "true")
		return err != nil || r.Code == 255, nil
	})
}

// WaitExit waits for qemu to exit (a poweroff, or a reboot with NoReboot).
func (g *Guest) WaitExit(timeout time.Duration) error {
	select {
	case <-g.exited:
		return nil
	case <-g.closed:
		return errors.New("guest closed")
	case <-time.After(timeout):
		return fmt.Errorf("qemu still running after %v", timeout)
	}
}

// WaitSerial waits until substr appears in the serial console output at
// or after byte offset from (use len(g.Serial()) to wait for new output),
// and returns the offset just past the match.
func (g *Guest) WaitSerial(substr string, from int, timeout time.Duration) (int, error) {
	var end int
	err := g.poll(timeout, fmt.Sprintf("%q on the serial console", substr), func(context.Context) (bool, error) {
		s := g.Serial()
		if from > len(s) {
			return false, nil
		}
		if i := strings.Index(s[from:], substr); i >= 0 {
			end = from + i + len(substr)
			return true, nil
		}
		return false, nil
	})
	return end, err
}

// poll calls check about once a second until it reports done, fails, qemu
// exits, the guest is closed or timeout passes. Each check gets a context
// bounded to 30s so one hung ssh client cannot eat the whole budget.
func (g *Guest) poll(timeout time.Duration, what string, check func(context.Context) (bool, error)) error {
	deadline := time.Now().Add(timeout)
	start := time.Now()
	hung := panicWatch{from: len(g.Serial())}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		done, err := check(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if done {
			g.logf("%s after %.0fs", what, time.Since(start).Seconds())
			return nil
		}
		if hung.check(g.Serial()) {
			return fmt.Errorf("waiting for %s: guest kernel panicked and did not restart (see serial console)", what)
		}
		select {
		case <-g.exited:
			return fmt.Errorf("waiting for %s: %w (%v): %s", what, ErrExited, g.exitErr, tail(g.qemuLog, 2000))
		case <-g.closed:
			return fmt.Errorf("waiting for %s: guest closed", what)
		case <-time.After(time.Second):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: timed out after %v", what, timeout)
		}
	}
}

// panicWatch tells a kernel panic that hangs the guest from one that
// reboots it (kernel.panic=N, as a takeover may set): only a panic with no
// new kernel boot after it for panicGrace counts as hung.
type panicWatch struct {
	from  int // serial offset where the wait began
	since time.Time
}

const panicGrace = 90 * time.Second

func (w *panicWatch) check(serial string) bool {
	if w.from > len(serial) {
		w.from = 0
	}
	s := serial[w.from:]
	i := strings.LastIndex(s, "Kernel panic")
	if i < 0 || strings.Contains(s[i:], "Linux version") {
		w.since = time.Time{}
		return false
	}
	if w.since.IsZero() {
		w.since = time.Now()
	}
	return time.Since(w.since) > panicGrace
}

// Monitor runs a qemu human monitor command (e.g. "system_reset",
// "system_powerdown", "info status") and returns its output.
func (g *Guest) Monitor(command string) (string, error) {
	g.monMu.Lock()
	defer g.monMu.Unlock()
	c, err := net.DialTimeout("unix", g.monitor, 2*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	const prompt = "(qemu) "
	if _, err := readUntil(r, prompt); err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	if _, err := io.WriteString(c, command+"\n"); err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	out, err := readUntil(r, prompt)
	if err != nil {
		return "", fmt.Errorf("qemu monitor %q: %w", command, err)
	}
	// The monitor echoes the command line first (with terminal escapes).
	if i := strings.IndexByte(out, '\n'); i >= 0 {
		out = out[i+1:]
	}
	return strings.ReplaceAll(out, "\r", ""), nil
}

func readUntil(r *bufio.Reader, marker string) (string, error) {
	var b strings.Builder
	for !strings.HasSuffix(b.String(), marker) {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
	}
	return strings.TrimSuffix(b.String(), marker), nil
}
