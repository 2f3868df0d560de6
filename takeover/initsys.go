package takeover

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Init kinds paroodise can take over from.
const (
	Systemd  = "systemd"
	SysVinit = "sysvinit"
)

// Methods of handing PID 1 over.
const (
	MethodAuto       = "auto"
	MethodReexec     = "reexec"      // pivot, then SIGTERM to systemd: it re-executes our binary
	MethodSoftReboot = "soft-reboot" // systemd >= 254 switches root into /run/nextroot itself
	MethodTelinit    = "telinit"     // pivot, then `telinit u`: sysvinit re-executes /sbin/init
)

// softRebootSince is the first systemd release with `systemctl soft-reboot`.
const softRebootSince = 254

// InitSystem is what runs as PID 1 now.
type InitSystem struct {
	Kind    string // Systemd or SysVinit; empty when unknown
	Version int    // major version for systemd; 0 when unknown
	Text    string // version as the init reports it, e.g. "systemd 252 (252.39-1~deb12u2)"
	Exe     string // /proc/1/exe, without " (deleted)"
	Comm    string // /proc/1/comm
	Argv0   string // first word of /proc/1/cmdline
}

func (s InitSystem) String() string {
	if s.Kind == "" {
		return fmt.Sprintf("unknown (%s, comm %q)", s.Exe, s.Comm)
	}
	if s.Text != "" {
		return fmt.Sprintf("%s (%s)", s.Text, s.Exe)
	}
	return fmt.Sprintf("%s (%s)", s.Kind, s.Exe)
}

// Methods lists the methods this init allows, the preferred one first.
// Re-exec is preferred over soft-reboot because it keeps the admin's SSH
// session and the network untouched; soft-reboot is there for whoever
// wants systemd itself to stop every service and unmount the old root.
func (s InitSystem) Methods() []string {
	switch s.Kind {
	case Systemd:
		if s.Version >= softRebootSince {
			return []string{MethodReexec, MethodSoftReboot}
		}
		return []string{MethodReexec}
	case SysVinit:
		return []string{MethodTelinit}
	}
	return nil
}

// detectInit reads PID 1 from the proc tree at proc; the binary and its
// version are looked up under root (the filesystem prefix). version runs
// an init binary's --version (seam: tests and --dry-run on odd hosts).
func detectInit(proc, root string, version func(exe string) (string, error)) (InitSystem, error) {
	var s InitSystem
	exe, err := os.Readlink(filepath.Join(proc, "1", "exe"))
	if err != nil {
		return s, fmt.Errorf("read PID 1's executable: %w", err)
	}
	s.Exe = strings.TrimSuffix(exe, " (deleted)")
	if b, err := os.ReadFile(filepath.Join(proc, "1", "comm")); err == nil {
		s.Comm = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile(filepath.Join(proc, "1", "cmdline")); err == nil {
		s.Argv0, _, _ = strings.Cut(string(b), "\x00")
	}
	switch {
	case filepath.Base(s.Exe) == "systemd" || s.Comm == "systemd":
		s.Kind = Systemd
		if maps, err := os.ReadFile(filepath.Join(proc, "1", "maps")); err == nil {
			s.Text, s.Version = sharedLibVersion(maps)
		}
		if s.Version == 0 && version != nil {
			if out, err := version(s.Exe); err == nil {
				s.Text, s.Version = parseSystemdVersion(out)
			}
		}
	default:
		if v := sysvinitVersion(filepath.Join(root, s.Exe)); v != "" {
			s.Kind = SysVinit
			s.Text = "sysvinit " + v
		}
	}
	return s, nil
}

var systemdVersionRE = regexp.MustCompile(`(?m)^systemd ([0-9]+)\b.*$`)

// parseSystemdVersion reads `systemd --version` or `systemctl --version`
// output: "systemd 252 (252.39-1~deb12u2)".
func parseSystemdVersion(out string) (text string, major int) {
	m := systemdVersionRE.FindStringSubmatch(out)
	if m == nil {
		return "", 0
	}
	major, _ = strconv.Atoi(m[1])
	return strings.TrimSpace(m[0]), major
}

// readBinary reads at most 64 MiB of an init binary for version strings.
func readBinary(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 64<<20))
	return b
}

// sharedLibVersion reads systemd's major version from PID 1's memory
// map: since v231 the manager links libsystemd-shared-NNN.so (some
// distributions append a tag, "-254.5-1.fc39"). It costs no exec, which
// matters on a slow machine.
func sharedLibVersion(maps []byte) (string, int) {
	m := sharedLibRE.FindSubmatch(maps)
	if m == nil {
		return "", 0
	}
	v, _ := strconv.Atoi(string(m[1]))
	return fmt.Sprintf("systemd %d", v), v
}

var sharedLibRE = regexp.MustCompile(`/libsystemd-shared-([0-9]+)[.-]`)

// sysvinitVersion finds the "INIT_VERSION=sysvinit-X.YY" environment
// string that sysvinit's init hands to every child; no other init has it.
func sysvinitVersion(path string) string {
	b := readBinary(path)
	const marker = "INIT_VERSION=sysvinit-"
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		return ""
	}
	rest := b[i+len(marker):]
	end := 0
	for end < len(rest) && end < 32 && isVersionByte(rest[end]) {
		end++
	}
	if end == 0 {
		// Built as a format ("sysvinit-%s"): the version is elsewhere.
		return "(version unknown)"
	}
	return string(rest[:end])
}

func isVersionByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '-' || c == '+' || c == '~'
}
