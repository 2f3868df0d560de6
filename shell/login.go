package shell

import (
	"os"
	"path/filepath"
)

// A login shell is started with argv[0] "-sh" (by sshd, login, su -). The
// binary's dispatcher picks a command by argv[0] before any main runs and
// knows no "-sh", so this package's init, which runs first, drops the dash.
func init() {
	if len(os.Args) > 0 && filepath.Base(os.Args[0]) == "-sh" {
		os.Args[0] = filepath.Join(filepath.Dir(os.Args[0]), "sh")
	}
}
