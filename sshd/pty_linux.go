package sshd

import (
	"fmt"
	"os"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// openPty opens a PTY pair whose master is non-blocking and on Go's
// poller. creack/pty leaves the master in blocking mode, where Close does
// not end a pending Read: a background job that ignores SIGHUP and keeps
// the terminal open would then keep its session open for ever.
func openPty() (master, tty *os.File, err error) {
	m, tty, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	fd, err := unix.FcntlInt(m.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	m.Close()
	if err == nil {
		err = unix.SetNonblock(fd, true)
		if err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		tty.Close()
		return nil, nil, fmt.Errorf("make %s master non-blocking: %w", tty.Name(), err)
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), tty, nil
}

// control runs f on the file's descriptor without putting it back in
// blocking mode, as (*os.File).Fd would.
func control(file *os.File, f func(fd int) error) error {
	rc, err := file.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = f(int(fd)) }); err != nil {
		return err
	}
	return ferr
}

func setWinsize(master *os.File, p *ptyRequest) error {
	ws := &unix.Winsize{Row: uint16(p.Rows), Col: uint16(p.Columns), Xpixel: uint16(p.Width), Ypixel: uint16(p.Height)}
	return control(master, func(fd int) error { return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws) })
}

// foreground is the terminal's foreground process group.
func foreground(master *os.File) (int, error) {
	var pgrp int
	err := control(master, func(fd int) (err error) {
		pgrp, err = unix.IoctlGetInt(fd, unix.TIOCGPGRP)
		return err
	})
	return pgrp, err
}
