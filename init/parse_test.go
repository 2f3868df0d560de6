package pid1

import (
	"github.com/paroodise/paroodise/mounts"

	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/paroodise/paroodise/handoff"
)

func TestUnmountOrder(t *testing.T) {
	const mi = `22 1 0:21 / / rw,relatime - tmpfs tmpfs rw
30 22 253:1 / /oldroot rw,relatime - ext4 /dev/vda1 rw
31 30 0:40 / /oldroot/tmp rw,nosuid - tmpfs tmpfs rw
32 30 253:2 / /oldroot/home rw - ext4 /dev/vda2 rw
33 32 0:41 / /oldroot/home/a\040b ro - tmpfs tmpfs rw
34 31 0:42 / /oldroot/tmp/x rw - tmpfs tmpfs rw
35 34 0:43 / /oldroot/tmp/x rw - tmpfs over rw
36 22 0:5 / /dev rw - devtmpfs udev rw
37 22 0:44 / /oldrootless rw - tmpfs tmpfs rw
`
	ms, err := mounts.Parse(mi)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	for _, m := range unmountOrder(ms, underDir("/oldroot")) {
		got = append(got, m.ID)
	}
	// Children before parents; the overmount (35) before what it covers.
	pos := func(id int) int { return slices.Index(got, id) }
	if len(got) != 6 || pos(30) != 5 || pos(35) > pos(34) || pos(34) > pos(31) || pos(33) > pos(32) {
		t.Fatalf("order %v", got)
	}
}

func TestParseStat(t *testing.T) {
	p, ok := parseStat([]byte("42 (a) b (c)) S 7 42 42 0 -1 4194560 0 0 0 0 1 2 0 0 20 0 1 0 12345 100 200"))
	if !ok || p.Pid != 42 || p.PPid != 7 || p.Comm != "a) b (c)" || p.State != 'S' || p.Kernel {
		t.Fatalf("%+v %v", p, ok)
	}
	k, ok := parseStat([]byte("2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 2 0 0"))
	if !ok || !k.Kernel {
		t.Fatalf("kthreadd %+v", k)
	}
	if _, ok := parseStat([]byte("x")); ok {
		t.Fatal("garbage parsed")
	}
}

func TestSpareSetAndVictims(t *testing.T) {
	ps := []Proc{
		{Pid: 1, PPid: 0, Comm: "systemd"},
		{Pid: 2, PPid: 0, Comm: "kthreadd", Kernel: true},
		{Pid: 100, PPid: 1, Comm: "sshd"},     // the listener
		{Pid: 200, PPid: 100, Comm: "sshd"},   // session [priv]
		{Pid: 201, PPid: 200, Comm: "sshd"},   // session user
		{Pid: 202, PPid: 201, Comm: "bash"},   // the admin's shell: spared
		{Pid: 203, PPid: 202, Comm: "less"},   // below it
		{Pid: 300, PPid: 1, Comm: "journald"}, // unrelated
		{Pid: 301, PPid: 1, Comm: "zomb", State: 'Z'},
		{Pid: 400, PPid: 1, Comm: "systemd-network"},
	}
	spared := spareSet(ps, []int{202, 9999}, map[int][]string{100: {"0.0.0.0:22"}})
	want := map[int]bool{200: true, 201: true, 202: true, 203: true}
	if !reflect.DeepEqual(spared, want) {
		t.Fatalf("spared %v, want %v", spared, want)
	}
	var got []int
	for _, p := range victims(ps, 1, spared) {
		got = append(got, p.Pid)
	}
	if !reflect.DeepEqual(got, []int{100, 300, 400}) {
		t.Fatalf("victims %v", got)
	}
	// Sessions of the new SSH server are PID 1's own, with what they run.
	ps = append(ps, Proc{Pid: 500, PPid: 1, Comm: "sh"}, Proc{Pid: 501, PPid: 500, Comm: "vi"},
		Proc{Pid: 502, PPid: 300, Comm: "late"})
	if got := ours(ps, []int{500}); !reflect.DeepEqual(got, map[int]bool{500: true, 501: true}) {
		t.Fatalf("ours %v", got)
	}
	if !isNetworkDaemon("systemd-network") || isNetworkDaemon("journald") {
		t.Fatal("network daemon list")
	}
}

