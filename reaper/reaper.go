// Package reaper is the one place in a paroodise process that collects
// exited children. Children we start ourselves are registered before they
// exist and are left for their exec.Cmd.Wait, so exit codes are never
// stolen; every other child (an orphan re-parented to PID 1 or to a
// subreaper) is reaped here and announced to subscribers.
package reaper

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Exit describes an orphan the reaper collected.
type Exit struct {
	Pid    int
	Status unix.WaitStatus
}

var (
	mu    sync.Mutex
	owned = map[int]bool{} // pids whose exec.Cmd will Wait for them
	subs  = map[chan Exit]bool{}
	kick  = make(chan struct{}, 1)
	once  sync.Once
)

// Start starts cmd and registers it so that Loop leaves it to Wait.
// The lock is held across fork so the child cannot be reaped before it
// is known.
func Start(cmd *exec.Cmd) error {
	mu.Lock()
	defer mu.Unlock()
	if err := cmd.Start(); err != nil {
		return err
	}
	owned[cmd.Process.Pid] = true
	return nil
}

// Wait waits for a command started with Start, then lets the loop look
// again for orphans that exited while this child hid them.
func Wait(cmd *exec.Cmd) error {
	err := cmd.Wait()
	mu.Lock()
	delete(owned, cmd.Process.Pid)
	mu.Unlock()
	Kick()
	return err
}

// Run is Start followed by Wait.
func Run(cmd *exec.Cmd) error {
	if err := Start(cmd); err != nil {
		return err
	}
	return Wait(cmd)
}

// Owned returns the pids started with Start and not yet waited for: the
// children this process started itself, as opposed to adopted orphans.
func Owned() []int {
	mu.Lock()
	defer mu.Unlock()
	pids := make([]int, 0, len(owned))
	for pid := range owned {
		pids = append(pids, pid)
	}
	return pids
}

// Subscribe returns a channel that receives every orphan reaped from now
// on, and a func to stop. Slow subscribers miss events rather than block
// the reaper.
func Subscribe() (<-chan Exit, func()) {
	ch := make(chan Exit, 64)
	mu.Lock()
	subs[ch] = true
	mu.Unlock()
	return ch, func() {
		mu.Lock()
		delete(subs, ch)
		mu.Unlock()
	}
}

// Kick asks the loop to scan for zombies now.
func Kick() {
	select {
	case kick <- struct{}{}:
	default:
	}
}

// Loop reaps orphans until the process exits. It is started once, by
// whoever is PID 1 or a subreaper; calling it again is a no-op.
func Loop() {
	once.Do(func() {
		sig := make(chan os.Signal, 16)
		signal.Notify(sig, syscall.SIGCHLD)
		go func() {
			for {
				reapOrphans()
				select {
				case <-sig:
				case <-kick:
				}
			}
		}()
	})
}

// BecomeSubreaper makes orphans of our descendants ours to reap, as they
// would be PID 1's; used when paroodise runs below another init.
func BecomeSubreaper() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER, 1): %w", err)
	}
	return nil
}

// reapOrphans collects every zombie child that is not owned. Zombies are
// found in /proc because wait4(-1) cannot skip the children exec.Cmd owns.
func reapOrphans() {
	mu.Lock()
	defer mu.Unlock()
	for _, pid := range zombieChildren("/proc", os.Getpid()) {
		if owned[pid] {
			continue
		}
		var ws unix.WaitStatus
		for {
			got, err := unix.Wait4(pid, &ws, unix.WNOHANG, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil || got != pid {
				break
			}
			for ch := range subs {
				select {
				case ch <- Exit{Pid: pid, Status: ws}:
				default:
				}
			}
			break
		}
	}
}

// zombieChildren lists the pids in state Z whose parent is ppid.
func zombieChildren(procFS string, ppid int) []int {
	ents, err := os.ReadDir(procFS)
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, parent, ok := statOf(procFS, pid)
		if ok && state == 'Z' && parent == ppid {
			pids = append(pids, pid)
		}
	}
	return pids
}

// statOf reads state and ppid from /proc/PID/stat; comm may hold spaces
// and parentheses, so fields are counted from the last ')'.
func statOf(procFS string, pid int) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(procFS + "/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}
