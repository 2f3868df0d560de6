// Package vm builds Debian guest disk images and boots them under qemu, so
// that tests and the demo can drive a real server with the real OpenSSH
// client, checking its host keys strictly.
//
// A test boots a guest, copies the binary in and drives it over ssh:
//
//	g := vm.Boot(t, vm.Bookworm, vm.Options{Forward: []int{2222}})
//	g.MustPut(t, testutil.Binary(t), "/root/paroodise", 0o755)
//	out := g.MustRun(t, "/root/paroodise version")
//	g.Via(2222).MustRun(t, "true") // a second SSH server on guest port 2222
//
// The guest is killed when the test ends, and its serial console is logged
// if the test failed.
package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// The guest images. Each boots from its own disk (extlinux in the MBR) with
// an ext4 root labelled "vmroot" on /dev/vda1.
const (
	// Bookworm is Debian 12 with systemd 252, systemd-networkd DHCP and
	// predictable interface names (enp0s2 on this machine type).
	Bookworm = "bookworm"
	// Trixie is Debian 13 with systemd 257, systemd-networkd DHCP and
	// predictable interface names.
	Trixie = "trixie"
	// BookwormSysvinit is Debian 12 with sysvinit-core as /sbin/init,
	// ifupdown + isc-dhcp-client, and net.ifnames=0 so the NIC is eth0.
	BookwormSysvinit = "bookworm-sysvinit"
)

// Images lists every image name, in the order `make images` builds them.
var Images = []string{Bookworm, BookwormSysvinit, Trixie}

//go:embed mkimage.sh
var mkimageScript []byte

// hostKeyTypes are the host key types generated into every image.
var hostKeyTypes = []string{"ed25519", "ecdsa", "rsa"}

// Image is a built guest image in the cache. Never write to Disk: guests
// boot from a copy-on-write overlay.
type Image struct {
	Name string
	Dir  string // cache directory of this build
	Disk string // raw disk image
	// HostKeys are the guest's SSH host public keys ("type base64"),
	// generated when the image was built.
	HostKeys []string
}

// CacheDir is where images and the test key live:
// $PAROODISE_CACHE, or /var/cache/paroodise.
func CacheDir() string {
	if d := os.Getenv("PAROODISE_CACHE"); d != "" {
		return d
	}
	return "/var/cache/paroodise"
}

// TestKey returns the path of the private SSH key every image authorizes
// for root, creating the key pair on first use.
func TestKey() (string, error) {
	dir := filepath.Join(CacheDir(), "testkey")
	key := filepath.Join(dir, "id_ed25519")
	if _, err := os.Stat(key + ".pub"); err == nil {
		return key, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	unlock, err := lockFile(filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(key + ".pub"); err == nil {
		return key, nil
	}
	// Generate beside the final name and rename both, so a half-written key
	// is never seen.
	tmp := filepath.Join(dir, ".new")
	os.Remove(tmp)
	os.Remove(tmp + ".pub")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "paroodise-test", "-f", tmp).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("ssh-keygen -f %s: %w: %s", tmp, err, out)
	}
	if err := os.Rename(tmp, key); err != nil {
		return "", err
	}
	if err := os.Rename(tmp+".pub", key+".pub"); err != nil {
		return "", err
	}
	return key, nil
}

// recipeHash names an image build: the script, the image name and the
// authorized key, so a change to any of them gives a fresh build.
func recipeHash(name string, pubKey []byte) string {
	h := sha256.New()
	h.Write(mkimageScript)
	h.Write([]byte{0})
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(pubKey)
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func known(name string) bool {
	for _, n := range Images {
		if n == name {
			return true
		}
	}
	return false
}

// ImageDir returns the cache directory the image name would be built into.
func ImageDir(name string) (string, error) {
	if !known(name) {
		return "", fmt.Errorf("unknown image %q (have %s)", name, strings.Join(Images, ", "))
	}
	key, err := TestKey()
	if err != nil {
		return "", err
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		return "", err
	}
	return filepath.Join(CacheDir(), "images", name+"-"+recipeHash(name, pub)), nil
}

// EnsureImage returns the cached image name, building it first if the cache
// has no build of the current recipe. Builds need root and network access
// to the Debian mirror, and take a few minutes; a lock keeps two processes
// from building the same image at once. logf (may be nil) hears progress.
func EnsureImage(ctx context.Context, name string, logf func(string, ...any)) (*Image, error) {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	dir, err := ImageDir(name)
	if err != nil {
		return nil, err
	}
	if img, err := loadImage(name, dir); err == nil {
		return img, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockFile(dir + ".lock")
	if err != nil {
		return nil, err
	}
	defer unlock()
	if img, err := loadImage(name, dir); err == nil {
		return img, nil // another process built it while we waited
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("image %s is not in the cache %s and building it needs root", name, CacheDir())
	}
	if err := build(ctx, name, dir, logf); err != nil {
		return nil, err
	}
	return loadImage(name, dir)
}

// build runs mkimage.sh into a temporary directory and renames it into
// place, so an interrupted build never leaves a usable-looking image.
func build(ctx context.Context, name, dir string, logf func(string, ...any)) error {
	key, err := TestKey()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".build-"+name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	script := filepath.Join(tmp, "mkimage.sh")
	if err := os.WriteFile(script, mkimageScript, 0o755); err != nil {
		return err
	}
	logPath := dir + ".log"
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	logf("building image %s into %s (a few minutes; log %s)", name, dir, logPath)
	cmd := exec.CommandContext(ctx, "bash", script, name, tmp, key+".pub",
		filepath.Join(CacheDir(), "debs", name))
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mkimage.sh %s: %w; last lines of %s:\n%s", name, err, logPath, tail(logPath, 2000))
	}
	os.Remove(script)
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	logf("image %s built", name)
	pruneOld(name, dir)
	return nil
}

// pruneOld removes builds of name from earlier recipes; each holds up to
// 2 GiB that nothing uses any more.
func pruneOld(name, keep string) {
	old, _ := filepath.Glob(filepath.Join(filepath.Dir(keep), name+"-????????????"))
	for _, d := range old {
		if d != keep && isHex(strings.TrimPrefix(filepath.Base(d), name+"-")) {
			os.RemoveAll(d)
			os.Remove(d + ".log")
			os.Remove(d + ".lock")
		}
	}
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

func loadImage(name, dir string) (*Image, error) {
	img := &Image{Name: name, Dir: dir, Disk: filepath.Join(dir, "disk.raw")}
	if _, err := os.Stat(img.Disk); err != nil {
		return nil, err
	}
	for _, t := range hostKeyTypes {
		b, err := os.ReadFile(filepath.Join(dir, "ssh_host_"+t+"_key.pub"))
		if err != nil {
			return nil, err
		}
		f := strings.Fields(string(b))
		if len(f) < 2 {
			return nil, fmt.Errorf("%s: malformed host key %q", dir, b)
		}
		img.HostKeys = append(img.HostKeys, f[0]+" "+f[1])
	}
	return img, nil
}

// tail returns at most the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return ""
		}
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return string(b)
}
