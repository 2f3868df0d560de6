package takeover

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"
)

// HostKey is one of the server's SSH host keys, carried so that the new
// server presents the identity the admin's known_hosts already trusts.
type HostKey struct {
	Path        string // in the old root
	Type        string // e.g. ssh-ed25519
	Fingerprint string // SHA256:...
}

// AuthKey is one authorized key that will open the new server.
type AuthKey struct {
	Source      string // the file it came from
	Key         ssh.PublicKey
	Comment     string
	Fingerprint string
}

// Line is the key as an authorized_keys line, without options.
func (k AuthKey) Line() string {
	l := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Key)))
	if k.Comment != "" {
		l += " " + k.Comment
	}
	return l
}

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

// harmlessOptions restrict only forwarding: dropping them on a rescue
// server grants nothing an admin with a shell lacks. Any other option
// (command=, from=, restrict, principals=, cert-authority, ...) changes
// who may log in or what they may do, and the new server does not
// enforce options, so such keys are left behind rather than widened.
var harmlessOptions = map[string]bool{
	"no-port-forwarding": true, "no-agent-forwarding": true, "no-x11-forwarding": true,
	"no-user-rc": true, "port-forwarding": true, "agent-forwarding": true, "x11-forwarding": true,
	"user-rc": true, "pty": true,
}

// parseAuthorizedKeys reads an authorized_keys document. It returns the
// keys it can carry and one line per key it leaves behind, and why.
func parseAuthorizedKeys(source string, data []byte) (keys []AuthKey, skipped []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		key, comment, opts, _, err := ssh.ParseAuthorizedKey(line)
		if err != nil {
			skipped = append(skipped, fmt.Sprintf("%s:%d: not a key: %v", source, n, err))
			continue
		}
		var bad []string
		for _, o := range opts {
			name, _, _ := strings.Cut(o, "=")
			if !harmlessOptions[strings.ToLower(name)] {
				bad = append(bad, name)
			}
		}
		fp := ssh.FingerprintSHA256(key)
		if len(bad) > 0 {
			skipped = append(skipped, fmt.Sprintf("%s:%d: %s %s: option %s would not be enforced", source, n, key.Type(), fp, strings.Join(bad, ",")))
			continue
		}
		keys = append(keys, AuthKey{Source: source, Key: key, Comment: comment, Fingerprint: fp})
	}
	return keys, skipped
}

// passwdHome finds a user's home directory in an /etc/passwd document.
func passwdHome(passwd []byte, user string) (string, bool) {
	for _, l := range strings.Split(string(passwd), "\n") {
		f := strings.Split(l, ":")
		if len(f) >= 7 && f[0] == user {
			return f[5], true
		}
	}
	return "", false
}

// authorizedKeysFiles reads sshd_config's AuthorizedKeysFile (the global
// one, before any Match block) or returns OpenSSH's default.
func authorizedKeysFiles(sshdConfig []byte) []string {
	for _, l := range strings.Split(string(sshdConfig), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToLower(f[0]) {
		case "match":
			return defaultAuthorizedKeysFiles
		case "authorizedkeysfile":
			if len(f) > 1 && f[1] != "none" {
				return f[1:]
			}
		}
	}
	return defaultAuthorizedKeysFiles
}

var defaultAuthorizedKeysFiles = []string{".ssh/authorized_keys", ".ssh/authorized_keys2"}

// expandKeysPath applies sshd_config's %h, %u, %% tokens; a relative path
// is relative to the home directory.
func expandKeysPath(pattern, user, home string) string {
	r := strings.NewReplacer("%%", "%", "%h", home, "%u", user)
	p := r.Replace(pattern)
	if !filepath.IsAbs(p) {
		p = filepath.Join(home, p)
	}
	return p
}

// findAuthorizedKeys collects the keys that may log in to the new server
// as root: root's own and those of the admin who became root through sudo
// or doas (the key that opened this very session is usually theirs).
func findAuthorizedKeys(root string, users []string) (keys []AuthKey, skipped []string) {
	passwd, _ := os.ReadFile(filepath.Join(root, "etc", "passwd"))
	config, _ := os.ReadFile(filepath.Join(root, "etc", "ssh", "sshd_config"))
	patterns := authorizedKeysFiles(config)
	seen := map[string]bool{}
	files := map[string]bool{}
	for _, u := range users {
		home, ok := passwdHome(passwd, u)
		if !ok {
			if u != "root" {
				skipped = append(skipped, fmt.Sprintf("user %s: not in /etc/passwd", u))
				continue
			}
			home = "/root"
		}
		for _, pat := range patterns {
			p := expandKeysPath(pat, u, home)
			if files[p] {
				continue
			}
			files[p] = true
			b, err := os.ReadFile(filepath.Join(root, p))
			if err != nil {
				continue
			}
			ks, sk := parseAuthorizedKeys(p, b)
			skipped = append(skipped, sk...)
			for _, k := range ks {
				if !seen[k.Fingerprint] {
					seen[k.Fingerprint] = true
					keys = append(keys, k)
				}
			}
		}
	}
	return keys, skipped
}
