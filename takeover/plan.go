// Package takeover plans and runs the hand-over of a live server to
// paroodise: the preflight that decides whether and how (printed as a
// plan before anything changes), and the command that then builds the
// new root, pivots into it and makes PID 1 re-execute into paroodise.
package takeover

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/paroodise/paroodise/rootfs"
)

// Sizes the preflight reasons with.
const (
	MiB = 1 << 20
	// runFreeMin is systemd's own floor: it refuses to re-execute or
	// soft-reboot with less free on /run ("a safety buffer of 16.0M").
	runFreeMin = 16 * MiB
	// initHeadroom is RAM for PID 1 itself beyond the tmpfs content: the Go
	// runtime, the SSH server and a few sessions.
	initHeadroom = 64 * MiB
)

// Network is a captured network state (package netcfg) as takeover needs
// it: something that can be written into the new root for init.
type Network interface {
	Save(path string) error
}

// Env is everything the preflight reads from the machine, as seams: a
// test points them at a fake tree.
type Env struct {
	Root string // filesystem prefix, "/" on a live server
	Proc string // procfs, "/proc"
	Sys  string // sysfs, "/sys"
	Run  string // the directory whose free space systemd checks, "/run"
	Self string // this binary, "/proc/self/exe"
	PID  int    // this process
	UID  int    // effective uid
	Env  func(string) string
	// InitVersion runs an init binary's --version; nil skips it.
	InitVersion func(exe string) (string, error)
	// Free reports the bytes available to root on a filesystem.
	Free func(path string) (uint64, error)
	// CaptureNetwork captures the live network; OverrideNetwork captures
	// it with a --net override applied. Nil when this build has no
	// network capture.
	CaptureNetwork  func() (Network, error)
	OverrideNetwork func(spec string) (Network, error)
	// Toolbox names the commands to link into the new root's /usr/bin.
	Toolbox func() []string
}

// Options are the command's flags that shape the plan.
type Options struct {
	Method        string
	ConfirmWithin time.Duration
	Net           string // --net override; empty: capture
	Listen        []string
	Reach         string // --reach HOST:PORT init connects to as a reachability check
}

// Plan is the preflight's verdict: what was found, what will be built,
// and whether to go ahead.
type Plan struct {
	Init      InitSystem
	Method    string
	Methods   []string
	MemAvail  uint64
	RAMNeed   uint64
	RunFree   uint64
	Disk      Disk
	HostKeys  []HostKey
	AuthKeys  []AuthKey
	Skipped   []string // keys left behind, and why
	Network   Network
	NetNote   string
	Spare     []int
	SSHHost   string // address of this session's server side
	Binary    string
	Root      *rootfs.Spec
	Warnings  []string
	Refusals  []error
	Options   Options
	ExecPaths []string
	Began     time.Time // when the preflight started
}

// Refusal is why a takeover must not start; its message is one line.
type Refusal struct{ Msg string }

func (r *Refusal) Error() string { return r.Msg }

func (p *Plan) refuse(format string, args ...any) {
	p.Refusals = append(p.Refusals, &Refusal{fmt.Sprintf(format, args...)})
}

func (p *Plan) warn(format string, args ...any) {
	p.Warnings = append(p.Warnings, fmt.Sprintf(format, args...))
}

// Err is nil when the plan may proceed, else the first refusal (all of
// them are in the rendered plan).
func (p *Plan) Err() error {
	if len(p.Refusals) == 0 {
		return nil
	}
	if len(p.Refusals) == 1 {
		return p.Refusals[0]
	}
	return fmt.Errorf("%w (and %d more refusals above)", p.Refusals[0], len(p.Refusals)-1)
}

// execCandidates are the paths a PID 1 may execute to re-execute itself:
// systemd's compile-time SYSTEMD_BINARY_PATH (merged and split /usr),
// sysvinit's /sbin/init, an initramfs-style /init.
var execCandidates = []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init", "/init"}

