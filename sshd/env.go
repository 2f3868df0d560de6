package sshd

import (
	"path"
	"strings"
)

// DefaultAcceptEnv is what clients may set through env requests (SendEnv),
// the same set Debian's sshd_config accepts.
var DefaultAcceptEnv = []string{"LANG", "LC_*", "TERM", "COLORTERM"}

// neverAcceptEnv change how programs load or run, so a client may never set
// them whatever AcceptEnv says.
var neverAcceptEnv = []string{"LD_*", "DYLD_*", "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN",
	"MALLOC_*", "NLSPATH", "RES_OPTIONS", "TMPDIR", "TZDIR", "GOTRACEBACK", "GODEBUG", "BASH_ENV", "ENV",
	"IFS", "PATH", "SHELL", "HOME", "USER", "LOGNAME", "SSH_*", "PS4"}

// acceptEnv reports whether a client's env request name=value may be
// applied under the patterns in allow.
func acceptEnv(allow []string, name, value string) bool {
	if !validEnvName(name) || strings.ContainsRune(value, 0) {
		return false
	}
	for _, p := range neverAcceptEnv {
		if ok, _ := path.Match(p, name); ok {
			return false
		}
	}
	for _, p := range allow {
		if ok, _ := path.Match(p, name); ok {
			return true
		}
	}
	return false
}

func validEnvName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i, c := range s {
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
