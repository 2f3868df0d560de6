package pid1

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The SSH server is the only way in: whether it panics or returns, PID 1
// starts it again and counts the restarts in its status.
func TestSSHSupervisorRestarts(t *testing.T) {
	i := New(NewLog(64), nil)
	calls := make(chan int, 8)
	n := 0
	i.ServeSSH = func(ctx context.Context, cfg SSHConfig) error {
		n++
		calls <- n
		switch n {
		case 1:
			panic("boom")
		case 2:
			return errors.New("listen :22: address already in use")
		}
		<-ctx.Done()
		return nil
	}
	done := make(chan struct{})
	go func() { i.superviseSSH(); close(done) }()
	for want := 1; want <= 3; want++ {
		select {
		case <-calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("the SSH server was not started a time #%d", want)
		}
	}
	if s := i.Status(); !s.SSH.Running || s.SSH.Restarts != 2 || s.SSH.LastError != "listen :22: address already in use" {
		t.Errorf("ssh status %+v, want running after 2 restarts", s.SSH)
	}
	entries, _ := i.Log.Since(0)
	var log strings.Builder
	for _, e := range entries {
		log.WriteString(e.Msg + "\n")
	}
	if !strings.Contains(log.String(), "ssh server stopped (panic: boom); restarting in 1s") {
		t.Errorf("log:\n%s", log.String())
	}
	i.cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the supervisor outlived its context")
	}
	if i.Status().SSH.Running {
		t.Error("still reported running after the stop")
	}
}
