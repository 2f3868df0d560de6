package toolbox_test

// These tests prove the shipped binary: that it is static, how big it is,
// and that every toolbox command answers under its argv[0] name. They need
// the makebb build (a plain `go build` has no toolbox), so they use
// $PAROODISE_BIN as `make test` sets it, or else run `make` themselves.

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/paroodise/paroodise/internal/testutil"
	"github.com/paroodise/paroodise/toolbox"
)

func TestBinaryIsStatic(t *testing.T) {
	bin := testutil.Toolbox(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		switch p.Type {
		case elf.PT_INTERP:
			t.Errorf("%s has a PT_INTERP program header: it needs a dynamic loader", bin)
		case elf.PT_DYNAMIC:
			t.Errorf("%s has a PT_DYNAMIC program header", bin)
		}
	}
	if s := f.Section(".dynamic"); s != nil {
		t.Errorf("%s has a .dynamic section", bin)
	}
	if f.Machine != elf.EM_X86_64 && runtime.GOARCH == "amd64" {
		t.Errorf("machine %v, want x86-64", f.Machine)
	}
	st, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes (%.1f MiB)", bin, st.Size(), float64(st.Size())/(1<<20))
}

// work is one toolbox test's directory with the binary linked under every
// toolbox name.
type work struct {
	t   *testing.T
	bin string // directory of symlinks
	dir string // working directory with fixtures
}

const hello = "hello\nworld\n"

func newWork(t *testing.T, exe string) *work {
	t.Helper()
	w := &work{t: t, bin: filepath.Join(t.TempDir(), "bin"), dir: t.TempDir()}
	if err := toolbox.Install(w.bin, exe); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.path("f"), []byte(hello), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *work) path(name string) string { return filepath.Join(w.dir, name) }

type result struct {
	out, err string
	code     int
}

// cmd is the toolbox command name with args, run in w.dir with the
// toolbox first on PATH.
func (w *work) cmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	c := exec.CommandContext(ctx, filepath.Join(w.bin, name), args...)
	c.Dir = w.dir
	c.Env = append(os.Environ(), "PATH="+w.bin+":/usr/sbin:/usr/bin:/sbin:/bin")
	return c
}

// run runs a toolbox command with stdin and returns what it did.
func (w *work) run(stdin, name string, args ...string) result {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := w.cmd(ctx, name, args...)
	c.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	c.Stdout, c.Stderr = &out, &errb
	err := c.Run()
	r := result{out: out.String(), err: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("%s %q: %v", name, args, err)
	}
	if strings.Contains(r.err, "Failed to run command") {
		w.t.Fatalf("%s is not in the binary: %s", name, r.err)
	}
	return r
}

// ok runs a command that must succeed and returns its stdout.
func (w *work) ok(name string, args ...string) string {
	w.t.Helper()
	return w.okIn("", name, args...)
}

func (w *work) okIn(stdin, name string, args ...string) string {
	w.t.Helper()
	r := w.run(stdin, name, args...)
	if r.code != 0 {
		w.t.Fatalf("%s %q: exit %d\nstdout: %s\nstderr: %s", name, args, r.code, r.out, r.err)
	}
	return r.out
}

// want fails unless got equals want.
func (w *work) want(what, got, want string) {
	w.t.Helper()
	if got != want {
		w.t.Errorf("%s = %q, want %q", what, got, want)
	}
}

// has fails unless got contains every sub.
func (w *work) has(what, got string, subs ...string) {
	w.t.Helper()
	for _, s := range subs {
		if !strings.Contains(got, s) {
			w.t.Errorf("%s lacks %q:\n%s", what, s, tail(got))
		}
	}
}

// tail is the end of a long output, enough to see what went wrong.
func tail(s string) string {
	if len(s) > 2000 {
		return "…" + s[len(s)-2000:]
	}
	return s
}

func (w *work) read(name string) string {
	w.t.Helper()
	b, err := os.ReadFile(w.path(name))
	if err != nil {
		w.t.Fatal(err)
	}
	return string(b)
}

// usage checks a command that is only asked for its usage, because doing
// its job here would touch the host (modules, DHCP, partition tables).
func (w *work) usage(name string, flagName string) {
	w.t.Helper()
	r := w.run("", name, "-h")
	w.has(name+" -h", r.out+r.err, flagName)
}

