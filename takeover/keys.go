package takeover

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/paroodise/paroodise/sshd"
)

// HostKey is one of the server's SSH host keys, carried so that the new
// server presents the identity the admin's known_hosts already trusts.
type HostKey struct {
	Path        string // in the old root
	Type        string // e.g. ssh-ed25519
	Fingerprint string // SHA256:...
}

// AuthKey is one authorized key carried to the new server, which
// enforces the same options (sshd.ParseAuthorizedKeys) as it did here.
type AuthKey struct {
	sshd.AuthorizedKey
	File        string // the file it came from
	Fingerprint string
}

// OpensShell says whether the key gives its holder a shell, not only a
// forced command such as a cloud image's "please log in as admin".
func (k AuthKey) OpensShell() bool { return k.Command == "" }

// findHostKeys loads /etc/ssh/ssh_host_*_key under root. Keys that do not
// parse (encrypted, damaged) are reported in skipped, not fatal: the
// others still identify the server.
func findHostKeys(root string) (keys []HostKey, skipped []string) {
	paths, _ := filepath.Glob(filepath.Join(root, "etc", "ssh", "ssh_host_*_key"))
	sort.Strings(paths)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", strings.TrimPrefix(p, root), err))
			continue
		}
		s, err := ssh.ParsePrivateKey(b)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s: %v", strings.TrimPrefix(p, root), err))
			continue
		}
		keys = append(keys, HostKey{Path: p, Type: s.PublicKey().Type(), Fingerprint: ssh.FingerprintSHA256(s.PublicKey())})
	}
	return keys, skipped
}

// passwdEntry finds a user's uid and home directory in /etc/passwd.
func passwdEntry(passwd []byte, user string) (uid, home string, ok bool) {
	for _, l := range strings.Split(string(passwd), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 7 && f[0] == user {
			return f[2], f[5], true
		}
	}
	return "", "", false
}

// findAuthorizedKeys collects the keys that may log in to the new server
// as root: root's own and those of the admin who became root through sudo
// or doas (the key that opened this very session is usually theirs).
func findAuthorizedKeys(root string, users []string) (keys []AuthKey, skipped []string) {
	passwd, _ := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	config := filepath.Join(root, "etc", "ssh", "sshd_config")
	seen := map[string]bool{}
	files := map[string]bool{}
	for _, u := range users {
		uid, home, ok := passwdEntry(passwd, u)
		if !ok {
			if u != "root" {
				skipped = append(skipped, fmt.Sprintf("user %s: not in /etc/passwd", u))
				continue
			}
			uid, home = "0", "/root"
		}
		for _, p := range sshd.DefaultAuthorizedKeysFiles(config, u, uid, home) {
			if files[p] {
				continue
			}
			files[p] = true
			b, err := os.ReadFile(filepath.Join(root, p))
			if err != nil {
				continue
			}
			ks, sk := sshd.ParseAuthorizedKeys(p, b)
			skipped = append(skipped, sk...)
			for _, k := range ks {
				fp := ssh.FingerprintSHA256(k.Key)
				if !seen[k.Line] {
					seen[k.Line] = true
					keys = append(keys, AuthKey{AuthorizedKey: k, File: p, Fingerprint: fp})
				}
			}
		}
	}
	return keys, skipped
}
