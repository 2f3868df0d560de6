package takeover

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paroodise/paroodise/rootfs"
)

func TestPreflightBookworm(t *testing.T) {
	h := newFakeHost(t)
	h.env["SUDO_USER"] = "admin"
	p, err := Preflight(h.Env(), Options{ConfirmWithin: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Err(); err != nil {
		t.Fatalf("refused: %v", err)
	}
	if p.Init.Kind != Systemd || p.Init.Version != 252 || p.Method != MethodReexec {
		t.Errorf("init %+v method %s", p.Init, p.Method)
	}
	if !reflect.DeepEqual(p.Methods, []string{MethodReexec}) {
		t.Errorf("methods %v: 252 has no soft-reboot", p.Methods)
	}
	if got, want := p.Spare, []int{420, 410, 400}; !reflect.DeepEqual(got, want) {
		t.Errorf("spare %v, want %v (the listener 300 must not be spared)", got, want)
	}
	if p.SSHHost != "10.0.2.15" {
		t.Errorf("ssh host %q", p.SSHHost)
	}
	want := []string{"/usr/lib/systemd/systemd", "/lib/systemd/systemd", "/sbin/init", "/init"}
	if !reflect.DeepEqual(p.ExecPaths, want) {
		t.Errorf("exec paths %v, want %v", p.ExecPaths, want)
	}
	if len(p.HostKeys) != 1 || p.HostKeys[0].Type != "ssh-ed25519" {
		t.Errorf("host keys %+v", p.HostKeys)
	}
	if len(p.AuthKeys) != 1 || p.AuthKeys[0].Comment != "admin@laptop" {
		t.Errorf("authorized keys %+v", p.AuthKeys)
	}
	if d := p.Disk; d.RootDev != "vda1" || !reflect.DeepEqual(d.Disks, []string{"vda"}) || d.RootSource != "/dev/vda1" {
		t.Errorf("disk %+v", d)
	}
	if len(p.Disk.Mounts) != 2 || p.Disk.Mounts[0].Point != "/srv/my data" || p.Disk.Mounts[1].Point != "/home" {
		t.Errorf("other mounts on the disk: %+v", p.Disk.Mounts)
	}
	if len(p.Disk.Holders) != 1 || p.Disk.Holders[0].String() != "vg0-home (dm-0) on vda3" {
		t.Errorf("holders %+v", p.Disk.Holders)
	}
	if len(p.Disk.Swaps) != 1 || p.Disk.Swaps[0].Path != "/dev/vda2" || p.Disk.Swaps[0].Size != 1048572<<10 {
		t.Errorf("swaps %+v", p.Disk.Swaps)
	}
	var out bytes.Buffer
	p.Render(&out)
	for _, s := range []string{
		"init:        systemd 252 (252.39-1~deb12u2) (/lib/systemd/systemd)",
		"method:      reexec (possible: reexec)",
		"root:        /dev/vda1 (ext4) on vda1, disk vda",
		"swap:        /dev/vda2 (partition, 1023 MiB): turned off by init",
		"holder:      vg0-home (dm-0) on vda3",
		"login key:   ssh-ed25519 SHA256:",
		"spared:      pids 420 410 400",
		"dead-man:    reboot into the old system unless someone logs in within 10m0s",
		"new root:    tmpfs of at most 38 MiB",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("plan lacks %q:\n%s", s, out.String())
		}
	}
	if strings.Contains(out.String(), "REFUSED") {
		t.Errorf("plan refuses:\n%s", out.String())
	}
	// What the new root carries: the host key, the usable authorized
	// keys, the resolver list and the CA roots at the path Go reads.
	files := map[string]rootfs.File{}
	for _, f := range p.Root.Files {
		files[f.Path] = f
	}
	if f := files[HostKeyDir+"/ssh_host_ed25519_key"]; f.Src != p.HostKeys[0].Path || f.Mode != 0o600 {
		t.Errorf("host key in the new root: %+v", f)
	}
	if f := files[AuthorizedKeysNew]; f.Mode != 0o600 || string(f.Data) != p.AuthKeys[0].Line+"\n" {
		t.Errorf("authorized keys in the new root: %+v", f)
	}
	for _, c := range []string{"/etc/resolv.conf", "/etc/ssl/certs/ca-certificates.crt"} {
		if f, ok := files[c]; !ok || f.Src != filepath.Join(h.root, c) {
			t.Errorf("%s in the new root: %+v", c, f)
		}
	}
}

func TestPreflightTrixieOffersSoftReboot(t *testing.T) {
	h := newFakeHost(t)
	h.proc1("/usr/lib/systemd/systemd", "systemd", "/sbin/init\x00")
	h.write("root/usr/lib/systemd/systemd", "\x7fELF")
	h.version = "systemd 257 (257.13-1~deb13u1)\n"
	p, err := Preflight(h.Env(), Options{Method: MethodSoftReboot})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Methods, []string{MethodReexec, MethodSoftReboot}) {
		t.Errorf("methods %v", p.Methods)
	}
	// Without network capture the soft-reboot would strand the machine.
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "soft-reboot stops the network") {
		t.Errorf("soft-reboot without capture: %v", err)
	}
	env := h.Env()
	env.CaptureNetwork = func() (Network, error) { return fakeNet{}, nil }
	p, err = Preflight(env, Options{Method: MethodSoftReboot})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Err(); err != nil || p.Method != MethodSoftReboot || p.Spare != nil {
		t.Errorf("soft-reboot with capture: %v method %s spare %v", err, p.Method, p.Spare)
	}
	if p.NetNote != "fake: eth0 10.0.2.15/24" {
		t.Errorf("network note %q", p.NetNote)
	}
}

