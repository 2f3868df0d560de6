package pid1

import (
	"fmt"
	"os"
	"strconv"
	"strings"

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

// openStdio makes sure descriptors 0, 1 and 2 are open, on /dev/null or
// /, so that nothing PID 1 opens later lands on them (the kernel leaves
// them closed when the initramfs has no /dev/console).
func openStdio() {
	for fd := 0; fd <= 2; fd++ {
		if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err == nil {
			continue
		}
		if _, err := unix.Open("/dev/null", unix.O_RDWR, 0); err != nil {
			_, _ = unix.Open("/", unix.O_RDONLY, 0)
		}
	}
}

// consoleStdio points each of 0, 1 and 2 that leads nowhere (/dev/null,
// as systemd leaves them, or / from openStdio) at /dev/console, so that
// PID 1's log is seen. After a pivot a path no longer reads /dev/null, so
// the device number is compared.
func consoleStdio() {
	nowhere := func(fd int) bool {
		var st unix.Stat_t
		if unix.Fstat(fd, &st) != nil {
			return true
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			return st.Rdev == unix.Mkdev(1, 3)
		case unix.S_IFDIR:
			return true
		}
		return false
	}
	con, err := unix.Open("/dev/console", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	for fd := 0; fd <= 2; fd++ {
		if nowhere(fd) {
			_ = unix.Dup3(con, fd, 0)
		}
	}
	unix.Close(con)
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

// kmsgLevel is the level of our kernel-log lines: KERN_INFO.
const kmsgLevel = 6

func (k *kmsg) Write(p []byte) (int, error) {
	// One write is one record.
	_, err := k.f.Write(append([]byte("<"+strconv.Itoa(kmsgLevel)+">"), p...))
	return len(p), err
}

// consoleLoglevel is the kernel's console_loglevel: records with a lower
// level are printed on the console.
func consoleLoglevel() int {
	b, err := os.ReadFile("/proc/sys/kernel/printk")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

// stderrIsConsole reports whether fd 2 is /dev/console.
func stderrIsConsole() bool {
	var st unix.Stat_t
	return unix.Fstat(2, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(5, 1)
}
