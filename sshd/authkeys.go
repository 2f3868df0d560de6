package sshd

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

// AuthorizedKey is one usable line of an authorized_keys file with the
// options this server honours.
type AuthorizedKey struct {
	Key     gossh.PublicKey
	Comment string
	Source  string // "file:line", for logs
	Line    string // the line as written, options included

	Command string   // command="…": forced command, or "" for none
	From    []string // from="…": address patterns, nil for any
	NoPty   bool     // no-pty or restrict without a later pty
	Expiry  time.Time
}

// keyOptionPolicy says what happens to each authorized_keys option. The
// forwarding and rc options restrict things this server never offers, so
// they are honoured by construction; environment= is ignored exactly as
// OpenSSH ignores it under its default PermitUserEnvironment=no. Options
// that would need certificates or FIDO flags we do not check make the key
// unusable rather than silently weaker.
var keyOptionPolicy = map[string]string{
	"command":             "honoured",
	"from":                "honoured",
	"expiry-time":         "honoured",
	"no-pty":              "honoured",
	"pty":                 "honoured",
	"restrict":            "honoured",
	"no-port-forwarding":  "never offered",
	"port-forwarding":     "never offered",
	"no-agent-forwarding": "never offered",
	"agent-forwarding":    "never offered",
	"no-x11-forwarding":   "never offered",
	"x11-forwarding":      "never offered",
	"no-user-rc":          "never offered",
	"user-rc":             "never offered",
	"permitopen":          "never offered",
	"permitlisten":        "never offered",
	"tunnel":              "never offered",
	"environment":         "ignored",
	"cert-authority":      "refused",
	"principals":          "refused",
	"verify-required":     "refused",
	"no-touch-required":   "refused",
}

// ParseAuthorizedKeys reads authorized_keys data. Lines that do not parse
// and keys whose options we refuse are reported in problems (one line
// each, naming name:line) and skipped; every other key is returned.
func ParseAuthorizedKeys(name string, data []byte) (keys []AuthorizedKey, problems []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		where := name + ":" + strconv.Itoa(n)
		pub, comment, opts, _, err := gossh.ParseAuthorizedKey(line)
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s: not a public key line: %v", where, err))
			continue
		}
		k := AuthorizedKey{Key: pub, Comment: comment, Source: where, Line: string(line)}
		if err := k.applyOptions(opts); err != nil {
			problems = append(problems, fmt.Sprintf("%s: key %s refused: %v", where, gossh.FingerprintSHA256(pub), err))
			continue
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		problems = append(problems, fmt.Sprintf("%s: %v", name, err))
	}
	return keys, problems
}

func (k *AuthorizedKey) applyOptions(opts []string) error {
	for _, o := range opts {
		name, val, hasVal := strings.Cut(o, "=")
		name = strings.ToLower(name)
		policy, known := keyOptionPolicy[name]
		switch {
		case !known:
			return fmt.Errorf("unknown option %q", name)
		case policy == "refused":
			return fmt.Errorf("option %q is not supported", name)
		}
		if hasVal {
			v, err := unquoteOption(val)
			if err != nil {
				return fmt.Errorf("option %s: %w", name, err)
			}
			val = v
		}
		switch name {
		case "command":
			k.Command = val
		case "from":
			if val == "" {
				return fmt.Errorf("option from: empty pattern list")
			}
			k.From = strings.Split(val, ",")
		case "expiry-time":
			t, err := parseExpiry(val)
			if err != nil {
				return err
			}
			k.Expiry = t
		case "no-pty", "restrict":
			k.NoPty = true
		case "pty":
			k.NoPty = false
		}
	}
	return nil
}

// unquoteOption strips the double quotes of an option value and undoes
// the \" escapes, as sshd does.
func unquoteOption(v string) (string, error) {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return "", fmt.Errorf("value %q is not in double quotes", v)
	}
	return strings.ReplaceAll(v[1:len(v)-1], `\"`, `"`), nil
}

