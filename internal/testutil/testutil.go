// Package testutil gates privileged tests and finds the built binary.
package testutil

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Root skips t unless it runs as root; `make test` runs as root, so these
// tests always run there.
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// Binary returns the paroodise binary under test: $PAROODISE_BIN (set by
// the Makefile to the multi-call build with the toolbox), or else a plain
// build of ./cmd/paroodise made once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	return envOr(t, plainBuild)
}

// Toolbox returns the shipped multi-call build, toolbox included:
// $PAROODISE_BIN, or else build/paroodise made with `make` (makebb) once
// per test process. Tests of the toolbox need it; a plain build lacks it.
func Toolbox(t testing.TB) string {
	t.Helper()
	return envOr(t, makeBuild)
}

// envOr prefers $PAROODISE_BIN to building.
func envOr(t testing.TB, build func() (string, error)) string {
	t.Helper()
	if p := os.Getenv("PAROODISE_BIN"); p != "" {
		return p
	}
	p, err := build()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var plainBuild = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "paroodise-test-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "paroodise")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/paroodise/paroodise/cmd/paroodise")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

var makeBuild = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	// flock: `go test ./...` runs packages at once, and two makebb runs
	// must not write build/paroodise together.
	b, err := exec.Command("flock", filepath.Join(root, "build", ".lock"),
		"make", "-s", "-C", root, "build/paroodise").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("make build/paroodise: %w\n%s", err, b)
	}
	return filepath.Join(root, "build", "paroodise"), nil
})

// SHA256File returns the hex SHA-256 of a file's contents.
func SHA256File(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
