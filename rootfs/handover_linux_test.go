package rootfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/paroodise/paroodise/internal/testutil"
	"golang.org/x/sys/unix"
)

func TestTelinitRequest(t *testing.T) {
	b := TelinitRequest()
	if len(b) != 384 {
		t.Fatalf("request is %d bytes, sysvinit reads 384", len(b))
	}
	var hdr [4]int32
	binary.Read(bytes.NewReader(b), binary.NativeEndian, &hdr)
	if hdr != [4]int32{0x03091969, 1, 'U', 0} {
		t.Errorf("header %#x", hdr)
	}
}

func TestTelinitWritesToTheFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "initctl")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	old := InitctlFIFOs
	defer func() { InitctlFIFOs = old }()
	InitctlFIFOs = []string{filepath.Join(dir, "missing"), fifo}
	// No reader: sysvinit is not listening, which must fail, not hang.
	if err := Telinit(); err == nil || !strings.Contains(err.Error(), "ENXIO") && !errors.Is(err, unix.ENXIO) {
		t.Fatalf("no reader: %v", err)
	}
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := Telinit(); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 1024)
	n, _ := r.Read(got)
	if !bytes.Equal(got[:n], TelinitRequest()) {
		t.Errorf("read %d bytes, not the request", n)
	}
}

func TestRunnerRollsBack(t *testing.T) {
	var log []string
	step := func(name string, fail bool, undo bool) Step {
		s := Step{Name: name, Do: func() error {
			log = append(log, "do "+name)
			if fail {
				return errors.New("boom")
			}
			return nil
		}}
		if undo {
			s.Undo = func() error { log = append(log, "undo "+name); return nil }
		}
		return s
	}
	var out bytes.Buffer
	r := &Runner{Out: &out}
	err := r.Run(step("a", false, true), step("b", false, true), step("c", true, true), step("d", false, true))
	if err == nil || err.Error() != "c: boom; every change was undone, the system is as before" {
		t.Errorf("error %v", err)
	}
	if got := strings.Join(log, ","); got != "do a,do b,do c,undo b,undo a" {
		t.Errorf("sequence %s", got)
	}
	log = nil
	r = &Runner{Out: &out}
	err = r.Run(step("a", false, true), step("signal", false, false), step("c", true, true))
	if err == nil || !strings.Contains(err.Error(), `cannot undo "signal"; still in effect: a; signal`) {
		t.Errorf("error %v", err)
	}
}

// TestPivotAndBack runs the real pivot in a child process that has its
// own mount namespace: the new root becomes /, /dev /proc /sys /run move
// into it, and the undo puts everything back.
func TestPivotAndBack(t *testing.T) {
	testutil.Root(t)
	if os.Getenv("ROOTFS_PIVOT_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPivotAndBack$", "-test.v")
		cmd.Env = append(os.Environ(), "ROOTFS_PIVOT_CHILD="+t.TempDir(), "PAROODISE_SELF="+os.Args[0])
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
		out, err := cmd.CombinedOutput()
		t.Logf("child:\n%s", out)
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		return
	}
	base := os.Getenv("ROOTFS_PIVOT_CHILD")
	// Nothing may propagate back to the host's mount table.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	proc := filepath.Join(base, "proc")
	os.MkdirAll(filepath.Join(proc, "sys/kernel"), 0o755)
	os.WriteFile(filepath.Join(proc, "sys/kernel/panic"), []byte("0\n"), 0o644)
	dir := filepath.Join(base, "run", "newroot")
	before, _ := os.ReadFile("/proc/self/mountinfo")
	s := &Spec{Binary: os.Getenv("PAROODISE_SELF"), ExecPaths: []string{"/sbin/init"}}
	var out bytes.Buffer
	r := &Runner{Out: &out}
	steps := PivotSteps(proc, dir, s, s.TmpfsSize())
	if err := r.Run(steps...); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Logf("steps:\n%s", out.String())
	// Now / is the tmpfs, with the API filesystems and the old root in it.
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var rootFS string
	for _, l := range strings.Split(string(mi), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == "/" {
			rootFS = l[strings.Index(l, " - ")+3:]
		}
	}
	if !strings.HasPrefix(rootFS, "tmpfs ") {
		t.Errorf("/ is %q, want the tmpfs", rootFS)
	}
	for _, p := range []string{"/oldroot/etc", "/proc/self/exe", "/dev/null", "/sbin/init", "/etc/os-release"} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after the pivot: %v", err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join("/oldroot", proc, "sys/kernel/panic")); string(b) != "10\n" {
		t.Errorf("panic %q", b)
	}
	if err := r.Undo(); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile("/proc/self/mountinfo")
	if mountSet(before) != mountSet(after) {
		t.Errorf("mount table not restored:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", dir, err)
	}
	if b, _ := os.ReadFile(filepath.Join(proc, "sys/kernel/panic")); string(b) != "0\n" {
		t.Errorf("panic not restored: %q", b)
	}
	// A failure after the pivot (the trigger's preparation, say) rolls
	// everything back by itself.
	r = &Runner{Out: &out}
	fail := Step{Name: "fail", Do: func() error { return errors.New("injected") }}
	err = r.Run(append(PivotSteps(proc, dir, s, s.TmpfsSize()), fail)...)
	if err == nil || !strings.Contains(err.Error(), "every change was undone") {
		t.Fatalf("injected failure: %v", err)
	}
	if after, _ := os.ReadFile("/proc/self/mountinfo"); mountSet(before) != mountSet(after) {
		t.Errorf("mount table not restored after a failure:\n%s", after)
	}
}

// mountSet is a mount table's mount points and sources, ignoring ids and
// propagation (which the undo only approximates).
func mountSet(mi []byte) string {
	var b strings.Builder
	for _, l := range strings.Split(string(mi), "\n") {
		f := strings.Fields(l)
		if len(f) < 5 {
			continue
		}
		fmt.Fprintf(&b, "%s %s %s\n", f[2], f[3], f[4])
	}
	return b.String()
}
