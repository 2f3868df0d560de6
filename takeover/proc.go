package takeover

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// memAvailable reads MemAvailable from a /proc/meminfo document: the
// kernel's estimate of what can be allocated without swapping.
func memAvailable(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemAvailable:" {
			kb, err := strconv.ParseUint(f[1], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("meminfo MemAvailable %q: %w", f[1], err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("meminfo has no MemAvailable line (kernel older than 3.14?)")
}

// procStat is the part of /proc/PID/stat the session walk needs.
type procStat struct {
	Comm string
	PPID int
}

// readProcStat parses /proc/PID/stat; comm is in parentheses and may
// itself contain spaces and parentheses, so fields are split after the
// last ')'.
func readProcStat(proc string, pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(proc, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	s := string(b)
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, fmt.Errorf("%s/%d/stat: malformed", proc, pid)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 2 {
		return procStat{}, fmt.Errorf("%s/%d/stat: malformed", proc, pid)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("%s/%d/stat: ppid %q: %w", proc, pid, f[1], err)
	}
	return procStat{Comm: s[open+1 : end], PPID: ppid}, nil
}

// sessionPIDs is the admin's session as init must spare it: this process
// and its ancestors, up to but not including PID 1, minus an sshd
// listener (a direct child of PID 1 named sshd), which has to die so the
// new server can have port 22. With OpenSSH >= 9.8 the per-connection
// processes are called sshd-session and the listener sshd; before, both
// were sshd, which is why the listener is told apart by its parent.
func sessionPIDs(proc string, self int) []int {
	var pids []int
	for pid, n := self, 0; pid > 1 && n < 64; n++ {
		st, err := readProcStat(proc, pid)
		if err != nil {
			break
		}
		if st.PPID == 1 && st.Comm == "sshd" {
			break
		}
		pids = append(pids, pid)
		pid = st.PPID
	}
	return pids
}
