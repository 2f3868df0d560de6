//go:build qemu

package qemutests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// otherHostKey makes a fresh ed25519 public key ("type base64") that no
// guest holds.
func otherHostKey(t *testing.T) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "k")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	b, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	return f[0] + " " + f[1]
}
