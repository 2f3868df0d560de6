package takeover

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/netcfg"
	"github.com/paroodise/paroodise/reaper"
	"github.com/paroodise/paroodise/toolbox"
)

// SystemEnv is the live machine.
func SystemEnv() Env {
	return Env{
		Root: "/", Proc: "/proc", Sys: "/sys", Run: "/run", Self: "/proc/self/exe",
		PID: os.Getpid(), UID: os.Geteuid(), Env: os.Getenv,
		InitVersion:     initVersion,
		Free:            freeSpace,
		CaptureNetwork:  captureNetwork,
		OverrideNetwork: overrideNetwork,
		Toolbox:         toolbox.Names,
	}
}

// initVersion asks the init binary, then systemctl, for the version.
func initVersion(exe string) (string, error) {
	var errs []string
	for _, argv := range [][]string{{exe, "--version"}, {"systemctl", "--version"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stdout = &out
		err := reaper.Run(cmd)
		cancel()
		if err == nil {
			return out.String(), nil
		}
		errs = append(errs, fmt.Sprintf("%s: %v", strings.Join(argv, " "), err))
	}
	return "", fmt.Errorf("%s", strings.Join(errs, "; "))
}

func freeSpace(path string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, fmt.Errorf("statfs(%s): %w", path, err)
	}
	return st.Bavail * uint64(st.Bsize), nil
}

// capturedNet is netcfg's state as the plan shows and saves it.
type capturedNet struct{ *netcfg.State }

func (c capturedNet) String() string {
	var b strings.Builder
	if err := c.WriteText(&b); err != nil {
		return err.Error()
	}
	return b.String()
}

func captureNetwork() (Network, error) {
	st, err := netcfg.Capture()
	if err != nil {
		return nil, err
	}
	return capturedNet{st}, nil
}

// overrideNetwork is the captured state with the admin's --net applied.
func overrideNetwork(spec string) (Network, error) {
	o, err := netcfg.ParseStatic(spec)
	if err != nil {
		return nil, err
	}
	st, err := netcfg.Capture()
	if err != nil {
		return nil, err
	}
	if err := st.Override(o); err != nil {
		return nil, err
	}
	return capturedNet{st}, nil
}
