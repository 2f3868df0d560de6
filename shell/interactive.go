package shell

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/term"
	"mvdan.cc/sh/v3/syntax"

	"github.com/paroodise/paroodise/cli"
)

// errInterrupted ends a parse when ^C is typed at the prompt.
var errInterrupted = errors.New("interrupted")

// terminalOf returns stdin when it is a terminal.
func terminalOf(stdio cli.IO) (*os.File, bool) {
	f, ok := stdio.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, false
	}
	return f, true
}

// prompt is the primary prompt; # for root as everywhere.
func prompt() string {
	if os.Geteuid() == 0 {
		return "paroodise# "
	}
	return "paroodise$ "
}

// readTerminal reads, edits and runs lines from the terminal in until EOF
// (^D on an empty line) or exit, and returns the last status.
func (s *shell) readTerminal(in *os.File) int {
	cr := &ctrlCReader{r: in}
	hist := loadHistory(s.runner.Env.Get("HOME").String(), cr)
	defer hist.close()
	t := term.NewTerminal(struct {
		io.Reader
		io.Writer
	}{cr, s.editorOutput()}, "")
	t.History = hist
	t.AutoCompleteCallback = func(line string, pos int, key rune) (string, int, bool) {
		if key != '\t' {
			return "", 0, false
		}
		if l, p, ok := complete(line, pos, s.runner.Dir, s.runner.Env.Get("PATH").String()); ok {
			return l, p, true
		}
		return line, pos, true // no literal tab in the line
	}
	lr := &lineReader{s: s, t: t, fd: int(in.Fd()), cr: cr}
	last := 0
	for {
		parser := syntax.NewParser()
		lr.cont = false
		for stmts, err := range parser.InteractiveSeq(lr) {
			if err != nil {
				if lr.err == nil && !errors.Is(err, errInterrupted) {
					fmt.Fprintf(s.stdio.Stderr, "sh: %v\n", err)
					last = 2
				}
				break
			}
			if lr.cont = parser.Incomplete(); lr.cont {
				continue
			}
			ctx := s.statementContext()
			for _, st := range stmts {
				err := s.runner.Run(ctx, st)
				last = s.status(err)
				// An interrupt cancels ctx, which interp reports as exiting;
				// only exit, errexit and the like end this shell.
				if errors.Is(err, context.Canceled) {
					s.setStatus(last)
					break
				}
				if s.runner.Exited() {
					return last
				}
			}
		}
		if lr.err != nil {
			if !errors.Is(lr.err, io.EOF) {
				fmt.Fprintf(s.stdio.Stderr, "sh: reading the terminal: %v\n", lr.err)
			}
			fmt.Fprintln(s.editorOutput())
			return last
		}
	}
}

// editorOutput is where prompts and the edited line go: stderr when it is
// the terminal, as other shells do, so `sh >file` still shows them.
func (s *shell) editorOutput() io.Writer {
	if f, ok := s.stdio.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return s.stdio.Stdout
}

// setStatus makes $? n, as after the command that was interrupted; interp
// itself leaves 1 after a cancelled statement.
func (s *shell) setStatus(n int) {
	f, err := syntax.NewParser().Parse(strings.NewReader(fmt.Sprintf("(exit %d)", n)), "")
	if err == nil {
		s.runner.Run(context.Background(), f.Stmts[0])
	}
}

// lineReader feeds the parser one edited line at a time, switching the
// terminal to raw mode only while a line is being typed, so commands run
// on a normal terminal.
type lineReader struct {
	s    *shell
	t    *term.Terminal
	fd   int
	cr   *ctrlCReader
	cont bool // the parser wants a continuation line
	buf  []byte
	err  error // the terminal's read error, sticky
}

func (l *lineReader) Read(p []byte) (int, error) {
	if len(l.buf) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		line, err := l.readLine()
		if errors.Is(err, errInterrupted) {
			return 0, err
		}
		if err != nil {
			l.err = err
			return 0, err
		}
		l.buf = append([]byte(line), '\n')
	}
	n := copy(p, l.buf)
	l.buf = l.buf[n:]
	return n, nil
}

func (l *lineReader) readLine() (string, error) {
	old, err := term.MakeRaw(l.fd)
	if err != nil {
		return "", fmt.Errorf("tcsetattr(%d, raw): %w", l.fd, err)
	}
	restore := func() { term.Restore(l.fd, old) }
	l.s.mu.Lock()
	l.s.restoreTerm = restore
	l.s.mu.Unlock()
	defer func() {
		l.s.mu.Lock()
		l.s.restoreTerm = nil
		l.s.mu.Unlock()
		restore()
	}()
	// A terminal that reports no size keeps term's default of 80x24.
	if w, h, err := term.GetSize(l.fd); err == nil && w > 0 && h > 0 {
		l.t.SetSize(w, h)
	}
	if l.cont {
		l.t.SetPrompt("> ")
	} else {
		l.t.SetPrompt(prompt())
	}
	line, err := l.t.ReadLine()
	if l.cr.hit {
		l.cr.hit = false
		return "", errInterrupted
	}
	if errors.Is(err, term.ErrPasteIndicator) {
		err = nil
	}
	return line, err
}

// ctrlCReader turns ^C into Enter and notes it: term.Terminal would report
// ^C as EOF, which must not end a rescue shell. Input typed after the ^C
// is dropped, as other shells do.
type ctrlCReader struct {
	r   io.Reader
	hit bool
}

func (c *ctrlCReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if i := bytes.IndexByte(p[:n], 3); i >= 0 {
		c.hit = true
		p[i] = '\r'
		n = i + 1
	}
	return n, err
}

// maxHistory bounds the history kept in memory and loaded from the file.
const maxHistory = 1000

// history is term.History kept in memory and appended to
// $HOME/.sh_history when that can be written.
type history struct {
	lines []string // oldest first
	file  *os.File
	cr    *ctrlCReader
}

func loadHistory(home string, cr *ctrlCReader) *history {
	h := &history{cr: cr}
	if home == "" {
		return h
	}
	path := filepath.Join(home, ".sh_history")
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			h.push(sc.Text())
		}
		f.Close()
	}
	// Without a writable file the history lives only in memory.
	h.file, _ = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	return h
}

// push appends line unless it is blank or repeats the last one.
func (h *history) push(line string) bool {
	if strings.TrimSpace(line) == "" || (len(h.lines) > 0 && h.lines[len(h.lines)-1] == line) {
		return false
	}
	h.lines = append(h.lines, line)
	if len(h.lines) > maxHistory {
		h.lines = h.lines[len(h.lines)-maxHistory:]
	}
	return true
}

// Add records a line typed at the prompt, but not one abandoned with ^C.
func (h *history) Add(line string) {
	if h.cr.hit {
		return
	}
	if h.push(line) && h.file != nil {
		fmt.Fprintln(h.file, line)
	}
}

func (h *history) Len() int { return len(h.lines) }

func (h *history) At(i int) string { return h.lines[len(h.lines)-1-i] }

func (h *history) close() {
	if h.file != nil {
		h.file.Close()
	}
}