// movedTrees are mounted over in the new root by the moves of the
// hand-over, so nothing can be placed under them.
var movedTrees = []string{"/dev", "/proc", "/sys", "/run"}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// Preflight inspects the machine and decides. It changes nothing.
func Preflight(env Env, opts Options) (*Plan, error) {
	p := &Plan{Options: opts, Binary: env.Self, Began: time.Now()}
	var err error
	p.Init, err = detectInit(env.Proc, env.Root, env.InitVersion)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(env.Root, "paroodise", "state.json")); err == nil {
		p.refuse("paroodise is already running as PID 1 here (/paroodise/state.json exists)")
	}
	p.chooseMethod(opts.Method)

	// Disk.
	p.Disk, err = inspectDisk(env.Proc, env.Sys)
	if err != nil {
		p.warn("could not inspect the root disk: %v", err)
	}

	// Keys.
	var skipped []string
	p.HostKeys, skipped = findHostKeys(env.Root)
	p.Skipped = append(p.Skipped, skipped...)
	if len(p.HostKeys) == 0 {
		p.warn("no SSH host keys in /etc/ssh: the new server will present a new key, and ssh will warn about a changed host key")
	}
	users := []string{"root"}
	for _, v := range []string{"SUDO_USER", "DOAS_USER"} {
		if u := env.Env(v); u != "" && u != "root" && !slices.Contains(users, u) {
			users = append(users, u)
		}
	}
	p.AuthKeys, skipped = findAuthorizedKeys(env.Root, users)
	p.Skipped = append(p.Skipped, skipped...)
	if !slices.ContainsFunc(p.AuthKeys, AuthKey.OpensShell) {
		p.refuse("no usable authorized SSH key for %s: nobody could log in to the new server", strings.Join(users, " or "))
	}

	// Network.
	switch {
	case opts.Net != "" && env.OverrideNetwork == nil:
		p.refuse("--net given, but this build cannot configure the network")
	case opts.Net != "":
		p.Network, err = env.OverrideNetwork(opts.Net)
		if err != nil {
			p.refuse("--net %q: %v", opts.Net, err)
		}
	case env.CaptureNetwork != nil:
		p.Network, err = env.CaptureNetwork()
		if err != nil {
			p.refuse("capture the network configuration: %v (give it with --net)", err)
		}
	default:
		p.NetNote = "not captured (this build has no network capture); the kernel keeps its addresses across a re-exec"
		if p.Method == MethodSoftReboot {
			p.refuse("soft-reboot stops the network, and this build cannot restore it: use --method %s", MethodReexec)
		}
	}
	if p.Network != nil {
		p.NetNote = "captured, re-applied by init"
		if s, ok := p.Network.(fmt.Stringer); ok {
			p.NetNote = s.String()
		}
	}
	if c := env.Env("SSH_CONNECTION"); c != "" {
		if f := strings.Fields(c); len(f) == 4 {
			p.SSHHost = f[2]
		}
	}

	// The session init must spare until someone logs in again.
	if p.Method != MethodSoftReboot {
		p.Spare = sessionPIDs(env.Proc, env.PID)
	}

	// The new root.
	p.ExecPaths = p.execPaths()
	p.Root = p.rootSpec(env)
	content, err := p.Root.ContentSize()
	if err != nil {
		return nil, err
	}
	p.RAMNeed = content + initHeadroom

	// Memory and /run.
	if f, err := os.Open(filepath.Join(env.Proc, "meminfo")); err == nil {
		p.MemAvail, err = memAvailable(f)
		f.Close()
		if err != nil {
			p.warn("%v", err)
		}
	}
	if p.MemAvail != 0 && p.MemAvail < p.RAMNeed {
		p.refuse("not enough memory: %s available, the new root and init need %s", human(p.MemAvail), human(p.RAMNeed))
	}
	if env.Free != nil {
		if p.RunFree, err = env.Free(env.Run); err != nil {
			p.warn("free space on /run: %v", err)
		} else if p.Init.Kind == Systemd && p.RunFree < runFreeMin {
			p.refuse("only %s free on /run: systemd refuses to re-execute with less than %s", human(p.RunFree), human(runFreeMin))
		}
	}
	return p, nil
}

