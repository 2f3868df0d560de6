package pid1

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/paroodise/paroodise/internal/testutil"
)

func TestAddEntropyAndSeedRefresh(t *testing.T) {
	testutil.Root(t)
	// Mixing in more entropy is harmless to the host's pool.
	if err := addEntropy(bytes.Repeat([]byte{0x5a}, 64)); err != nil {
		t.Fatal(err)
	}
	if !crngReady() {
		t.Fatal("the host's random generator is not ready")
	}
	// A ready generator leaves the seed alone.
	root := t.TempDir()
	seed := filepath.Join(root, seedFiles[0])
	os.MkdirAll(filepath.Dir(seed), 0o755)
	os.WriteFile(seed, []byte("old seed"), 0o600)
	if msgs := seedRandom(root); msgs != nil {
		t.Fatalf("seeded a ready generator: %q", msgs)
	}
	if b, _ := os.ReadFile(seed); string(b) != "old seed" {
		t.Fatal("seed rewritten")
	}
}
