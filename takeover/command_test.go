package takeover

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/handoff"
)

func TestRunFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-h"}, 0, "--dry-run stops there"},
		{[]string{"--method", "kexec"}, 2, `--method "kexec": want auto, reexec, soft-reboot or telinit`},
		{[]string{"extra"}, 2, `unexpected argument "extra"`},
		{[]string{"--listen", "22"}, 2, `--listen: "22" is not HOST:PORT or :PORT`},
		{[]string{"--confirm-within", "-1m"}, 2, "must not be negative"},
		{[]string{"--reach", "example.org"}, 2, `--reach "example.org": want HOST:PORT`},
	} {
		var out, errb bytes.Buffer
		stdio := cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
		err := Run(stdio, tc.args)
		if code := cli.Code(stdio, "paroodise takeover", err); code != tc.code {
			t.Errorf("%v: exit %d, want %d (%v)", tc.args, code, tc.code, err)
		}
		if !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: stderr %q lacks %q", tc.args, errb.String(), tc.want)
		}
	}
}

func TestStateForInit(t *testing.T) {
	h := newFakeHost(t)
	env := h.Env()
	env.CaptureNetwork = func() (Network, error) { return fakeNet{}, nil }
	p, err := Preflight(env, Options{ConfirmWithin: time.Minute, Listen: []string{":2222"}, Reach: "192.0.2.1:443"})
	if err != nil || p.Err() != nil {
		t.Fatal(err, p.Err())
	}
	now := time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)
	st := p.State(now)
	want := &handoff.State{
		Method: MethodReexec, OldInit: "systemd 252 (252.39-1~deb12u2)", StartedAt: now,
		ConfirmWithin: handoff.Duration{Duration: time.Minute},
		HostKeys:      []string{"/paroodise/ssh/ssh_host_ed25519_key"}, AuthorizedKeys: []string{"/paroodise/authorized_keys"},
		Listen: []string{":2222"}, Network: "/paroodise/network.json", OldRoot: "/oldroot", OldRootDevice: "254:1", SparePIDs: []int{420, 410, 400},
		ReachHost: "192.0.2.1:443",
	}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("state\n got %+v\nwant %+v", st, want)
	}
	// The state round-trips through the file init reads.
	path := filepath.Join(t.TempDir(), "state.json")
	if err := st.Save(path); err != nil {
		t.Fatal(err)
	}
	if got, err := handoff.Load(path); err != nil || !reflect.DeepEqual(got, st) {
		t.Errorf("reloaded %+v, %v", got, err)
	}
	if c := p.SSHCommand(); c != "ssh -p 2222 root@10.0.2.15" {
		t.Errorf("ssh command %q", c)
	}
	p.Options.Listen = []string{":22"}
	if c := p.SSHCommand(); c != "ssh root@10.0.2.15" {
		t.Errorf("ssh command %q", c)
	}
}

func TestCaptureFailureRefuses(t *testing.T) {
	h := newFakeHost(t)
	env := h.Env()
	env.CaptureNetwork = func() (Network, error) { return nil, errors.New("netlink: permission denied") }
	p, _ := Preflight(env, Options{})
	if err := p.Err(); err == nil || err.Error() != "capture the network configuration: netlink: permission denied (give it with --net)" {
		t.Errorf("got %v", err)
	}
	env.OverrideNetwork = func(spec string) (Network, error) { return nil, errors.New("addr=x: bad prefix") }
	p, _ = Preflight(env, Options{Net: "addr=x"})
	if err := p.Err(); err == nil || err.Error() != `--net "addr=x": addr=x: bad prefix` {
		t.Errorf("got %v", err)
	}
}