type fakeNet struct{}

func (fakeNet) Save(path string) error { return os.WriteFile(path, []byte(`{"fake":true}`), 0o600) }
func (fakeNet) String() string         { return "fake: eth0 10.0.2.15/24" }

func TestPreflightSysvinit(t *testing.T) {
	h := newFakeHost(t)
	h.proc1("/sbin/init", "init", "init [2]\x00")
	h.write("root/sbin/init", "\x7fELF...\x00INIT_VERSION=sysvinit-3.06\x00RUNLEVEL=%c\x00")
	p, err := Preflight(h.Env(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Init.Kind != SysVinit || p.Init.Text != "sysvinit 3.06" || p.Method != MethodTelinit || p.Err() != nil {
		t.Errorf("init %+v method %s err %v", p.Init, p.Method, p.Err())
	}
	if _, err := Preflight(h.Env(), Options{Method: MethodReexec}); err != nil {
		t.Fatal(err)
	}
	p, _ = Preflight(h.Env(), Options{Method: MethodReexec})
	if err := p.Err(); err == nil || !strings.Contains(err.Error(), "--method reexec does not work with sysvinit 3.06") {
		t.Errorf("reexec on sysvinit: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(h *fakeHost)
		want  string
	}{
		{"unknown init", func(h *fakeHost) {
			h.proc1("/sbin/openrc-init", "openrc-init", "/sbin/init\x00")
			h.write("root/sbin/openrc-init", "\x7fELF openrc")
		}, "unknown init /sbin/openrc-init (comm \"openrc-init\"): paroodise takes over only from systemd or sysvinit"},
		{"busybox init", func(h *fakeHost) {
			h.proc1("/bin/busybox", "init", "init\x00")
			h.write("root/bin/busybox", "\x7fELF busybox")
		}, "unknown init /bin/busybox"},
		{"no authorized keys", func(h *fakeHost) {
			os.Remove(filepath.Join(h.root, "root/.ssh/authorized_keys"))
		}, "no usable authorized SSH key for root: nobody could log in to the new server"},
		{"only a forced-command key", func(h *fakeHost) {
			h.write("root/root/.ssh/authorized_keys", `command="echo 'Please login as the user \"admin\"'" `+h.clientAuthorized)
		}, "no usable authorized SSH key"},
		{"little memory", func(h *fakeHost) {
			h.write("proc/meminfo", "MemTotal: 200000 kB\nMemAvailable: 60000 kB\n")
		}, "not enough memory: 58 MiB available, the new root and init need 69 MiB"},
		{"small /run", func(h *fakeHost) { h.runFree = 10 << 20 },
			"only 10 MiB free on /run: systemd refuses to re-execute with less than 16 MiB"},
		{"soft-reboot on 252", func(h *fakeHost) {}, "--method soft-reboot needs systemd 254 or newer"},
		{"already taken over", func(h *fakeHost) { h.write("root/paroodise/state.json", "{}") },
			"paroodise is already running as PID 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newFakeHost(t)
			tc.setup(h)
			opts := Options{}
			if tc.name == "soft-reboot on 252" {
				opts.Method = MethodSoftReboot
			}
			p, err := Preflight(h.Env(), opts)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Err()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("refusal is not one line: %q", err)
			}
			var out bytes.Buffer
			p.Render(&out)
			if !strings.Contains(out.String(), "REFUSED:     "+tc.want) {
				t.Errorf("plan does not show the refusal:\n%s", out.String())
			}
		})
	}
}

func TestSudoUserKeysCarried(t *testing.T) {
	h := newFakeHost(t)
	// Cloud images: root's key only prints "log in as admin".
	h.write("root/root/.ssh/authorized_keys", `no-port-forwarding,command="echo 'Please login as the user \"admin\"';sleep 10" `+h.clientAuthorized)
	other := newKey(t)
	h.write("root/home/admin/.ssh/authorized_keys", strings.TrimSpace(string(marshal(other)))+" admin@work\n")
	p, _ := Preflight(h.Env(), Options{})
	if p.Err() == nil {
		t.Fatal("without SUDO_USER only root's forced-command key exists: must refuse")
	}
	h.env["SUDO_USER"] = "admin"
	p, _ = Preflight(h.Env(), Options{})
	if err := p.Err(); err != nil {
		t.Fatal(err)
	}
	// Both carried, options and all: the new server enforces the forced
	// command as the old one did.
	if len(p.AuthKeys) != 2 || p.AuthKeys[0].OpensShell() || !strings.HasPrefix(p.AuthKeys[0].Line, "no-port-forwarding,command=") ||
		p.AuthKeys[1].Comment != "admin@work" || p.AuthKeys[1].File != "/home/admin/.ssh/authorized_keys" || !p.AuthKeys[1].OpensShell() {
		t.Errorf("keys %+v", p.AuthKeys)
	}
	var out bytes.Buffer
	p.Render(&out)
	if !strings.Contains(out.String(), "[forced command only]") {
		t.Errorf("plan does not mark the forced-command key:\n%s", out.String())
	}
}

func TestExecPathsIncludePID1AndSkipMovedTrees(t *testing.T) {
	h := newFakeHost(t)
	h.proc1("/nix/store/abc-systemd-255/lib/systemd/systemd (deleted)", "systemd", "/run/current-system/systemd/lib/systemd/systemd\x00")
	h.version = "systemd 255\n"
	p, err := Preflight(h.Env(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.ExecPaths[len(p.ExecPaths)-1]; got != "/nix/store/abc-systemd-255/lib/systemd/systemd" {
		t.Errorf("last exec path %q", got)
	}
	found := false
	for _, w := range p.Warnings {
		found = found || strings.Contains(w, "/run/current-system/systemd/lib/systemd/systemd, which lies under a mount moved as is")
	}
	if !found {
		t.Errorf("no warning for the path under /run: %q", p.Warnings)
	}
}

func TestSystemdVersionFromMaps(t *testing.T) {
	h := newFakeHost(t)
	h.write("proc/1/maps", "7f1c2a000000-7f1c2a100000 r-xp 00000000 fe:01 1234 /usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-257.so\n")
	env := h.Env()
	env.InitVersion = func(string) (string, error) {
		t.Error("ran --version although the memory map names the version")
		return "", errors.New("not run")
	}
	p, err := Preflight(env, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Init.Version != 257 || p.Init.Text != "systemd 257" {
		t.Errorf("init %+v", p.Init)
	}
	if _, v := sharedLibVersion([]byte("... /usr/lib64/systemd/libsystemd-shared-254.5-1.fc39.so\n")); v != 254 {
		t.Errorf("tagged library: %d", v)
	}
}

func TestRootOnLVM(t *testing.T) {
	h := newFakeHost(t)
	h.write("proc/self/mountinfo", `24 1 0:5 / /dev rw - devtmpfs udev rw
27 1 253:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg0-home rw
28 27 254:1 / /boot rw,relatime shared:2 - ext4 /dev/vda1 rw
`)
	h.write("proc/swaps", "Filename Type Size Used Priority\n/swap.img file 524284 0 -2\n")
	p, err := Preflight(h.Env(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	d := p.Disk
	if d.RootDev != "dm-0" || !reflect.DeepEqual(d.Disks, []string{"vda"}) || d.RootMajMin != "253:0" {
		t.Errorf("root on LVM: %+v", d)
	}
	if len(d.Mounts) != 1 || d.Mounts[0].Point != "/boot" {
		t.Errorf("other mounts %+v", d.Mounts)
	}
	if len(d.Swaps) != 1 || d.Swaps[0].Type != "file" {
		t.Errorf("swaps %+v", d.Swaps)
	}
	if st := p.State(time.Now()); st.OldRootDevice != "253:0" {
		t.Errorf("old root device %q", st.OldRootDevice)
	}
}

func TestRootOnBtrfs(t *testing.T) {
	h := newFakeHost(t)
	h.write("proc/self/mountinfo", "27 1 0:33 /@ / rw - btrfs /dev/vda2 rw,subvol=/@\n28 27 0:33 /@home /home rw - btrfs /dev/vda2 rw\n")
	h.write("sys/devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda2/dev", "254:2\n")
	p, err := Preflight(h.Env(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d := p.Disk; d.RootSource != "/dev/vda2" || d.RootDev != "vda2" || d.RootMajMin != "254:2" || !reflect.DeepEqual(d.Disks, []string{"vda"}) {
		t.Errorf("btrfs root: %+v", d)
	}
	if st := p.State(time.Now()); st.OldRootDevice != "254:2" {
		t.Errorf("old root device %q", st.OldRootDevice)
	}
	h.write("proc/self/mountinfo", "27 1 0:33 / / rw - overlay overlay rw,lowerdir=/a\n")
	p, _ = Preflight(h.Env(), Options{})
	if st := p.State(time.Now()); p.Disk.RootDev != "" || st.OldRootDevice != "" {
		t.Errorf("overlay root: %+v, device %q", p.Disk, st.OldRootDevice)
	}
	var out bytes.Buffer
	p.Render(&out)
	if !strings.Contains(out.String(), "root:        overlay (overlay), not a block device") {
		t.Errorf("plan:\n%s", out.String())
	}
}
