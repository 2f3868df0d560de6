package shell

// These tests run the shell as its own process (the binary under the name
// sh), for what an in-process shell cannot show: signals, a terminal, and
// re-running this binary for scripts without #!.

import (
	"bufio"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/paroodise/paroodise/internal/testutil"
)

// shLink returns a path named sh that runs the paroodise binary.
func shLink(t *testing.T) string {
	t.Helper()
	link := filepath.Join(t.TempDir(), "sh")
	if err := os.Symlink(testutil.Binary(t), link); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestScriptWithoutShebang(t *testing.T) {
	sh := shLink(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "noshebang")
	os.WriteFile(script, []byte("echo \"run as $0 with $1\"\nexit 6\n"), 0o755)
	out, err := exec.Command(sh, "-c", script+" arg").Output()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 6 || string(out) != "run as "+script+" with arg\n" {
		t.Errorf("%v %q", err, out)
	}
}

// TestSignalReachesChildren: a shell told to stop passes the signal to
// the command it runs, does not go on with the script, and dies of the
// same signal, so an ssh exec request reports it and leaves nothing behind.
func TestSignalReachesChildren(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(shLink(t), "-c", `/bin/sh -c 'echo $$; exec sleep 30'; echo after`)
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			rd := bufio.NewReader(stdout)
			line, err := rd.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			child, _ := strconv.Atoi(strings.TrimSpace(line))
			cmd.Process.Signal(sig)
			rest, _ := io.ReadAll(rd)
			cmd.Wait()
			ws := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if !ws.Signaled() || ws.Signal() != sig {
				t.Errorf("shell ended with %v, want killed by %v", cmd.ProcessState, sig)
			}
			if len(rest) > 0 {
				t.Errorf("the script went on: %q", rest)
			}
			if err := syscall.Kill(child, 0); !errors.Is(err, syscall.ESRCH) {
				syscall.Kill(child, syscall.SIGKILL)
				t.Errorf("child %d still exists after the shell's death: %v", child, err)
			}
		})
	}
}

// vt drives a shell on a pseudo-terminal.
type vt struct {
	t    *testing.T
	ptmx *os.File
	cmd  *exec.Cmd
	out  *testutil.Capture
	seen int // out is matched from here
}

func startTerm(t *testing.T, home string) *vt {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	if err := pty.Setsize(ptmx, &pty.Winsize{Rows: 24, Cols: 80}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shLink(t))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	tm := &vt{t: t, ptmx: ptmx, cmd: cmd, out: testutil.CaptureFrom(ptmx)}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		ptmx.Close()
	})
	return tm
}

func (tm *vt) send(s string) {
	tm.t.Helper()
	if _, err := tm.ptmx.WriteString(s); err != nil {
		tm.t.Fatal(err)
	}
}

// expect waits for want in the output after the previous match.
func (tm *vt) expect(want string) {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if i := strings.Index(tm.out.String()[tm.seen:], want); i >= 0 {
			tm.seen += i + len(want)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	tm.t.Fatalf("no %q in the terminal after:\n%s", want, tm.out.String()[tm.seen:])
}

func (tm *vt) all() string { return tm.out.String() }

func TestInteractive(t *testing.T) {
	home := t.TempDir()
	tm := startTerm(t, home)
	p := prompt()
	tm.expect(p)

	tm.send("echo $((2+3))\r")
	tm.expect("5\r\n" + p)

	// A statement over two lines, with the continuation prompt.
	tm.send("for i in 1 2\r")
	tm.expect("> ")
	tm.send("do echo x$i; done\r")
	tm.expect("x1\r\nx2\r\n" + p)

	// ^C abandons the line being typed, not the shell, and the line is
	// not kept in the history.
	tm.send("echo typed-then-abandoned\x03")
	tm.expect(p)
	tm.send("echo alive\r")
	tm.expect("alive\r\n" + p)

	// Up arrow brings back the last line; editing keys work on it.
	tm.send("\x1b[A\x7f\x7f\x7f\x7f\x7fagain\r")
	tm.expect("again\r\n" + p)

	// Tab completes a toolbox command and a file name.
	os.WriteFile(filepath.Join(home, "notes.txt"), []byte("tabbed\n"), 0o644)
	tm.send("cd " + home + "\r")
	tm.expect(p)
	tm.send("sha256s\tnot\t\r")
	tm.expect("  notes.txt\r\n" + p)

	// ^C while a command runs stops it and the rest of the line.
	tm.send("sleep 30; echo not-reached\r")
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	tm.send("\x03")
	tm.expect(p)
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("^C took %v to stop sleep", d)
	}
	tm.send("echo $?\r")
	tm.expect("130\r\n" + p)

	tm.send("exit 5\r")
	err := tm.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Errorf("exit 5: %v", err)
	}
	if strings.Contains(strings.ReplaceAll(tm.all(), "echo not-reached", ""), "not-reached") {
		t.Error("the rest of an interrupted line ran")
	}

	hist, err := os.ReadFile(filepath.Join(home, ".sh_history"))
	if err != nil {
		t.Fatal(err)
	}
	want := "echo $((2+3))\nfor i in 1 2\ndo echo x$i; done\necho alive\necho again\ncd " + home + "\nsha256sum notes.txt \nsleep 30; echo not-reached\necho $?\nexit 5\n"
	if string(hist) != want {
		t.Errorf("history file:\n%s\nwant:\n%s", hist, want)
	}

	// A new shell starts with that history.
	tm2 := startTerm(t, home)
	tm2.expect(p)
	tm2.send("\x1b[A\x1b[A\r")
	tm2.expect("exit 5")
	tm2.expect("echo $?\r\n0\r\n" + p)
}

// TestEOFEndsInteractiveShell: ^D on an empty line ends the shell with the
// last status.
func TestEOFEndsInteractiveShell(t *testing.T) {
	tm := startTerm(t, t.TempDir())
	tm.expect(prompt())
	tm.send("false\r")
	tm.expect(prompt())
	tm.send("\x04")
	err := tm.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Errorf("^D after false: %v", err)
	}
}

// TestLoginShellName: sshd starts login shells as "-sh"; the binary must
// still run the shell under that name.
func TestLoginShellName(t *testing.T) {
	cmd := exec.Command(shLink(t), "-c", "echo login")
	cmd.Args[0] = "-sh"
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "login\n" {
		t.Errorf("-sh -c: %v %q", err, out)
	}
}
