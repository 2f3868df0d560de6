package rootfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBuildLayout(t *testing.T) {
	src := t.TempDir()
	bin := filepath.Join(src, "paroodise")
	os.WriteFile(bin, []byte(strings.Repeat("b", 3<<20)), 0o755)
	key := filepath.Join(src, "ssh_host_ed25519_key")
	os.WriteFile(key, []byte("PRIVATE"), 0o600)
	s := &Spec{
		Binary:    bin,
		ExecPaths: []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init", "/init", "/nix/store/x/lib/systemd/systemd"},
		Toolbox:   []string{"sh", "ls", "init", "../evil", "paroodise"},
		Files: []File{
			{Path: "/paroodise/ssh/ssh_host_ed25519_key", Src: key, Mode: 0o600},
			{Path: "/paroodise/authorized_keys", Data: []byte("ssh-ed25519 AAAA x\n"), Mode: 0o600},
			{Path: "/paroodise/network.json", Save: func(p string) error { return os.WriteFile(p, []byte("{}"), 0o644) }, Mode: 0o600},
		},
	}
	size, err := s.ContentSize()
	if err != nil {
		t.Fatal(err)
	}
	if want := uint64(3<<20 + len("PRIVATE") + len("ssh-ed25519 AAAA x\n") + smallFileSlack); size != want {
		t.Errorf("content %d, want %d", size, want)
	}
	if got := s.TmpfsSize(); got != 36<<20 {
		t.Errorf("tmpfs size %d MiB, want 36 (3 MiB binary + 256 KiB slack + 32 MiB margin, rounded up)", got>>20)
	}
	dir := t.TempDir()
	if err := Build(dir, s); err != nil {
		t.Fatal(err)
	}
	real, _ := os.Stat(filepath.Join(dir, BinaryPath))
	if real.Mode().Perm() != 0o755 || real.Size() != 3<<20 {
		t.Errorf("binary %v %d", real.Mode(), real.Size())
	}
	for _, p := range append(s.ExecPaths, "/bin/sh", "/usr/sbin/init", "/sbin/ls") {
		fi, err := os.Stat(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if !os.SameFile(fi, real) {
			t.Errorf("%s is not the binary", p)
		}
	}
	// Exec paths are hard links (argv[0]'s basename picks the command,
	// and a PID 1 exec must not depend on symlink resolution); the
	// toolbox names are symlinks.
	if fi, _ := os.Lstat(filepath.Join(dir, "usr/lib/systemd/systemd")); fi.Mode()&os.ModeSymlink != 0 {
		t.Error("systemd path is a symlink")
	}
	if l, err := os.Readlink(filepath.Join(dir, "usr/bin/sh")); err != nil || l != "paroodise" {
		t.Errorf("sh -> %q %v", l, err)
	}
	if _, err := os.Lstat(filepath.Join(dir, "evil")); err == nil {
		t.Error("a toolbox name with a slash escaped /usr/bin")
	}
	for p, want := range map[string]string{
		"/etc/passwd":                         "root:x:0:0:root:/root:/bin/sh\n",
		"/paroodise/ssh/ssh_host_ed25519_key": "PRIVATE",
		"/paroodise/network.json":             "{}",
	} {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", p, b, err, want)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "etc/os-release")); !strings.Contains(string(b), "ID=paroodise\n") {
		t.Errorf("os-release %q", b)
	}
	for p, mode := range map[string]os.FileMode{"tmp": os.ModeDir | os.ModeSticky | 0o777, "root": os.ModeDir | 0o700,
		"paroodise/network.json": 0o600, "paroodise/ssh/ssh_host_ed25519_key": 0o600} {
		if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.Mode() != mode {
			t.Errorf("%s mode %v, want %v (%v)", p, fi.Mode(), mode, err)
		}
	}
	for _, d := range []string{"dev", "proc", "sys", "run", "oldroot"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Errorf("mount point %s: %v", d, err)
		}
	}
}

func TestBuildRejectsRelativePaths(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "bin")
	os.WriteFile(bin, []byte("x"), 0o755)
	for _, s := range []*Spec{
		{Binary: bin, ExecPaths: []string{"sbin/init"}},
		{Binary: bin, Files: []File{{Path: "/etc/../../escape", Data: []byte("x")}}},
	} {
		if err := Build(t.TempDir(), s); err == nil {
			t.Errorf("built %+v", s)
		}
	}
}