// parseExpiry reads expiry-time's YYYYMMDD[HHMM[SS]] in local time, with a
// trailing Z for UTC.
func parseExpiry(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		v, loc = v[:len(v)-1], time.UTC
	}
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(v)]
	if !ok {
		return time.Time{}, fmt.Errorf("expiry-time %q: want YYYYMMDD[HHMM[SS]]", v)
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry-time %q: %w", v, err)
	}
	return t, nil
}

// permits reports whether the key may log in now from addr, and why not.
func (k *AuthorizedKey) permits(addr net.Addr, now time.Time) error {
	if !k.Expiry.IsZero() && now.After(k.Expiry) {
		return fmt.Errorf("expired at %s (%s)", k.Expiry.Format(time.RFC3339), k.Source)
	}
	if k.From != nil && !matchFrom(k.From, addrIP(addr)) {
		return fmt.Errorf("source not in from=%q (%s)", strings.Join(k.From, ","), k.Source)
	}
	return nil
}

// matchFrom applies an sshd pattern list to ip: "!" negates, * and ? are
// wildcards, a/n is a CIDR block. Host names never match: the server does
// no reverse DNS, so such keys only work from a listed address.
func matchFrom(patterns []string, ip net.IP) bool {
	if ip == nil {
		return false
	}
	s := ip.String()
	matched := false
	for _, p := range patterns {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimPrefix(p, "!")
		var hit bool
		if _, block, err := net.ParseCIDR(p); err == nil {
			hit = block.Contains(ip)
		} else {
			hit, _ = path.Match(p, s)
		}
		if hit && neg {
			return false
		}
		matched = matched || hit
	}
	return matched
}

func addrIP(a net.Addr) net.IP {
	switch a := a.(type) {
	case *net.TCPAddr:
		if ip4 := a.IP.To4(); ip4 != nil {
			return ip4
		}
		return a.IP
	case nil:
		return nil
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return nil
	}
	return net.ParseIP(host)
}

// DefaultAuthorizedKeysFiles lists what the host's sshd reads for the user
// whose home is home: ~/.ssh/authorized_keys and authorized_keys2, plus
// every AuthorizedKeysFile in sshd_config (and the files it Includes),
// with %h, %u, %U and %% expanded and relative paths taken from home.
func DefaultAuthorizedKeysFiles(sshdConfig, user, uid, home string) []string {
	files := []string{
		filepath.Join(home, ".ssh/authorized_keys"),
		filepath.Join(home, ".ssh/authorized_keys2"),
	}
	for _, f := range sshdConfigValues(sshdConfig, "authorizedkeysfile", 0) {
		for _, tok := range strings.Fields(f) {
			if tok == "none" {
				continue
			}
			p := expandTokens(tok, user, uid, home)
			if !filepath.IsAbs(p) {
				p = filepath.Join(home, p)
			}
			files = append(files, filepath.Clean(p))
		}
	}
	return dedupe(files)
}

func expandTokens(s, user, uid, home string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case 'h':
			b.WriteString(home)
		case 'u':
			b.WriteString(user)
		case 'U':
			b.WriteString(uid)
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// sshdConfigValues returns the values of keyword in an sshd_config file,
// following Include (globs, relative to /etc/ssh like sshd) and stopping
// at the first Match block, whose settings are conditional.
func sshdConfigValues(file, keyword string, depth int) []string {
	data, err := os.ReadFile(file)
	if err != nil || depth > 8 {
		return nil
	}
	var vals []string
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, _ := strings.Cut(strings.Replace(line, "=", " ", 1), " ")
		k = strings.ToLower(k)
		v = strings.TrimSpace(v)
		switch k {
		case "match":
			return vals
		case "include":
			for _, pat := range strings.Fields(v) {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(file), pat)
				}
				matches, _ := filepath.Glob(pat)
				for _, m := range matches {
					vals = append(vals, sshdConfigValues(m, keyword, depth+1)...)
				}
			}
		case keyword:
			vals = append(vals, v)
		}
	}
	return vals
}

func dedupe(s []string) []string {
	seen := map[string]bool{}
	out := s[:0]
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}
