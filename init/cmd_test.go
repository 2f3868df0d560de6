package pid1

import (
	"github.com/paroodise/paroodise/cli"
	"os"
	"strings"
	"testing"
)

func TestRunInitOutsidePID1(t *testing.T) {
	if os.Getpid() == 1 {
		t.Skip("running as PID 1")
	}
	var errb strings.Builder
	if err := RunInit(cliIO(&errb), []string{"--system", "-h"}); err != nil || !strings.Contains(errb.String(), "usage:") {
		t.Fatalf("-h: %v %q", err, errb.String())
	}
	for _, argv := range [][]string{nil, {"--system", "--deserialize=12"}, {"--switched-root", "--system", "--deserialize=12"}} {
		err := RunInit(cliIO(&errb), argv)
		if err == nil || !strings.Contains(err.Error(), "must run as PID 1") {
			t.Errorf("%q: %v", argv, err)
		}
	}
}

func TestShutdownCommandsRefuseWithoutPID1(t *testing.T) {
	sock := t.TempDir() + "/none.sock"
	for _, run := range []func(cli.IO, []string) error{RunReboot, RunPoweroff} {
		var errb strings.Builder
		err := run(cliIO(&errb), []string{"--socket", sock})
		if err == nil || !strings.Contains(err.Error(), "use -f") {
			t.Errorf("without PID 1: %v", err)
		}
	}
}