// chooseMethod applies --method against what the init allows.
func (p *Plan) chooseMethod(want string) {
	p.Methods = p.Init.Methods()
	if p.Init.Kind == "" {
		p.refuse("unknown init %s (comm %q): paroodise takes over only from systemd or sysvinit", p.Init.Exe, p.Init.Comm)
		return
	}
	if p.Init.Kind == Systemd && p.Init.Version == 0 {
		p.warn("could not tell the systemd version; soft-reboot is not offered")
	}
	switch {
	case want == "" || want == MethodAuto:
		p.Method = p.Methods[0]
	case slices.Contains(p.Methods, want):
		p.Method = want
	case want == MethodSoftReboot && p.Init.Kind == Systemd:
		p.refuse("--method soft-reboot needs systemd %d or newer, this is %s", softRebootSince, p.Init)
	default:
		p.refuse("--method %s does not work with %s (possible: %s)", want, p.Init, strings.Join(p.Methods, ", "))
	}
}

// execPaths are the new-root paths the binary must answer at: every
// candidate, and whatever PID 1 runs now, except inside the trees that
// will be mounted over.
func (p *Plan) execPaths() []string {
	paths := slices.Clone(execCandidates)
	for _, c := range []string{p.Init.Exe, p.Init.Argv0} {
		if filepath.IsAbs(c) && !slices.Contains(paths, filepath.Clean(c)) {
			paths = append(paths, filepath.Clean(c))
		}
	}
	var out []string
	for _, c := range paths {
		if slices.ContainsFunc(movedTrees, func(d string) bool { return under(c, d) }) {
			p.warn("PID 1 may execute %s, which lies under a mount moved as is: the binary cannot be placed there", c)
			continue
		}
		out = append(out, c)
	}
	return out
}

// Paths in the new root where takeover puts what it carries.
const (
	HostKeyDir        = "/paroodise/ssh"
	AuthorizedKeysNew = "/paroodise/authorized_keys"
	NetworkFile       = "/paroodise/network.json"
	OldRoot           = "/oldroot"
)

// caBundles are where distributions keep the PEM bundle of CA roots; the
// first found goes to the path Go's crypto/x509 tries first on Linux.
var caBundles = []string{"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"}

// rootSpec describes the new root; Build lays it out.
func (p *Plan) rootSpec(env Env) *rootfs.Spec {
	s := &rootfs.Spec{Binary: env.Self, ExecPaths: p.ExecPaths}
	if env.Toolbox != nil {
		s.Toolbox = env.Toolbox()
	}
	for _, k := range p.HostKeys {
		s.Files = append(s.Files, rootfs.File{Path: HostKeyDir + "/" + filepath.Base(k.Path), Src: k.Path, Mode: 0o600})
		if _, err := os.Stat(k.Path + ".pub"); err == nil {
			s.Files = append(s.Files, rootfs.File{Path: HostKeyDir + "/" + filepath.Base(k.Path) + ".pub", Src: k.Path + ".pub", Mode: 0o644})
		}
	}
	var ak strings.Builder
	for _, k := range p.AuthKeys {
		ak.WriteString(k.Line + "\n")
	}
	s.Files = append(s.Files, rootfs.File{Path: AuthorizedKeysNew, Data: []byte(ak.String()), Mode: 0o600})
	if p.Network != nil {
		s.Files = append(s.Files, rootfs.File{Path: NetworkFile, Save: p.Network.Save, Mode: 0o600})
	}
	if src := resolvConf(env.Root); src != "" {
		s.Files = append(s.Files, rootfs.File{Path: "/etc/resolv.conf", Src: src, Mode: 0o644})
	} else {
		p.warn("no /etc/resolv.conf: the new server will not resolve names")
	}
	for _, f := range []string{"/etc/hostname", "/etc/hosts"} {
		if _, err := os.Stat(filepath.Join(env.Root, f)); err == nil {
			s.Files = append(s.Files, rootfs.File{Path: f, Src: filepath.Join(env.Root, f), Mode: 0o644})
		}
	}
	ca := ""
	for _, c := range caBundles {
		if _, err := os.Stat(filepath.Join(env.Root, c)); err == nil {
			ca = c
			break
		}
	}
	if ca != "" {
		s.Files = append(s.Files, rootfs.File{Path: caBundles[0], Src: filepath.Join(env.Root, ca), Mode: 0o644})
	} else {
		p.warn("no CA bundle found (%s): HTTPS downloads cannot verify servers", strings.Join(caBundles, ", "))
	}
	return s
}

