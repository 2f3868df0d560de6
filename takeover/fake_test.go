package takeover

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// fakeHost is a server's /, /proc and /sys in a temp dir.
type fakeHost struct {
	t                *testing.T
	root, proc, sys  string
	env              map[string]string
	version          string
	runFree          uint64
	clientKey        ssh.PublicKey
	clientAuthorized string
}

const bookwormMountinfo = `22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
23 1 0:22 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw
24 1 0:5 / /dev rw,nosuid,relatime shared:2 - devtmpfs udev rw,size=720000k,nr_inodes=180000,mode=755
26 1 0:24 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=150000k,mode=755
27 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw,errors=remount-ro
40 27 254:3 / /srv/my\040data rw,relatime shared:30 - ext4 /dev/vda3 rw
41 27 253:0 / /home rw,relatime shared:31 - ext4 /dev/mapper/vg0-home rw
`

// newFakeHost builds a bookworm-like machine: systemd 252 on vda1, swap
// on vda2, LVM on vda3, root's authorized_keys with one key.
func newFakeHost(t *testing.T) *fakeHost {
	t.Helper()
	d := t.TempDir()
	h := &fakeHost{t: t, root: filepath.Join(d, "root"), proc: filepath.Join(d, "proc"), sys: filepath.Join(d, "sys"),
		env: map[string]string{"SSH_CONNECTION": "10.0.2.2 50000 10.0.2.15 22"}, version: "systemd 252 (252.39-1~deb12u2)\n+PAM +AUDIT",
		runFree: 140 << 20}
	// PID 1 and a session: 1 systemd <- 300 sshd listener <- 400 sshd <- 410 bash <- 420 us.
	h.proc1("/lib/systemd/systemd", "systemd", "/sbin/init\x00splash\x00")
	h.stat(300, "sshd", 1)
	h.stat(400, "sshd", 300)
	h.stat(410, "bash", 400)
	h.stat(420, "paroodise", 410)
	h.write("proc/meminfo", "MemTotal:        1000000 kB\nMemFree:          500000 kB\nMemAvailable:     800000 kB\n")
	h.write("proc/self/mountinfo", bookwormMountinfo)
	h.write("proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/vda2                               partition\t1048572\t\t0\t\t-2\n")
	h.write("root/lib/systemd/systemd", "\x7fELF fake")
	// sysfs: vda with partitions, dm-0 (vg0-home) on vda3.
	dev := "devices/pci0000:00/0000:00:04.0/virtio1/block/vda"
	h.mkdir("sys/" + dev + "/vda1")
	h.write("sys/"+dev+"/vda1/partition", "1")
	h.write("sys/"+dev+"/vda2/partition", "2")
	h.write("sys/"+dev+"/vda3/partition", "3")
	h.mkdir("sys/" + dev + "/holders")
	h.mkdir("sys/" + dev + "/vda3/holders/dm-0")
	h.mkdir("sys/devices/virtual/block/dm-0/slaves/vda3")
	h.write("sys/devices/virtual/block/dm-0/dm/name", "vg0-home\n")
	for _, n := range []string{"vda", "vda1", "vda2", "vda3"} {
		target := dev
		if n != "vda" {
			target += "/" + n
		}
		h.symlink("../../"+target, "sys/class/block/"+n)
	}
	h.symlink("../../devices/virtual/block/dm-0", "sys/class/block/dm-0")
	for mm, n := range map[string]string{"254:0": "vda", "254:1": "vda1", "254:2": "vda2", "254:3": "vda3"} {
		target := dev
		if n != "vda" {
			target += "/" + n
		}
		h.symlink("../../"+target, "sys/dev/block/"+mm)
	}
	h.symlink("../../devices/virtual/block/dm-0", "sys/dev/block/253:0")
	// SSH.
	h.write("root/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n")
	h.hostKey("ed25519")
	h.clientKey = newKey(t)
	h.clientAuthorized = string(ssh.MarshalAuthorizedKey(h.clientKey))
	h.write("root/root/.ssh/authorized_keys", "# the admin\n"+strings.TrimSpace(h.clientAuthorized)+" admin@laptop\n")
	h.write("root/etc/resolv.conf", "nameserver 10.0.2.3\n")
	h.write("root/etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\n")
	h.write("bin/paroodise", strings.Repeat("x", 5<<20))
	return h
}

func (h *fakeHost) write(rel, data string) {
	h.t.Helper()
	p := filepath.Join(filepath.Dir(h.root), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) mkdir(rel string) {
	h.t.Helper()
	if err := os.MkdirAll(filepath.Join(filepath.Dir(h.root), rel), 0o755); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) symlink(target, rel string) {
	h.t.Helper()
	p := filepath.Join(filepath.Dir(h.root), rel)
	os.Remove(p)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		h.t.Fatal(err)
	}
}

func (h *fakeHost) proc1(exe, comm, cmdline string) {
	h.symlink(exe, "proc/1/exe")
	h.write("proc/1/comm", comm+"\n")
	h.write("proc/1/cmdline", cmdline)
}

func (h *fakeHost) stat(pid int, comm string, ppid int) {
	h.write(filepath.Join("proc", strconv.Itoa(pid), "stat"), strconv.Itoa(pid)+" ("+comm+") S "+strconv.Itoa(ppid)+" 1 1 0 -1 4194560 0 0")
}

func newKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (h *fakeHost) hostKey(name string) {
	h.t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		h.t.Fatal(err)
	}
	blk, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		h.t.Fatal(err)
	}
	h.write("root/etc/ssh/ssh_host_"+name+"_key", string(pem.EncodeToMemory(blk)))
}

func (h *fakeHost) Env() Env {
	return Env{
		Root: h.root, Proc: h.proc, Sys: h.sys, Run: "/run", Self: filepath.Join(filepath.Dir(h.root), "bin/paroodise"),
		PID: 420, UID: 0,
		Env:         func(k string) string { return h.env[k] },
		InitVersion: func(string) (string, error) { return h.version, nil },
		Free:        func(string) (uint64, error) { return h.runFree, nil },
		Toolbox:     func() []string { return []string{"sh", "ls", "cat"} },
	}
}

func marshal(k ssh.PublicKey) []byte { return ssh.MarshalAuthorizedKey(k) }
