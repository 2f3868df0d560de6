package sshd

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"
)

// Terminal mode opcodes of RFC 4254 section 8, as far as Linux has them.
var (
	modeChars = map[byte]int{
		1: unix.VINTR, 2: unix.VQUIT, 3: unix.VERASE, 4: unix.VKILL, 5: unix.VEOF, 6: unix.VEOL,
		7: unix.VEOL2, 8: unix.VSTART, 9: unix.VSTOP, 10: unix.VSUSP, 12: unix.VREPRINT,
		13: unix.VWERASE, 14: unix.VLNEXT, 18: unix.VDISCARD,
	}
	modeIflag = map[byte]uint32{
		30: unix.IGNPAR, 31: unix.PARMRK, 32: unix.INPCK, 33: unix.ISTRIP, 34: unix.INLCR,
		35: unix.IGNCR, 36: unix.ICRNL, 37: unix.IUCLC, 38: unix.IXON, 39: unix.IXANY,
		40: unix.IXOFF, 41: unix.IMAXBEL, 42: unix.IUTF8,
	}
	modeLflag = map[byte]uint32{
		50: unix.ISIG, 51: unix.ICANON, 52: unix.XCASE, 53: unix.ECHO, 54: unix.ECHOE,
		55: unix.ECHOK, 56: unix.ECHONL, 57: unix.NOFLSH, 58: unix.TOSTOP, 59: unix.IEXTEN,
		60: unix.ECHOCTL, 61: unix.ECHOKE, 62: unix.PENDIN,
	}
	modeOflag = map[byte]uint32{
		70: unix.OPOST, 71: unix.OLCUC, 72: unix.ONLCR, 73: unix.OCRNL, 74: unix.ONOCR, 75: unix.ONLRET,
	}
	modeCflag = map[byte]uint32{
		90: unix.CS7, 91: unix.CS8, 92: unix.PARENB, 93: unix.PARODD,
	}
)

// ttyOpEnd ends the list; speeds (128, 129) mean nothing on a PTY.
const ttyOpEnd = 0

// applyModes sets the client's terminal modes (the encoded list of a
// pty-req) on tty, so erase, interrupt and the like match what the
// client's terminal sends. Opcodes Linux lacks are skipped.
func applyModes(tty *os.File, modes string, logf func(string, ...any)) {
	if modes == "" {
		return
	}
	fd := int(tty.Fd())
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		logf("ioctl(TCGETS) on %s: %v", tty.Name(), err)
		return
	}
	parseModes([]byte(modes), func(op byte, v uint32) {
		if c, ok := modeChars[op]; ok {
			t.Cc[c] = uint8(v)
		}
		setFlag(&t.Iflag, modeIflag, op, v)
		setFlag(&t.Lflag, modeLflag, op, v)
		setFlag(&t.Oflag, modeOflag, op, v)
		setFlag(&t.Cflag, modeCflag, op, v)
	})
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
		logf("ioctl(TCSETS) on %s: %v", tty.Name(), err)
	}
}

func setFlag(flags *uint32, table map[byte]uint32, op byte, v uint32) {
	bit, ok := table[op]
	if !ok {
		return
	}
	if v != 0 {
		*flags |= bit
	} else {
		*flags &^= bit
	}
}

// parseModes walks the opcode/uint32 pairs up to TTY_OP_END; opcodes from
// 160 on have arguments of unknown size, so parsing stops there.
func parseModes(b []byte, f func(op byte, v uint32)) {
	for len(b) >= 5 {
		op := b[0]
		if op == ttyOpEnd || op >= 160 {
			return
		}
		f(op, binary.BigEndian.Uint32(b[1:5]))
		b = b[5:]
	}
}