// underPTY runs a command with a terminal as stdin and stdout.
func (w *work) underPTY(name string, args ...string) string {
	w.t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		w.t.Fatal(err)
	}
	defer ptmx.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := w.cmd(ctx, name, args...)
	c.Stdin, c.Stdout, c.Stderr = tty, tty, tty
	if err := c.Start(); err != nil {
		w.t.Fatal(err)
	}
	tty.Close()
	out, _ := io.ReadAll(ptmx) // EIO once the command has exited
	if err := c.Wait(); err != nil {
		w.t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func sum256(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// toolCases test each toolbox command with a small real job and check its
// result. Commands that would change the host are only asked for usage.
var toolCases = map[string]func(w *work){
	"base64":   func(w *work) { w.want("base64 f", w.ok("base64", "f"), "aGVsbG8Kd29ybGQK\n") },
	"basename": func(w *work) { w.want("basename", w.ok("basename", "/a/b/c.txt"), "c.txt\n") },
	"blkid": func(w *work) {
		testutil.Root(w.t)
		dev := w.attach(mkfsImage(w))
		w.has("blkid", w.ok("blkid"), dev+` UUID="`+fsUUID+`"`)
	},
	"cat": func(w *work) { w.want("cat f", w.ok("cat", "f"), hello) },
	"chmod": func(w *work) {
		w.ok("chmod", "600", "f")
		if st, _ := os.Stat(w.path("f")); st.Mode().Perm() != 0o600 {
			w.t.Errorf("mode %v after chmod 600", st.Mode())
		}
	},
	"chroot": func(w *work) {
		testutil.Root(w.t)
		// The toolbox's own echo, found at the same path inside "/".
		w.want("chroot / echo", w.ok("chroot", "/", filepath.Join(w.bin, "echo"), "in", "root"), "in root\n")
	},
	"cmp": func(w *work) {
		w.ok("cmp", "f", "f")
		os.WriteFile(w.path("g"), []byte("hello\nWorld\n"), 0o644)
		// u-root's cmp exits 2, not 1, when the files differ.
		if r := w.run("", "cmp", "f", "g"); r.code == 0 || !strings.Contains(r.out, "char 7") {
			w.t.Errorf("cmp of different files: exit %d, %q", r.code, r.out)
		}
	},
	"cp": func(w *work) { w.ok("cp", "f", "g"); w.want("copy", w.read("g"), hello) },
	"cpio": func(w *work) {
		out := w.okIn("f\n", "cpio", "o")
		w.has("cpio -o", out, "070701", hello)
	},
	"date": func(w *work) { w.want("date +%Y", w.ok("date", "+%Y"), strconv.Itoa(time.Now().Year())+"\n") },
	"dd": func(w *work) {
		w.ok("dd", "if=f", "of=g", "bs=4")
		w.want("dd copy", w.read("g"), hello)
	},
	"df":       func(w *work) { w.has("df /", w.ok("df", "/"), "/") },
	"dhclient": func(w *work) { w.usage("dhclient", "dry-run") },
	"dirname":  func(w *work) { w.want("dirname", w.ok("dirname", "/a/b/c"), "/a/b\n") },
	"dmesg": func(w *work) {
		testutil.Root(w.t)
		// A line of our own, as the start of the log may have rotated away.
		mark := fmt.Sprintf("paroodise toolbox test %d", time.Now().UnixNano())
		if err := os.WriteFile("/dev/kmsg", []byte("<6>"+mark+"\n"), 0); err != nil {
			w.t.Fatal(err)
		}
		w.has("dmesg", w.ok("dmesg"), mark)
	},
	"du":   func(w *work) { w.has("du f", w.ok("du", "f"), "\tf") },
	"echo": func(w *work) { w.want("echo", w.ok("echo", "a", "b"), "a b\n") },
	"ed": func(w *work) {
		w.okIn("1s/hello/howdy/\nw\nq\n", "ed", "f")
		w.want("file edited by ed", w.read("f"), "howdy\nworld\n")
	},
	"false": func(w *work) {
		if r := w.run("", "false"); r.code != 1 {
			w.t.Errorf("false: exit %d", r.code)
		}
	},
	"find": func(w *work) { w.want("find", w.ok("find", ".", "-name", "f"), "f\n") },
	"free": func(w *work) { w.has("free", w.ok("free"), "Mem") },
	"gpt": func(w *work) {
		img := partitionedImage(w)
		// The partition's type GUID 0FC63DAF-… (Linux data) and extent, in JSON.
		w.has("gpt", w.ok("gpt", img), `"L": 264650159`, `"FirstLBA": 2048`, `"LastLBA": 14335`)
	},
	"grep": func(w *work) { w.want("grep", w.ok("grep", "wor", "f"), "world\n") },
	"gzip": func(w *work) {
		w.ok("gzip", "f")
		zr, err := gzip.NewReader(strings.NewReader(w.read("f.gz")))
		if err != nil {
			w.t.Fatal(err)
		}
		b, _ := io.ReadAll(zr)
		w.want("gunzipped f.gz", string(b), hello)
		w.ok("gzip", "-d", "f.gz")
		w.want("gzip -d", w.read("f"), hello)
	},
	"head":    func(w *work) { w.want("head -n 1", w.ok("head", "-n", "1", "f"), "hello\n") },
	"hexdump": func(w *work) { w.has("hexdump", w.ok("hexdump", "f"), "68 65 6c 6c 6f 0a 77 6f", "|hello.world.|") },
	"hostname": func(w *work) {
		h, _ := os.Hostname()
		w.want("hostname", w.ok("hostname"), h+"\n")
	},
	"id": func(w *work) { w.has("id", w.ok("id"), fmt.Sprintf("uid=%d", os.Getuid())) },
	"insmod": func(w *work) {
		// Loading a module would change the host: only the argument check.
		r := w.run("", "insmod")
		w.has("insmod without a file", r.err, "missing filename")
	},
	"ip": func(w *work) { w.has("ip link", w.ok("ip", "link"), "lo:", "LOOPBACK") },
	"kill": func(w *work) {
		sleep := exec.Command("sleep", "30")
		if err := sleep.Start(); err != nil {
			w.t.Fatal(err)
		}
		w.ok("kill", strconv.Itoa(sleep.Process.Pid))
		err := sleep.Wait()
		if ws, ok := sleep.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
			w.t.Errorf("sleep after kill: %v", err)
		}
	},
	"ln": func(w *work) {
		w.ok("ln", "-s", "f", "lnk")
		if got, _ := os.Readlink(w.path("lnk")); got != "f" {
			w.t.Errorf("lnk -> %q", got)
		}
	},
	"losetup": func(w *work) {
		testutil.Root(w.t)
		dev := w.attach(mkfsImage(w))
		w.has("sysfs backing file", readFile(w.t, "/sys/block/"+filepath.Base(dev)+"/loop/backing_file"), w.path("fs.img"))
	},
	"ls":    func(w *work) { w.has("ls", w.ok("ls"), "f") },
	"lsblk": func(w *work) { w.has("lsblk", w.ok("lsblk", "-a"), "NAME", "MAJ:MIN", "SIZE") },
	"lsmod": func(w *work) {
		r := w.run("", "lsmod")
		if _, err := os.Stat("/proc/modules"); err != nil {
			// A kernel without modules: the error must say why.
			w.has("lsmod without /proc/modules", r.err, "/proc/modules")
			return
		}
		if r.code != 0 {
			w.t.Errorf("lsmod: exit %d: %s", r.code, r.err)
		}
	},
	"md5sum": func(w *work) {
		h := md5.Sum([]byte(hello))
		w.has("md5sum", w.ok("md5sum", "f"), hex.EncodeToString(h[:]))
	},
	"mkdir": func(w *work) {
		w.ok("mkdir", "-p", "a/b")
		if st, err := os.Stat(w.path("a/b")); err != nil || !st.IsDir() {
			w.t.Errorf("a/b: %v", err)
		}
	},
	"mknod": func(w *work) {
		w.ok("mknod", "fifo", "p")
		if st, err := os.Stat(w.path("fifo")); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
			w.t.Errorf("fifo: %v %v", st, err)
		}
	},
	"mktemp": func(w *work) {
		p := strings.TrimSpace(w.ok("mktemp"))
		defer os.Remove(p)
		if _, err := os.Stat(p); err != nil {
			w.t.Errorf("mktemp made nothing: %v", err)
		}
	},
	"modprobe": func(w *work) { w.usage("modprobe", "Insert all module names") },
	"more": func(w *work) {
		// u-root's more pages to stderr.
		r := w.run("", "more", "f")
		w.want("more f", r.err, hello)
	},
	"mount": func(w *work) {
		testutil.Root(w.t)
		mnt := w.path("mnt")
		os.Mkdir(mnt, 0o755)
		w.ok("mount", "-t", "tmpfs", "tbtest", mnt)
		defer unix.Unmount(mnt, unix.MNT_DETACH)
		w.has("/proc/self/mountinfo", readFile(w.t, "/proc/self/mountinfo"), mnt+" ")
	},
	"mv": func(w *work) {
		w.ok("mv", "f", "g")
		w.want("moved", w.read("g"), hello)
	},
	"netcat": func(w *work) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			w.t.Fatal(err)
		}
		defer ln.Close()
		got := make(chan string, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				got <- err.Error()
				return
			}
			defer c.Close()
			b, _ := io.ReadAll(c)
			got <- string(b)
		}()
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		w.okIn("over tcp\n", "netcat", "127.0.0.1", port)
		w.want("received by the listener", <-got, "over tcp\n")
	},
	"netstat": func(w *work) { w.has("netstat", w.ok("netstat"), "Proto") },
	"paroodise": func(w *work) {
		v := w.ok("paroodise", "version")
		w.has("paroodise version", v, "paroodise ")
		if v == "paroodise dev\n" {
			w.t.Errorf("paroodise version %q: the build did not stamp a version", v)
		}
	},
	"partprobe": func(w *work) { w.usage("partprobe", "Usage") },
	"pidof": func(w *work) {
		sleep := exec.Command("sleep", "30")
		if err := sleep.Start(); err != nil {
			w.t.Fatal(err)
		}
		defer func() { sleep.Process.Kill(); sleep.Wait() }()
		w.has("pidof sleep", w.ok("pidof", "sleep"), strconv.Itoa(sleep.Process.Pid))
	},
	"ping": func(w *work) {
		testutil.Root(w.t)
		w.has("ping", w.ok("ping", "-c", "1", "127.0.0.1"), "127.0.0.1")
	},
	"poweroff": func(w *work) { w.safeUsage("poweroff") },
	"printenv": func(w *work) {
		w.want("printenv PATH", w.ok("printenv", "PATH"), w.bin+":/usr/sbin:/usr/bin:/sbin:/bin\n")
	},
	"ps": func(w *work) {
		w.has("ps", w.ok("ps"), "PID")
	},
	"pwd": func(w *work) {
		want, _ := filepath.EvalSymlinks(w.dir)
		w.want("pwd", w.ok("pwd"), want+"\n")
	},
	"readlink": func(w *work) {
		os.Symlink("f", w.path("lnk"))
		w.want("readlink", w.ok("readlink", "lnk"), "f\n")
	},
	"realpath": func(w *work) {
		os.Symlink("f", w.path("lnk"))
		want, _ := filepath.EvalSymlinks(w.path("f"))
		w.want("realpath", w.ok("realpath", "lnk"), want+"\n")
	},
	"reboot": func(w *work) { w.safeUsage("reboot") },
	"rm": func(w *work) {
		w.ok("rm", "f")
		if _, err := os.Stat(w.path("f")); !os.IsNotExist(err) {
			w.t.Errorf("f still there: %v", err)
		}
	},
	"rmmod": func(w *work) {
		// Removing a module would change the host: only the argument check.
		w.has("rmmod without a name", w.run("", "rmmod").err, "missing module name")
	},
	"scp": func(w *work) {
		// The source side of the scp protocol, acknowledged by NULs.
		w.has("scp -f f", w.okIn("\x00\x00\x00", "scp", "-f", "f"), "C0644 12 f\n"+hello)
	},
	"seq": func(w *work) { w.want("seq 3", w.ok("seq", "3"), "1\n2\n3\n") },
	"sh": func(w *work) {
		w.want("sh -c", w.ok("sh", "-c", `echo $((6*7)) "$0" "$1"`, "name", "one"), "42 name one\n")
		// With nothing on PATH the shell still finds the toolbox in itself.
		c := w.cmd(context.Background(), "sh", "-c", "cat f | sha256sum; no-such-tool")
		c.Env = []string{"PATH=/nonexistent"}
		out, err := c.Output()
		w.want("toolbox without PATH", string(out), sum256(hello)+"  -\n")
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 127 {
			w.t.Errorf("unknown command: %v, want exit 127", err)
		}
	},
	"sha256sum": func(w *work) {
		w.want("sha256sum f", w.ok("sha256sum", "f"), sum256(hello)+"  f\n")
	},
	"sleep": func(w *work) {
		start := time.Now()
		w.ok("sleep", "0.2")
		if d := time.Since(start); d < 200*time.Millisecond {
			w.t.Errorf("sleep 0.2 took %v", d)
		}
	},
	"sort":    func(w *work) { w.want("sort", w.okIn("b\nc\na\n", "sort"), "a\nb\nc\n") },
	"strings": func(w *work) { w.want("strings", w.okIn("\x00\x01hello\x00\x02", "strings"), "hello\n") },
	"stty":    func(w *work) { w.has("stty on a terminal", w.underPTY("stty"), "icanon", "echo") },
	"sync":    func(w *work) { w.ok("sync") },
	"tac":     func(w *work) { w.want("tac", w.ok("tac", "f"), "world\nhello\n") },
	"tail":    func(w *work) { w.want("tail -n 1", w.ok("tail", "-n", "1", "f"), "world\n") },
	"tar": func(w *work) {
		w.ok("tar", "-cf", "a.tar", "f")
		w.want("tar -tf", w.ok("tar", "-tf", "a.tar"), "f\n")
		os.Mkdir(w.path("x"), 0o755)
		w.ok("tar", "-xf", "a.tar", "x")
		w.want("extracted", w.read("x/f"), hello)
	},
	"tee": func(w *work) {
		w.want("tee stdout", w.okIn("teed\n", "tee", "out"), "teed\n")
		w.want("tee file", w.read("out"), "teed\n")
	},
	"timeout": func(w *work) {
		r := w.run("", "timeout", "-t", "300ms", "sleep", "10")
		if r.code == 0 {
			w.t.Errorf("timeout -t 300ms sleep 10 succeeded")
		}
		w.ok("timeout", "-t", "10s", "true")
	},
	"touch": func(w *work) {
		w.ok("touch", "new")
		if _, err := os.Stat(w.path("new")); err != nil {
			w.t.Error(err)
		}
	},
	"tr":         func(w *work) { w.want("tr", w.okIn("abc\n", "tr", "[:lower:]", "[:upper:]"), "ABC\n") },
	"traceroute": func(w *work) { w.usage("traceroute", "IPv4") },
	"true":       func(w *work) { w.ok("true") },
	"truncate": func(w *work) {
		w.ok("truncate", "-s", "3", "f")
		w.want("truncated f", w.read("f"), "hel")
	},
	"tty": func(w *work) { w.has("tty on a terminal", w.underPTY("tty"), "/dev/pts/") },
	"umount": func(w *work) {
		testutil.Root(w.t)
		mnt := w.path("mnt")
		os.Mkdir(mnt, 0o755)
		if err := unix.Mount("tbtest", mnt, "tmpfs", 0, ""); err != nil {
			w.t.Fatal(err)
		}
		w.ok("umount", mnt)
		if strings.Contains(readFile(w.t, "/proc/self/mountinfo"), mnt+" ") {
			unix.Unmount(mnt, unix.MNT_DETACH)
			w.t.Error("still mounted after umount")
		}
	},
	"uname": func(w *work) {
		var u unix.Utsname
		unix.Uname(&u)
		w.want("uname -r", w.ok("uname", "-r"), unix.ByteSliceToString(u.Release[:])+"\n")
	},
	"uniq": func(w *work) { w.want("uniq", w.okIn("a\na\nb\n", "uniq"), "a\nb\n") },
	"unshare": func(w *work) {
		testutil.Root(w.t)
		// A new UTS namespace: the hostname set inside stays inside.
		out := w.ok("unshare", "-uts", "sh", "-c", "hostname tbtest-ns && hostname")
		w.want("hostname inside", out, "tbtest-ns\n")
		if h, _ := os.Hostname(); h == "tbtest-ns" {
			w.t.Error("hostname leaked out of the namespace")
		}
	},
	"uptime": func(w *work) { w.has("uptime", w.ok("uptime"), " up ") },
	"watch":  func(w *work) { w.usage("watch", "Run PROG Periodically") },
	"wc":     func(w *work) { w.has("wc -l", w.ok("wc", "-l", "f"), "2") },
	"wget": func(w *work) {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
			io.WriteString(rw, hello)
		}))
		defer srv.Close()
		w.ok("wget", "-O", "got", srv.URL+"/f")
		w.want("downloaded", w.read("got"), hello)
	},
	"which": func(w *work) { w.want("which sh", w.ok("which", "sh"), filepath.Join(w.bin, "sh")+"\n") },
	"xargs": func(w *work) { w.want("xargs echo", w.okIn("a b\nc\n", "xargs", "echo"), "a b c\n") },
}

