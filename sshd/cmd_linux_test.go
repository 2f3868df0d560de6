package sshd

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/internal/testutil"
)

func TestRunUsage(t *testing.T) {
	var out bytes.Buffer
	stdio := cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out}
	if err := Run(stdio, []string{"-h"}); !errors.Is(err, cli.ErrHelp) || !strings.Contains(out.String(), "-authorized-keys") {
		t.Errorf("-h: %v %q", err, out.String())
	}
	for _, args := range [][]string{{"-no-such-flag"}, {"stray"}} {
		if code := cli.Code(stdio, "paroodise sshd", Run(stdio, args)); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// TestCommand runs `paroodise sshd` from the binary, logs in, and stops
// it with SIGTERM.
func TestCommand(t *testing.T) {
	ts := startServer(t, nil) // for its keys and client options only
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	var logs bytes.Buffer
	cmd := exec.Command(testutil.Binary(t), "sshd", "-listen", fmt.Sprintf("127.0.0.1:%d", port),
		"-host-key", filepath.Join(ts.dir, "ssh_host_ed25519_key"), "-authorized-keys", ts.authKeys,
		"-state-dir", filepath.Join(ts.dir, "cmdstate"))
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The command must serve exactly the key it was given.
	ts.addr = &net.TCPAddr{IP: ts.addr.IP, Port: port}
	ts.writeKnownHosts("ed25519")
	var out []byte
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err = ts.ssh("echo", "via-command").Output()
		if err == nil {
			break
		}
	}
	if string(out) != "via-command\n" {
		t.Fatalf("ssh to paroodise sshd (%s): %v %q\n%s", cmd.Path, err, out, logs.String())
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "login "+ts.user) {
		t.Errorf("no login logged:\n%s", logs.String())
	}
}
