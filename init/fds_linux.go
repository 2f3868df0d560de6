package pid1

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// closeInherited closes every descriptor above 2 that survived exec: the
// old init's sockets, bpf programs, pidfds, its state memfd, autofs pipes.
// They keep old services' sockets (and sometimes the old disk) alive.
// Descriptors without FD_CLOEXEC are exactly the inherited ones: Go opens
// all of its own (epoll, eventfd, files) close-on-exec.
func closeInherited(fdDir string) (closed int, err error) {
	d, err := os.Open(fdDir)
	if err != nil {
		return 0, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", fdDir, err)
	}
	for _, n := range names {
		fd, err := strconv.Atoi(n)
		if err != nil || fd <= 2 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if err != nil || flags&unix.FD_CLOEXEC != 0 {
			continue // gone (it was the directory's own fd) or ours
		}
		if unix.Close(fd) == nil {
			closed++
		}
	}
	return closed, nil
}

// consoleStdio points 0, 1 and 2 at /dev/console when stderr leads
// nowhere: closed, or /dev/null as systemd leaves it (after a pivot its
// path no longer reads /dev/null, so the device number is compared).
func consoleStdio() {
	var st unix.Stat_t
	if err := unix.Fstat(2, &st); err == nil &&
		!(st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3)) {
		return
	}
	fd, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	for i := 0; i <= 2; i++ {
		_ = unix.Dup3(fd, i, 0)
	}
	unix.Close(fd)
}

// kmsg writes each log line as one kernel log record.
type kmsg struct{ f *os.File }

func openKmsg() *kmsg {
	f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0)
	if err != nil {
		return nil
	}
	return &kmsg{f}
}

func (k *kmsg) Write(p []byte) (int, error) {
	// <6> is KERN_INFO; the kernel splits nothing, so one write per line.
	_, err := k.f.Write(append([]byte("<6>"), p...))
	return len(p), err
}
