package pid1

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	procRoot   = "/proc"
	cgroupRoot = "/sys/fs/cgroup"
)

// killAll stops every process but PID 1 and those spare names (nil:
// none; it is asked again on every listing): SIGTERM (SIGKILL
// for network daemons), up to grace for them to exit, then SIGKILL for
// the rest, whole cgroups at once where cgroup.kill exists so that forking
// services cannot escape, and a last bounded wait. Processes in every
// mount namespace are in /proc, so services with PrivateTmp go too. It
// returns what is still alive.
func killAll(logf func(string, ...any), procFS string, spare func([]Proc) map[int]bool, grace time.Duration) []Proc {
	vs := remaining(procFS, spare)
	if len(vs) == 0 {
		return nil
	}
	// Outside PID 1 (a test process, a mistaken call) this would signal
	// every process of the host, so it refuses, as reboot does.
	if os.Getpid() != 1 {
		logf("not stopping %d processes: this is pid %d, not PID 1", len(vs), os.Getpid())
		return vs
	}
	var names []string
	for _, p := range vs {
		sig := unix.SIGTERM
		if isNetworkDaemon(p.Comm) {
			sig = unix.SIGKILL
		}
		names = append(names, strconv.Itoa(p.Pid)+"/"+p.Comm)
		_ = unix.Kill(p.Pid, sig)
		_ = unix.Kill(p.Pid, unix.SIGCONT) // stopped processes cannot act on TERM
	}
	logf("stopping %d processes: %s", len(vs), strings.Join(names, " "))
	left := waitGone(procFS, spare, grace)
	if len(left) == 0 {
		return nil
	}
	if initialPidNS(procFS) {
		for _, cg := range killCgroups(procFS, cgroupRoot, left, spare) {
			logf("killed cgroup %s", cg)
		}
	}
	for _, p := range left {
		_ = unix.Kill(p.Pid, unix.SIGKILL)
	}
	left = waitGone(procFS, spare, 5*time.Second)
	for _, p := range left {
		logf("pid %d (%s) survives SIGKILL (state %c)", p.Pid, p.Comm, p.State)
	}
	return left
}

// remaining lists the processes still to stop.
func remaining(procFS string, spare func([]Proc) map[int]bool) []Proc {
	ps := listProcs(procFS)
	var keep map[int]bool
	if spare != nil {
		keep = spare(ps)
	}
	return victims(ps, os.Getpid(), keep)
}

// waitGone waits up to d for the victims to exit and returns those left.
func waitGone(procFS string, spare func([]Proc) map[int]bool, d time.Duration) []Proc {
	end := time.Now().Add(d)
	for {
		left := remaining(procFS, spare)
		if len(left) == 0 || time.Now().After(end) {
			return left
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// initialPidNS reports whether we see the whole machine's processes:
// kthreadd is pid 2 only there. cgroup.kill reaches processes outside our
// PID namespace, so it is used only when there are none.
func initialPidNS(procFS string) bool {
	b, err := os.ReadFile(filepath.Join(procFS, "2", "stat"))
	if err != nil {
		return false
	}
	p, ok := parseStat(b)
	return ok && p.Kernel && p.Comm == "kthreadd"
}

// killCgroups writes to cgroup.kill of every cgroup v2 group holding a
// victim, unless it also holds PID 1 or a spared process (PID 1's own
// children are in its cgroup).
func killCgroups(procFS, cgFS string, vs []Proc, spare func([]Proc) map[int]bool) []string {
	keep := map[string]bool{"/": true, cgroupOf(procFS, 1): true, cgroupOf(procFS, os.Getpid()): true}
	if spare != nil {
		for pid := range spare(listProcs(procFS)) {
			keep[cgroupOf(procFS, pid)] = true
		}
	}
	var killed []string
	seen := map[string]bool{}
	for _, p := range vs {
		cg := cgroupOf(procFS, p.Pid)
		if cg == "" || keep[cg] || seen[cg] {
			continue
		}
		seen[cg] = true
		if os.WriteFile(filepath.Join(cgFS, cg, "cgroup.kill"), []byte("1"), 0) == nil {
			killed = append(killed, cg)
		}
	}
	return killed
}

// cgroupOf returns the cgroup v2 path of pid ("0::/system.slice/x").
func cgroupOf(procFS string, pid int) string {
	b, err := os.ReadFile(filepath.Join(procFS, strconv.Itoa(pid), "cgroup"))
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(line, "0::"); ok {
			return p
		}
	}
	return ""
}

// listeners returns, for the pids among candidates that hold listening
// TCP sockets in our network namespace, the addresses they listen on.
func listeners(procFS string, candidates []int) map[int][]string {
	inodes := map[string]string{}
	for _, t := range []string{"net/tcp", "net/tcp6"} {
		if b, err := os.ReadFile(filepath.Join(procFS, t)); err == nil {
			parseListenInodes(string(b), inodes)
		}
	}
	out := map[int][]string{}
	for _, pid := range candidates {
		dir := filepath.Join(procFS, strconv.Itoa(pid), "fd")
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			t, err := os.Readlink(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			if ino, ok := strings.CutPrefix(t, "socket:["); ok {
				if addr, ok := inodes[strings.TrimSuffix(ino, "]")]; ok {
					out[pid] = append(out[pid], addr)
				}
			}
		}
	}
	return out
}

// readLines returns the lines of a file, or nil if it does not exist.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return lines, sc.Err()
}
