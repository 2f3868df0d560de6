package sshd

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"
)

func newPub(t testing.TB) (gossh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := gossh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k)))
}

func TestParseAuthorizedKeys(t *testing.T) {
	k1, l1 := newPub(t)
	k2, l2 := newPub(t)
	k3, l3 := newPub(t)
	k4, l4 := newPub(t)
	_, l5 := newPub(t)
	_, l6 := newPub(t)
	data := strings.Join([]string{
		"# comment",
		"",
		l1 + " admin@laptop",
		`command="echo \"hi\"",no-pty ` + l2,
		`from="10.0.0.0/8,!10.1.2.3",expiry-time="20991231Z" ` + l3,
		`restrict,pty ` + l4,
		`cert-authority ` + l5,
		`frobnicate ` + l6,
		"ssh-ed25519 not-base64",
	}, "\r\n")
	keys, problems := ParseAuthorizedKeys("ak", []byte(data))
	if len(keys) != 4 {
		t.Fatalf("got %d keys, want 4 (every valid key, not just the first); problems %q", len(keys), problems)
	}
	for i, want := range []gossh.PublicKey{k1, k2, k3, k4} {
		if !reflect.DeepEqual(keys[i].Key.Marshal(), want.Marshal()) {
			t.Errorf("key %d differs", i)
		}
	}
	if keys[0].Comment != "admin@laptop" || keys[0].Source != "ak:3" {
		t.Errorf("key 0: comment %q source %q", keys[0].Comment, keys[0].Source)
	}
	if keys[1].Command != `echo "hi"` || !keys[1].NoPty {
		t.Errorf("key 1: command %q no-pty %v", keys[1].Command, keys[1].NoPty)
	}
	if !reflect.DeepEqual(keys[2].From, []string{"10.0.0.0/8", "!10.1.2.3"}) ||
		!keys[2].Expiry.Equal(time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("key 2: from %q expiry %v", keys[2].From, keys[2].Expiry)
	}
	if keys[3].NoPty {
		t.Errorf("key 3: restrict,pty must allow a pty")
	}
	wantProblems := []string{"ak:7: key", `option "cert-authority" is not supported`, "ak:8: key", `unknown option "frobnicate"`, "ak:9: not a public key line"}
	joined := strings.Join(problems, "\n")
	for _, w := range wantProblems {
		if !strings.Contains(joined, w) {
			t.Errorf("problems %q lack %q", joined, w)
		}
	}
}

func TestKeyPermits(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	addr := func(s string) net.Addr { return &net.TCPAddr{IP: net.ParseIP(s), Port: 2222} }
	cases := []struct {
		key  AuthorizedKey
		from string
		ok   bool
	}{
		{AuthorizedKey{}, "192.0.2.1", true},
		{AuthorizedKey{From: []string{"10.0.0.0/8", "!10.1.2.3"}}, "10.9.9.9", true},
		{AuthorizedKey{From: []string{"10.0.0.0/8", "!10.1.2.3"}}, "10.1.2.3", false},
		{AuthorizedKey{From: []string{"192.0.2.*"}}, "192.0.2.77", true},
		{AuthorizedKey{From: []string{"192.0.2.?"}}, "192.0.2.77", false},
		{AuthorizedKey{From: []string{"admin.example.net"}}, "192.0.2.1", false},
		{AuthorizedKey{From: []string{"2001:db8::/32"}}, "2001:db8::1", true},
		{AuthorizedKey{From: []string{"127.0.0.1"}}, "::ffff:127.0.0.1", true},
		{AuthorizedKey{Expiry: now.Add(time.Hour)}, "192.0.2.1", true},
		{AuthorizedKey{Expiry: now.Add(-time.Hour)}, "192.0.2.1", false},
	}
	for _, c := range cases {
		err := c.key.permits(addr(c.from), now)
		if (err == nil) != c.ok {
			t.Errorf("%+v from %s: %v, want ok=%v", c.key, c.from, err, c.ok)
		}
	}
}

func TestDefaultAuthorizedKeysFiles(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "sshd_config")
	os.MkdirAll(filepath.Join(dir, "sshd_config.d"), 0o755)
	os.WriteFile(conf, []byte("Include sshd_config.d/*.conf\nAuthorizedKeysFile .ssh/authorized_keys /etc/keys/%u.%U %%lit\nMatch User bob\n  AuthorizedKeysFile /bob/only\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sshd_config.d", "10-keys.conf"), []byte("authorizedkeysfile=%h/extra none\n"), 0o644)
	got := DefaultAuthorizedKeysFiles(conf, "root", "0", "/root")
	want := []string{
		"/root/.ssh/authorized_keys",
		"/root/.ssh/authorized_keys2",
		"/root/extra",
		"/etc/keys/root.0",
		"/root/%lit",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if got := DefaultAuthorizedKeysFiles(filepath.Join(dir, "missing"), "root", "0", "/root"); len(got) != 2 {
		t.Fatalf("without sshd_config: %q", got)
	}
}