// safeUsage asks reboot or poweroff for its usage inside new user and PID
// namespaces mapped to nobody: even a command that ignored -h could then
// only end its own namespace, never this machine.
func (w *work) safeUsage(name string) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := w.cmd(ctx, name, "-h")
	c.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID | syscall.CLONE_NEWNS,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 65534, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 65534, Size: 1}},
	}
	out, err := c.CombinedOutput()
	if err != nil {
		w.t.Fatalf("%s -h in a sandbox: %v\n%s", name, err, out)
	}
	w.has(name+" -h", string(out), "usage: "+name)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const fsUUID = "0b1e5c1d-7a3e-4c55-9d7e-2f1a0c3b4d5e"

// mkfsImage makes a small ext4 file system image with a known UUID.
func mkfsImage(w *work) string {
	w.t.Helper()
	img := w.path("fs.img")
	if err := os.WriteFile(img, make([]byte, 4<<20), 0o644); err != nil {
		w.t.Fatal(err)
	}
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-U", fsUUID, img).CombinedOutput(); err != nil {
		w.t.Fatalf("mkfs.ext4: %v\n%s", err, out)
	}
	return img
}

// attach attaches img to a free loop device with the toolbox's losetup
// and detaches it with losetup -d when the test ends.
func (w *work) attach(img string) string {
	w.t.Helper()
	r := w.run("", "losetup", img)
	_, dev, ok := strings.Cut(strings.TrimSpace(r.err), "Attached ")
	dev, _, _ = strings.Cut(dev, " ")
	if r.code != 0 || !ok || !strings.HasPrefix(dev, "/dev/loop") {
		w.t.Fatalf("losetup %s: exit %d: %s", img, r.code, r.err)
	}
	w.t.Cleanup(func() {
		if r := w.run("", "losetup", "-d", dev); r.code != 0 {
			w.t.Errorf("losetup -d %s: %s", dev, r.err)
		}
	})
	return dev
}

