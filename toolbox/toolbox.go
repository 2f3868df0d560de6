// Package toolbox knows the rescue commands built into the paroodise
// binary: u-root's (listed in tools.go) and our own (lsblk, sha256sum,
// sh, reboot, poweroff). The binary runs one when started under its name,
// so the toolbox is reached through symlinks or argv[0].
package toolbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// names are the toolbox commands, sorted. TestNamesMatchTools checks them
// against tools.go and cmd/.
var names = []string{
	"base64", "basename", "blkid", "cat", "chmod", "chroot", "cmp", "cp", "cpio",
	"date", "dd", "df", "dhclient", "dirname", "dmesg", "du", "echo", "ed",
	"false", "find", "free", "gpt", "grep", "gzip", "head", "hexdump",
	"hostname", "id", "insmod", "ip", "kill", "ln", "losetup", "ls", "lsblk",
	"lsmod", "md5sum", "mkdir", "mknod", "mktemp", "modprobe", "more", "mount",
	"mv", "netcat", "netstat", "paroodise", "partprobe", "pidof", "ping",
	"poweroff", "printenv", "ps", "pwd", "readlink", "realpath", "reboot", "rm",
	"rmmod", "scp", "seq", "sh", "sha256sum", "sleep", "sort", "strings", "stty",
	"sync", "tac", "tail", "tar", "tee", "timeout", "touch", "tr", "traceroute",
	"true", "truncate", "tty", "umount", "uname", "uniq", "unshare", "uptime",
	"watch", "wc", "wget", "which", "xargs",
}

// Names returns the toolbox command names, sorted.
func Names() []string { return slices.Clone(names) }

// Has reports whether name is a toolbox command.
func Has(name string) bool {
	_, ok := slices.BinarySearch(names, name)
	return ok
}

// Install makes dir/NAME a symlink to exe for every toolbox command, so a
// PATH holding dir reaches them. Existing entries are left alone: a real
// tool already there wins.
func Install(dir, exe string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mkdir %s: %w", dir, err)
	}
	for _, n := range names {
		link := filepath.Join(dir, n)
		if err := os.Symlink(exe, link); err != nil && !os.IsExist(err) {
			return fmt.Errorf("symlink %s -> %s: %w", link, exe, err)
		}
	}
	return nil
}
