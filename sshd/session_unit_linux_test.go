package sshd

import (
	"encoding/binary"
	"errors"
	"os/exec"
	"testing"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

func TestExitCode(t *testing.T) {
	run := func(script string) error { return exec.Command("/bin/sh", "-c", script).Run() }
	cases := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{run("exit 3"), 3},
		{run("kill -INT $$"), 130},
		{run("kill -KILL $$"), 137},
		{errors.New("wait: no child processes"), 255},
	}
	for _, c := range cases {
		if got := exitCode(c.err); got != c.want {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

func TestApplyModes(t *testing.T) {
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer tty.Close()
	var modes []byte
	add := func(op byte, v uint32) {
		modes = append(modes, op)
		modes = binary.BigEndian.AppendUint32(modes, v)
	}
	add(3, 8)  // VERASE = ^H
	add(53, 0) // -echo
	add(72, 0) // -onlcr
	add(42, 1) // iutf8
	add(128, 38400)
	add(200, 1) // unknown from here on: parsing stops
	add(51, 0)
	modes = append(modes, 0)
	applyModes(tty, string(modes), func(f string, a ...any) { t.Errorf(f, a...) })
	tio, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if tio.Cc[unix.VERASE] != 8 || tio.Lflag&unix.ECHO != 0 || tio.Oflag&unix.ONLCR != 0 || tio.Iflag&unix.IUTF8 == 0 {
		t.Errorf("modes not applied: %+v", tio)
	}
	if tio.Lflag&unix.ICANON == 0 {
		t.Errorf("opcode after an unknown one was applied")
	}
}