// FuzzParseAuthorizedKeys feeds arbitrary files to the parser: it must
// never panic, and every key it returns must be a real key whose options
// were all understood.
func FuzzParseAuthorizedKeys(f *testing.F) {
	_, l := newPub(f)
	for _, seed := range []string{
		l,
		l + " comment with spaces\n" + l,
		`command="a \"quoted\" cmd",no-pty ` + l,
		`from="10.0.0.0/8,!10.1.2.3,*.example.com" ` + l,
		`expiry-time="209912312359" ` + l,
		`restrict,pty,environment="A=b" ` + l,
		`cert-authority,principals="x" ` + l,
		`command="unterminated ` + l,
		"ssh-rsa AAAA\n\x00\xff",
		"# only a comment\r\n\r\n",
		strings.Repeat("a,", 200) + l,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, _ := ParseAuthorizedKeys("fuzz", data)
		for _, k := range keys {
			if k.Key == nil {
				t.Fatal("nil key returned")
			}
			if _, err := gossh.ParsePublicKey(k.Key.Marshal()); err != nil {
				t.Fatalf("returned key does not re-parse: %v", err)
			}
			if k.From != nil && len(k.From) == 0 {
				t.Fatal("empty from list")
			}
			k.permits(&net.TCPAddr{IP: net.IPv4(10, 1, 2, 3)}, time.Now())
		}
	})
}

func TestAcceptEnv(t *testing.T) {
	cases := map[string]bool{
		"LANG": true, "LC_ALL": true, "LC_TIME": true, "TERM": true,
		"LD_PRELOAD": false, "LD_LIBRARY_PATH": false, "PATH": false, "BASH_ENV": false,
		"SSH_AUTH_SOCK": false, "FOO": false, "": false, "LC_A B": false, "1LANG": false,
	}
	for name, want := range cases {
		if got := acceptEnv(DefaultAcceptEnv, name, "x"); got != want {
			t.Errorf("acceptEnv(%q) = %v, want %v", name, got, want)
		}
	}
	// Even a permissive allowlist cannot let LD_* through.
	if acceptEnv([]string{"*"}, "LD_PRELOAD", "x") || !acceptEnv([]string{"*"}, "FOO", "x") {
		t.Error("deny list not applied before the allowlist")
	}
	if acceptEnv(DefaultAcceptEnv, "LANG", "a\x00b") {
		t.Error("NUL in value accepted")
	}
}

func TestGate(t *testing.T) {
	g := newGate(3, 2, 2, time.Minute)
	now := time.Now()
	r1, why := g.admit("a", now)
	r2, _ := g.admit("a", now)
	if r1 == nil || r2 == nil || why != "" {
		t.Fatal("first two from a refused")
	}
	if _, why := g.admit("a", now); !strings.Contains(why, "from this address") {
		t.Fatalf("third from a: %q", why)
	}
	r3, _ := g.admit("b", now)
	if _, why := g.admit("c", now); !strings.Contains(why, "too many unauthenticated") {
		t.Fatalf("fourth overall: %q", why)
	}
	r1()
	r1() // a second release must not free another slot
	r2()
	r3()
	if g.pending != 0 || len(g.perSrc) != 0 {
		t.Fatalf("after release: pending %d perSrc %v", g.pending, g.perSrc)
	}
	g.failed("a", now)
	g.failed("a", now)
	if _, why := g.admit("a", now); !strings.Contains(why, "failed logins") {
		t.Fatalf("after failures: %q", why)
	}
	if r, _ := g.admit("a", now.Add(2*time.Minute)); r == nil {
		t.Fatal("failures did not expire")
	} else {
		r()
	}
	g.failed("b", now)
	g.failed("b", now)
	g.succeeded("b")
	if r, _ := g.admit("b", now); r == nil {
		t.Fatal("success did not forgive")
	}
}

func TestGeneratedHostKeyPersists(t *testing.T) {
	dir := t.TempDir()
	logf := func(string, ...any) {}
	missing := []string{filepath.Join(dir, "no_such_key")}
	a, err := loadHostKeys(missing, true, filepath.Join(dir, "state"), logf)
	if err != nil {
		t.Fatal(err)
	}
	b, err := loadHostKeys(missing, true, filepath.Join(dir, "state"), logf)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 1 || !reflect.DeepEqual(a[0].PublicKey().Marshal(), b[0].PublicKey().Marshal()) {
		t.Fatal("generated host key changed across restarts")
	}
	fi, err := os.Stat(filepath.Join(dir, "state", generatedKeyName))
	if err != nil || fi.Mode().Perm() != 0o600 || a[0].PublicKey().Type() != gossh.KeyAlgoED25519 {
		t.Fatalf("generated key file: %v %v", fi, err)
	}
	// A bad key file is skipped, not fatal, when a good one exists.
	bad := filepath.Join(dir, "bad_key")
	os.WriteFile(bad, []byte("garbage"), 0o600)
	var logged []string
	got, err := loadHostKeys([]string{bad, filepath.Join(dir, "state", generatedKeyName)}, false, "", func(f string, a ...any) {
		logged = append(logged, f)
	})
	if err != nil || len(got) != 1 || !strings.HasPrefix(logged[0], "host key %s skipped") {
		t.Fatalf("bad+good: %v %d %q", err, len(got), logged)
	}
	if _, err := loadHostKeys([]string{bad}, false, "", logf); err == nil {
		t.Fatal("no key and no state dir must fail")
	}
}

func TestLimitedLog(t *testing.T) {
	var lines []string
	l := &limitedLog{out: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }, burst: 3, period: time.Hour}
	for i := range 10 {
		l.logf("line %d", i)
	}
	if len(lines) != 3 || lines[2] != "line 2" {
		t.Fatalf("burst: %q", lines)
	}
	l.start = time.Now().Add(-2 * time.Hour) // the period has passed
	l.logf("later")
	if len(lines) != 5 || !strings.HasPrefix(lines[3], "7 more messages") || lines[4] != "later" {
		t.Fatalf("after the period: %q", lines)
	}
}