func TestParseListeners(t *testing.T) {
	in := map[string]string{}
	parseListenInodes(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
   1: 0F02000A:0016 0202000A:C350 01 00000000:00000000 02:0000A0B9 00000000     0        0 23456 4 0000000000000000 20 4 0 10 -1
`, in)
	parseListenInodes(`  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 777 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 778 1 0000000000000000 100 0 0 10 0
`, in)
	if !reflect.DeepEqual(in, map[string]string{"12345": "0.0.0.0:22", "777": "[::]:22", "778": "127.0.0.1:8080"}) {
		t.Fatalf("%v", in)
	}
	if d, ok := mapsDev("7f0c1c000000-7f0c1c021000 r-xp 00000000 fd:01 1234  /usr/lib/x.so"); !ok || d != 0xfd01 {
		t.Fatalf("maps dev %x %v", d, ok)
	}
	if _, ok := mapsDev("7ffd-7ffe rw-p 00000000 00:00 0  [stack]"); ok {
		t.Fatal("anonymous mapping has a device")
	}
}

func TestMethodFromArgv(t *testing.T) {
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{[]string{"/lib/systemd/systemd", "--system", "--deserialize=12"}, "reexec"},
		{[]string{"/usr/lib/systemd/systemd", "--switched-root", "--system", "--deserialize=12"}, "soft-reboot"},
		{[]string{"/sbin/init"}, "kernel"},
		{[]string{"/init", "single", "--", "x"}, "kernel"},
		{nil, "kernel"},
	} {
		if got := methodFromArgv(tc.argv); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.argv, got, tc.want)
		}
	}
}

func TestLoadStateDefaults(t *testing.T) {
	root := t.TempDir()
	for _, f := range []string{"etc/ssh/ssh_host_ed25519_key", "etc/ssh/ssh_host_rsa_key", "root/.ssh/authorized_keys"} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(f)), 0o700)
		os.WriteFile(filepath.Join(root, f), []byte("x"), 0o600)
	}
	st, _ := loadState(root, []string{"/init"})
	if st.Method != "kernel" || st.ConfirmWithin.Duration != 0 || len(st.HostKeys) != 2 ||
		!slices.Equal(st.AuthorizedKeys, []string{filepath.Join(root, "root/.ssh/authorized_keys")}) ||
		!slices.Equal(st.Listen, []string{":22"}) {
		t.Fatalf("defaults %+v", st)
	}
	// An unreadable state file: a takeover happened, so the dead-man arms.
	os.MkdirAll(filepath.Join(root, handoff.Dir), 0o700)
	os.WriteFile(filepath.Join(root, handoff.StateFile), []byte("{"), 0o600)
	st, note := loadState(root, []string{"/lib/systemd/systemd", "--system", "--deserialize=3"})
	if st.ConfirmWithin.Duration != DefaultConfirmWithin || st.Method != "reexec" {
		t.Fatalf("broken state: %+v (%s)", st, note)
	}
	good := &handoff.State{Method: "telinit", ConfirmWithin: handoff.Duration{Duration: time.Minute}, OldRoot: "/oldroot"}
	if err := good.Save(filepath.Join(root, handoff.StateFile)); err != nil {
		t.Fatal(err)
	}
	st, _ = loadState(root, nil)
	if st.Method != "telinit" || st.ConfirmWithin.Duration != time.Minute || st.OldRoot != "/oldroot" || !slices.Equal(st.Listen, []string{":22"}) {
		t.Fatalf("state %+v", st)
	}
}

func TestMergeRootKeepsEarlierPasses(t *testing.T) {
	first := RootStatus{State: RootBusy, SwapOff: []string{"/oldroot/swapfile"}, Stopped: []string{"dm-0"}, Spared: []int{7}}
	second := RootStatus{State: RootReleased, Stopped: []string{"loop0"}}
	got := mergeRoot(first, second)
	if got.State != RootReleased || len(got.Spared) != 0 ||
		!slices.Equal(got.SwapOff, []string{"/oldroot/swapfile"}) || !slices.Equal(got.Stopped, []string{"loop0", "dm-0"}) {
		t.Fatalf("%+v", got)
	}
}