// resolvConf picks the resolver file to carry: with systemd-resolved the
// usual /etc/resolv.conf names only its stub 127.0.0.53, which dies with
// the old services, so resolved's list of real upstream servers is used.
func resolvConf(root string) string {
	etc := filepath.Join(root, "etc", "resolv.conf")
	b, err := os.ReadFile(etc)
	if err != nil {
		return ""
	}
	if strings.Contains(string(b), "nameserver 127.0.0.53") {
		up := filepath.Join(root, "run", "systemd", "resolve", "resolv.conf")
		if _, err := os.Stat(up); err == nil {
			return up
		}
	}
	return etc
}

// human prints a byte count in binary units.
func human(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= MiB:
		return fmt.Sprintf("%d MiB", n/MiB)
	case n >= 1<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// Render prints the plan for the admin, refusals last.
func (p *Plan) Render(w io.Writer) {
	pf := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	pf("paroodise takeover plan\n")
	pf("  init:        %s\n", p.Init)
	if p.Method != "" {
		pf("  method:      %s (possible: %s)\n", p.Method, strings.Join(p.Methods, ", "))
	}
	pf("  memory:      %s available, %s needed (tmpfs content + init)\n", human(p.MemAvail), human(p.RAMNeed))
	if p.Root != nil {
		pf("  new root:    tmpfs of at most %s\n", human(p.Root.TmpfsSize()))
		pf("  binary at:   %s\n", strings.Join(p.ExecPaths, ", "))
	}
	if p.RunFree != 0 {
		pf("  /run free:   %s (systemd needs %s)\n", human(p.RunFree), human(runFreeMin))
	}
	d := p.Disk
	switch {
	case d.RootDev != "":
		pf("  root:        %s (%s) on %s, disk %s\n", d.RootSource, d.RootFSType, d.RootDev, strings.Join(d.Disks, ", "))
	case d.RootSource != "":
		pf("  root:        %s (%s), not a block device\n", d.RootSource, d.RootFSType)
	}
	for _, m := range d.Mounts {
		pf("  also mounted from the disk: %s on %s (%s)\n", m.Source, m.Point, m.FSType)
	}
	for _, s := range d.Swaps {
		pf("  swap:        %s (%s, %s): turned off by init\n", s.Path, s.Type, human(s.Size))
	}
	for _, h := range d.Holders {
		pf("  holder:      %s: deactivated by init\n", h)
	}
	for _, k := range p.HostKeys {
		pf("  host key:    %s %s (%s)\n", k.Type, k.Fingerprint, k.Path)
	}
	for _, k := range p.AuthKeys {
		forced := ""
		if !k.OpensShell() {
			forced = " [forced command only]"
		}
		pf("  login key:   %s %s %s (%s)%s\n", k.Key.Type(), k.Fingerprint, k.Comment, k.File, forced)
	}
	for _, s := range p.Skipped {
		pf("  left behind: %s\n", s)
	}
	pf("  network:     %s\n", strings.ReplaceAll(strings.TrimSpace(p.NetNote), "\n", "\n               "))
	if len(p.Spare) > 0 {
		pf("  spared:      pids %s (this session, until the first login to the new server)\n", joinInts(p.Spare))
	}
	if p.Options.ConfirmWithin > 0 {
		pf("  dead-man:    reboot into the old system unless someone logs in within %s\n", p.Options.ConfirmWithin)
	} else {
		pf("  dead-man:    off\n")
	}
	for _, w := range p.Warnings {
		pf("  warning:     %s\n", w)
	}
	for _, r := range p.Refusals {
		pf("  REFUSED:     %s\n", r)
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, " ")
}

// errNotRoot is the first refusal, checked before anything is read.
var errNotRoot = errors.New("must run as root (the hand-over mounts, pivots and signals PID 1)")
