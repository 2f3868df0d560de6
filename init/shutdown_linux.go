package pid1

import (
	"time"

	"golang.org/x/sys/unix"
)

// Shutdown starts a reboot, poweroff or halt once; later calls are
// logged and ignored. It returns at once.
func (i *Init) Shutdown(op, why string) {
	first := false
	i.downOne.Do(func() { first = true })
	if !first {
		i.Log.Printf("%s (%s): already shutting down", op, why)
		return
	}
	i.update(func(s *Status) { s.ShuttingDown = op })
	go i.shutdown(op, why)
}

// shutdown stops every process, releases the old root, syncs and calls
// reboot(2). It never returns: if reboot(2) fails PID 1 stays alive.
func (i *Init) shutdown(op, why string) {
	defer func() {
		if r := recover(); r != nil {
			i.Log.Printf("PANIC during %s: %v", op, r)
		}
		i.finalReboot(op)
	}()
	i.Log.Printf("%s: %s", op, why)
	i.cancel()
	killAll(i.Log.Printf, procRoot, nil, 5*time.Second)
	unmountDisks(procRoot, i.Unmount, i.RemountRO, i.Log.Printf)
	i.syncBounded(30 * time.Second)
}

func (i *Init) finalReboot(op string) {
	cmd := map[string]int{
		OpReboot:   unix.LINUX_REBOOT_CMD_RESTART,
		OpPoweroff: unix.LINUX_REBOOT_CMD_POWER_OFF,
		OpHalt:     unix.LINUX_REBOOT_CMD_HALT,
	}[op]
	i.Log.Printf("%s now", op)
	i.Log.Flush(2 * time.Second) // the last lines, on the console
	if err := i.Reboot(cmd); err != nil {
		i.Log.Printf("%s failed: %v; staying up", op, err)
	}
	select {}
}

// syncBounded calls sync(2) but gives up waiting after d: a hung disk
// must not keep the machine from rebooting.
func (i *Init) syncBounded(d time.Duration) {
	done := make(chan struct{})
	go func() {
		i.Sync()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(d):
		i.Log.Printf("sync still running after %s; going on", d)
	}
}
