package shell

import (
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// handleSignals decides what SIGINT, SIGQUIT, SIGTERM and SIGHUP do.
//
// Interactive: the terminal delivers ^C and ^\ to the running command as
// well, so the shell only abandons the rest of the statement (a loop stops
// instead of starting the next iteration) and lives on; SIGTERM is ignored
// as other shells do; SIGHUP (the session is gone) is passed to the
// children and ends the shell.
//
// Otherwise (sh -c, scripts, a pipe): the signal is passed to the running
// children, the statement is abandoned and the shell then dies of the same
// signal, so whoever started it (an ssh exec request) sees the true cause
// and no command keeps running unattended.
func (s *shell) handleSignals(interactive bool) {
	if !s.catch {
		return
	}
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				s.onSignal(sig.(syscall.Signal), interactive)
			case <-done:
				return
			}
		}
	}()
	s.stopSig = sync.OnceFunc(func() {
		signal.Stop(ch)
		close(done)
	})
}

func (s *shell) onSignal(sig syscall.Signal, interactive bool) {
	if interactive {
		switch sig {
		case syscall.SIGINT, syscall.SIGQUIT:
			s.interrupt()
			return
		case syscall.SIGTERM:
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sig = sig
	for p := range s.children {
		p.Signal(sig)
	}
	if s.cancel != nil {
		s.cancel()
	}
	if interactive {
		// ReadLine may be blocked on a terminal that will never answer.
		if s.restoreTerm != nil {
			s.restoreTerm()
		}
		die(sig)
	}
}

// die ends the process by sig with its default action, so the parent sees
// the signal. The signal goes to this thread, where the runtime acts on it
// before the syscall returns; os.Exit is only the fallback. SIGQUIT's
// default in Go is a stack dump, so it exits 128+N instead, as a shell
// reports it.
func die(sig syscall.Signal) {
	if sig != syscall.SIGQUIT {
		signal.Reset(sig)
		runtime.LockOSThread()
		unix.Tgkill(unix.Getpid(), unix.Gettid(), sig)
		time.Sleep(100 * time.Millisecond)
	}
	os.Exit(128 + int(sig))
}
