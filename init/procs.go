package pid1

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Proc is one process as /proc/PID/stat describes it.
type Proc struct {
	Pid, PPid int
	Comm      string
	State     byte
	Kernel    bool // a kernel thread: never signalled
}

// pfKthread is PF_KTHREAD in the flags field of /proc/PID/stat.
const pfKthread = 0x00200000

// parseStat parses /proc/PID/stat. comm may hold spaces and parentheses,
// so the fields after it are counted from the last ')'.
func parseStat(b []byte) (Proc, bool) {
	s := string(b)
	open, shut := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || shut < open {
		return Proc{}, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil {
		return Proc{}, false
	}
	f := strings.Fields(s[shut+1:])
	// state ppid pgrp session tty_nr tpgid flags …
	if len(f) < 7 || len(f[0]) != 1 {
		return Proc{}, false
	}
	ppid, err1 := strconv.Atoi(f[1])
	flags, err2 := strconv.ParseUint(f[6], 10, 64)
	if err1 != nil || err2 != nil {
		return Proc{}, false
	}
	return Proc{Pid: pid, PPid: ppid, Comm: s[open+1 : shut], State: f[0][0], Kernel: flags&pfKthread != 0}, true
}

// listProcs reads every process in procFS.
func listProcs(procFS string) []Proc {
	ents, err := os.ReadDir(procFS)
	if err != nil {
		return nil
	}
	var ps []Proc
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(procFS, e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		if p, ok := parseStat(b); ok {
			ps = append(ps, p)
		}
	}
	return ps
}

// spareSet is the admin's session that must survive until the first
// login on the new server: the given pids, everything below them, and
// everything above them up to PID 1, except ancestors in notAncestor (the
// old sshd's listener, which holds the SSH port the new server needs and
// whose death does not end its sessions).
func spareSet(ps []Proc, spare []int, notAncestor map[int][]string) map[int]bool {
	byPid := map[int]Proc{}
	children := map[int][]int{}
	for _, p := range ps {
		byPid[p.Pid] = p
		children[p.PPid] = append(children[p.PPid], p.Pid)
	}
	set := map[int]bool{}
	for _, pid := range spare {
		if _, ok := byPid[pid]; !ok || pid <= 1 {
			continue
		}
		queue := []int{pid}
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			if set[p] {
				continue
			}
			set[p] = true
			queue = append(queue, children[p]...)
		}
		for p := byPid[pid].PPid; p > 1; p = byPid[p].PPid {
			if _, ok := byPid[p]; !ok || notAncestor[p] != nil {
				break
			}
			set[p] = true
		}
	}
	return set
}

// ours returns the processes paroodise's PID 1 started (SSH sessions)
// and everything below them, from the children it started itself: the
// old init's services are children of PID 1 too, but not started by it.
func ours(ps []Proc, started []int) map[int]bool {
	children := map[int][]int{}
	for _, p := range ps {
		children[p.PPid] = append(children[p.PPid], p.Pid)
	}
	set := map[int]bool{}
	queue := slices.Clone(started)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if !set[p] {
			set[p] = true
			queue = append(queue, children[p]...)
		}
	}
	return set
}

// victims are the processes to stop: every user-space process except us
// and the spared ones. Zombies are left to the reaper.
func victims(ps []Proc, self int, spared map[int]bool) []Proc {
	var out []Proc
	for _, p := range ps {
		if p.Kernel || p.Pid == self || p.Pid == 1 || spared[p.Pid] || p.State == 'Z' || p.State == 'X' {
			continue
		}
		out = append(out, p)
	}
	return out
}

// networkDaemons lose the addresses they manage when asked to stop
// (systemd-networkd with KeepConfiguration=no), which would cut the
// machine off: they get SIGKILL, never SIGTERM. comm is cut at 15 bytes.
var networkDaemons = []string{
	"systemd-network", "NetworkManager", "dhclient", "dhcpcd", "udhcpc",
	"wicked", "wickedd", "wickedd-dhcp4", "wickedd-dhcp6", "connmand", "dhcp6c",
}

func isNetworkDaemon(comm string) bool { return slices.Contains(networkDaemons, comm) }

// parseListenInodes records the sockets in LISTEN state of a
// /proc/net/tcp or tcp6 table: inode → local address ("0.0.0.0:22",
// "[::]:22").
func parseListenInodes(table string, into map[string]string) {
	for i, line := range strings.Split(table, "\n") {
		f := strings.Fields(line)
		// sl local rem st tx:rx tr:when retrnsmt uid timeout inode
		if i == 0 || len(f) < 10 || f[3] != "0A" {
			continue
		}
		into[f[9]] = procNetAddr(f[1])
	}
}

// procNetAddr decodes a /proc/net/tcp address: the IP as 32-bit words in
// host (little-endian) order, then the port, all in hex.
func procNetAddr(s string) string {
	ipHex, portHex, ok := strings.Cut(s, ":")
	port, err := strconv.ParseUint(portHex, 16, 16)
	if !ok || err != nil || (len(ipHex) != 8 && len(ipHex) != 32) {
		return s
	}
	ip := make([]byte, 0, 16)
	for w := 0; w < len(ipHex); w += 8 {
		v, err := strconv.ParseUint(ipHex[w:w+8], 16, 32)
		if err != nil {
			return s
		}
		ip = append(ip, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	addr, _ := netip.AddrFromSlice(ip)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)).String()
}
