package reaper

import (
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"
)

// TestExitCodesSurviveTheReaper is the race that breaks naive PID-1
// reapers: many children exit while the loop is reaping orphans.
func TestExitCodesSurviveTheReaper(t *testing.T) {
	if err := BecomeSubreaper(); err != nil {
		t.Fatal(err)
	}
	Loop()
	orphans, stop := Subscribe()
	defer stop()

	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			code := i%5 + 1
			err := Run(exec.Command("sh", "-c", fmt.Sprintf("exit %d", code)))
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != code {
				errs <- fmt.Errorf("child %d: want exit %d, got %v", i, code, err)
			}
		}(i)
		go func() {
			defer wg.Done()
			// The inner sh exits at once, orphaning sleep to us.
			if err := Run(exec.Command("sh", "-c", "sleep 0.05 & exit 0")); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	got := 0
	deadline := time.After(10 * time.Second)
	for got < 20 {
		select {
		case e := <-orphans:
			if !e.Status.Exited() || e.Status.ExitStatus() != 0 {
				t.Errorf("orphan %d: status %v", e.Pid, e.Status)
			}
			got++
		case <-deadline:
			t.Fatalf("reaped %d of 20 orphans", got)
		}
	}
	if z := zombieChildren("/proc", osGetpid()); len(z) != 0 {
		t.Fatalf("zombies left: %v", z)
	}
}

func TestStatOfParsesOddComm(t *testing.T) {
	dir := t.TempDir()
	writeStat(t, dir, 42, "42 (a) b) (c) Z 7 42 42 0")
	st, ppid, ok := statOf(dir, 42)
	if !ok || st != 'Z' || ppid != 7 {
		t.Fatalf("got %c %d %v", st, ppid, ok)
	}
	if z := zombieChildren(dir, 7); len(z) != 1 || z[0] != 42 {
		t.Fatalf("zombieChildren: %v", z)
	}
}
