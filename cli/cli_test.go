package cli

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
)

func TestParseAndCode(t *testing.T) {
	var out bytes.Buffer
	stdio := IO{Stdout: &out, Stderr: &out}
	fs := NewFlagSet(stdio, "x", "[flags]", "does x")
	fs.Bool("v", false, "verbose")

	if err := Parse(fs, []string{"-h"}); !errors.Is(err, ErrHelp) || Code(stdio, "x", err) != 0 {
		t.Fatalf("-h: err %v", err)
	}
	if !bytes.Contains(out.Bytes(), []byte("usage: x [flags]")) {
		t.Fatalf("usage not printed: %q", out.String())
	}
	if err := Parse(fs, []string{"-nope"}); Code(stdio, "x", err) != 2 {
		t.Fatalf("bad flag: err %v", err)
	}
	out.Reset()
	if c := Code(stdio, "x", fmt.Errorf("open disk: %w", errors.New("boom"))); c != 1 || out.String() != "x: open disk: boom\n" {
		t.Fatalf("plain error: code %d out %q", c, out.String())
	}
	if c := Code(stdio, "x", Usagef("unknown thing %q", "y")); c != 2 {
		t.Fatalf("usage error: code %d", c)
	}
}
