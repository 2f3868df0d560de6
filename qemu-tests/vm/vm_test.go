package vm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRecipeHash(t *testing.T) {
	h := recipeHash(Bookworm, []byte("key1"))
	if len(h) != 12 || !isHex(h) {
		t.Fatalf("recipeHash = %q, want 12 hex digits", h)
	}
	if recipeHash(Bookworm, []byte("key1")) != h {
		t.Error("recipeHash is not stable")
	}
	if recipeHash(Trixie, []byte("key1")) == h || recipeHash(Bookworm, []byte("key2")) == h {
		t.Error("recipeHash ignores the image name or the key")
	}
}

func TestImageDirUnknown(t *testing.T) {
	t.Setenv("PAROODISE_CACHE", t.TempDir())
	if _, err := ImageDir("sid"); err == nil || !strings.Contains(err.Error(), "unknown image") {
		t.Errorf("ImageDir(sid) = %v, want an unknown image error", err)
	}
}

func TestPruneOld(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"bookworm-000000000001", "bookworm-000000000002",
		"bookworm-sysvinit-000000000003", "bookworm-notahashatall"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pruneOld(Bookworm, filepath.Join(dir, "bookworm-000000000002"))
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := "bookworm-000000000002 bookworm-notahashatall bookworm-sysvinit-000000000003"
	if got := strings.Join(left, " "); got != want {
		t.Errorf("after pruneOld: %s, want %s", got, want)
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"plain", "with space", "it's", `a"b$c\d`, ""} {
		out, err := exec.Command("sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil {
			t.Fatal(err)
		}
		if string(out) != s {
			t.Errorf("sh sees %q, want %q", out, s)
		}
	}
}

func TestTrustHostKeys(t *testing.T) {
	g := &Guest{sshPort: 22, vmState: &vmState{
		knownHosts: filepath.Join(t.TempDir(), "known_hosts"),
		ports:      map[int]int{22: 4022, 2222: 4222},
	}}
	if err := g.TrustHostKeys([]string{"ssh-ed25519 AAAA1", "ssh-rsa AAAA2"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(g.KnownHosts())
	if err != nil {
		t.Fatal(err)
	}
	want := "[127.0.0.1]:4022,[127.0.0.1]:4222 ssh-ed25519 AAAA1\n[127.0.0.1]:4022,[127.0.0.1]:4222 ssh-rsa AAAA2\n"
	if string(b) != want {
		t.Errorf("known_hosts:\n%s\nwant:\n%s", b, want)
	}
	if v := g.Via(2222); v.Port() != 4222 || g.Port() != 4022 {
		t.Errorf("Via(2222).Port() = %d, Port() = %d; want 4222, 4022", v.Port(), g.Port())
	}
}

func TestTail(t *testing.T) {
	p := filepath.Join(t.TempDir(), "log")
	os.WriteFile(p, []byte("first line\nsecond line\nthird\n"), 0o644)
	if got := tail(p, 15); got != "third\n" {
		t.Errorf("tail = %q, want the last whole line", got)
	}
	if got := tail(filepath.Join(t.TempDir(), "none"), 10); got != "" {
		t.Errorf("tail of a missing file = %q, want empty", got)
	}
}

func TestPanicWatch(t *testing.T) {
	old := "[ 1.0] Kernel panic - not syncing: old boot\n[ 0.0] Linux version 6.1\n"
	w := panicWatch{from: len(old)}
	if w.check(old + "booting\n") {
		t.Error("a panic before the wait began counts")
	}
	hung := old + "[ 9.0] Kernel panic - not syncing: Attempted to kill init!\n"
	if w.check(hung) {
		t.Error("a fresh panic counts at once; the kernel may still reboot")
	}
	w.since = w.since.Add(-panicGrace - time.Second)
	if !w.check(hung) {
		t.Error("a panic with no reboot after the grace period does not count")
	}
	w.since = w.since.Add(-panicGrace - time.Second)
	if w.check(hung + "[ 0.0] Linux version 6.1\n") {
		t.Error("a panic followed by a new boot counts")
	}
}
