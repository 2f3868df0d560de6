// Package rootfs lays out paroodise's new root (the binary, its names,
// the carried keys and configuration) in a directory, normally a
// size-bounded tmpfs, and moves the running system into it.
package rootfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/paroodise/paroodise/cli"
)

// Layout of the new root.
const (
	// BinaryPath is the one real copy of the binary; every other name is a
	// hard link (exec paths) or a symlink (toolbox commands) to it.
	BinaryPath = "/usr/bin/paroodise"
	// Margin is free space left in the tmpfs for logs, state and files the
	// admin copies in.
	Margin = 32 << 20
	// smallFileSlack covers the files Build writes itself and those saved
	// by a func, whose size is unknown in advance.
	smallFileSlack = 256 << 10
)

// File is one file to carry into the new root: copied from Src, written
// from Data, or written by Save at the final path.
type File struct {
	Path string // absolute path in the new root
	Src  string // path on the running system
	Data []byte
	Save func(path string) error
	Mode os.FileMode
}

// Spec describes a new root.
type Spec struct {
	Binary    string   // the running binary to copy, e.g. /proc/self/exe
	ExecPaths []string // absolute new-root paths at which PID 1 may exec it
	Toolbox   []string // command names linked into /usr/bin
	Files     []File
}

// ContentSize is what Build will write, in bytes.
func (s *Spec) ContentSize() (uint64, error) {
	fi, err := os.Stat(s.Binary)
	if err != nil {
		return 0, fmt.Errorf("stat %s: %w", s.Binary, err)
	}
	n := uint64(fi.Size()) + smallFileSlack
	for _, f := range s.Files {
		switch {
		case f.Src != "":
			fi, err := os.Stat(f.Src)
			if err != nil {
				return 0, fmt.Errorf("stat %s: %w", f.Src, err)
			}
			n += uint64(fi.Size())
		default:
			n += uint64(len(f.Data))
		}
	}
	return n, nil
}

// TmpfsSize is the size= for the tmpfs: the content plus Margin, in
// whole MiB. A tmpfs only uses memory for what is written into it; the
// bound keeps a runaway write from eating the RAM PID 1 needs.
func (s *Spec) TmpfsSize() uint64 {
	n, err := s.ContentSize()
	if err != nil {
		n = 0
	}
	n += Margin
	return (n + 1<<20 - 1) &^ (1<<20 - 1)
}

// Build lays the new root out in dir, which should be empty.
func Build(dir string, s *Spec) error {
	for _, d := range []struct {
		path string
		mode os.FileMode
	}{
		{"usr/bin", 0o755}, {"usr/lib", 0o755}, {"etc", 0o755}, {"root", 0o700}, {"tmp", os.ModeSticky | 0o777},
		{"dev", 0o755}, {"proc", 0o555}, {"sys", 0o555}, {"run", 0o755}, {"oldroot", 0o755},
		{"paroodise", 0o700}, {"var", 0o755},
	} {
		p := filepath.Join(dir, d.path)
		if err := os.MkdirAll(p, d.mode); err != nil {
			return err
		}
		// MkdirAll honours the umask; the sticky bit and 0700 must be exact.
		if err := os.Chmod(p, d.mode); err != nil {
			return err
		}
	}
	// Merged /usr, so every classic path resolves into /usr.
	for _, l := range [][2]string{{"bin", "usr/bin"}, {"sbin", "usr/bin"}, {"lib", "usr/lib"},
		{"lib64", "usr/lib"}, {"usr/sbin", "bin"}, {"var/run", "../run"}} {
		if err := os.Symlink(l[1], filepath.Join(dir, l[0])); err != nil {
			return err
		}
	}
	bin := filepath.Join(dir, BinaryPath)
	if err := copyFile(bin, s.Binary, 0o755); err != nil {
		return err
	}
	for _, p := range s.ExecPaths {
		if err := linkExec(dir, bin, p); err != nil {
			return err
		}
	}
	for _, name := range s.Toolbox {
		if name == "" || strings.ContainsRune(name, '/') || name == "paroodise" {
			continue
		}
		l := filepath.Join(dir, "usr", "bin", name)
		if _, err := os.Lstat(l); err == nil {
			continue // an exec path of the same name, already a hard link
		}
		if err := os.Symlink("paroodise", l); err != nil {
			return err
		}
	}
	for _, f := range append(generated(), s.Files...) {
		if err := writeFile(dir, f); err != nil {
			return err
		}
	}
	return nil
}

// generated are the files every new root has: os-release (systemd's
// soft-reboot and switch-root refuse a tree without it) and a passwd and
// group that know root, for tools and clients that look the user up.
func generated() []File {
	osRelease := fmt.Sprintf("NAME=paroodise\nID=paroodise\nVERSION_ID=%q\nPRETTY_NAME=\"paroodise %s\"\n", cli.Version, cli.Version)
	return []File{
		{Path: "/etc/os-release", Data: []byte(osRelease), Mode: 0o644},
		{Path: "/etc/passwd", Data: []byte("root:x:0:0:root:/root:/bin/sh\n"), Mode: 0o644},
		{Path: "/etc/group", Data: []byte("root:x:0:\n"), Mode: 0o644},
		{Path: "/etc/shells", Data: []byte("/bin/sh\n"), Mode: 0o644},
	}
}

// linkExec makes the new-root path p (absolute) a hard link to bin,
// unless it already resolves to it through the /usr symlinks.
func linkExec(dir, bin, p string) error {
	if !filepath.IsAbs(p) {
		return fmt.Errorf("exec path %q is not absolute", p)
	}
	full := filepath.Join(dir, p)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	a, errA := os.Stat(full)
	b, errB := os.Stat(bin)
	if errA == nil && errB == nil && os.SameFile(a, b) {
		return nil
	}
	if err := os.Link(bin, full); err != nil {
		return fmt.Errorf("link %s: %w", p, err)
	}
	return nil
}

func writeFile(dir string, f File) error {
	if !filepath.IsAbs(f.Path) || slices.Contains(strings.Split(f.Path, "/"), "..") {
		return fmt.Errorf("new-root path %q must be absolute and clean", f.Path)
	}
	full := filepath.Join(dir, f.Path)
	if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
		return err
	}
	switch {
	case f.Save != nil:
		if err := f.Save(full); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		return os.Chmod(full, f.Mode)
	case f.Src != "":
		return copyFile(full, f.Src, f.Mode)
	}
	if err := os.WriteFile(full, f.Data, f.Mode); err != nil {
		return err
	}
	return os.Chmod(full, f.Mode)
}

func copyFile(dst, src string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}