// partitionedImage makes a disk image with a GPT and one Linux partition.
func partitionedImage(w *work) string {
	w.t.Helper()
	img := w.path("disk.img")
	if err := os.WriteFile(img, make([]byte, 8<<20), 0o644); err != nil {
		w.t.Fatal(err)
	}
	sf := exec.Command("sfdisk", "-q", img)
	sf.Stdin = strings.NewReader("label: gpt\n,,L\n")
	if out, err := sf.CombinedOutput(); err != nil {
		w.t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	return img
}

// TestToolbox runs every toolbox command from the binary by its argv[0]
// name; a command without a case here fails, so none goes untested.
func TestToolbox(t *testing.T) {
	exe := testutil.Toolbox(t)
	for _, name := range toolbox.Names() {
		t.Run(name, func(t *testing.T) {
			f, ok := toolCases[name]
			if !ok {
				t.Fatalf("no test case for toolbox command %q", name)
			}
			f(newWork(t, exe))
		})
	}
	for name := range toolCases {
		if !slices.Contains(toolbox.Names(), name) {
			t.Errorf("test case for %q, which is not a toolbox command", name)
		}
	}
}

// TestUnknownName checks that a name the binary does not know fails
// instead of running something else.
func TestUnknownName(t *testing.T) {
	w := newWork(t, testutil.Toolbox(t))
	link := filepath.Join(w.bin, "no-such-tool")
	if err := os.Symlink(testutil.Toolbox(t), link); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(link).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no-such-tool") {
		t.Errorf("no-such-tool: %v\n%s", err, out)
	}
}
