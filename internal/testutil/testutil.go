// Package testutil gates privileged tests and finds the built binary.
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
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

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// Binary returns the paroodise binary under test: $PAROODISE_BIN (set by
// the Makefile to the multi-call build with the toolbox), or else a plain
// build of ./cmd/paroodise made once per test process.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("PAROODISE_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "paroodise-test-bin")
		if err != nil {
			buildErr = err
			return
		}
		built = filepath.Join(dir, "paroodise")
		cmd := exec.Command("go", "build", "-o", built, "github.com/paroodise/paroodise/cmd/paroodise")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = &buildError{err: err, out: string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }
