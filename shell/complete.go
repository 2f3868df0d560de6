package shell

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/paroodise/paroodise/toolbox"
)

// complete handles Tab for the line editor: the word before the cursor
// is completed as a command name when it is the first word of a command,
// else as a file name, to the longest prefix all candidates share; a
// single candidate also gets its trailing "/" or " ".
func complete(line string, pos int, cwd, path string) (string, int, bool) {
	head := line[:pos]
	start := strings.LastIndexAny(head, " \t;|&<>()`") + 1
	word := head[start:]
	before := strings.TrimRight(head[:start], " \t")
	command := before == "" || strings.ContainsAny(before[len(before)-1:], ";|&(`")
	var cands []string
	if command && !strings.Contains(word, "/") {
		cands = commandNames(word, path)
	} else {
		cands = fileNames(word, cwd)
	}
	if len(cands) == 0 {
		return "", 0, false
	}
	ins := commonPrefix(cands)[len(word):]
	if len(cands) == 1 && !strings.HasSuffix(ins, "/") && !strings.HasSuffix(word+ins, "/") {
		ins += " "
	}
	if ins == "" {
		return "", 0, false
	}
	return head + ins + line[pos:], pos + len(ins), true
}

// commandNames are the toolbox's names and PATH's executables with prefix.
func commandNames(prefix, path string) []string {
	seen := map[string]bool{}
	for _, n := range toolbox.Names() {
		if strings.HasPrefix(n, prefix) {
			seen[n] = true
		}
	}
	for _, dir := range filepath.SplitList(path) {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if n := e.Name(); strings.HasPrefix(n, prefix) {
				seen[n] = true
			}
		}
	}
	return sortedKeys(seen)
}

// fileNames are the paths starting with word, directories with a "/".
func fileNames(word, cwd string) []string {
	dir, base := filepath.Split(word)
	abs := dir
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(cwd, dir)
	}
	ents, _ := os.ReadDir(abs)
	seen := map[string]bool{}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasPrefix(n, base) || (strings.HasPrefix(n, ".") && !strings.HasPrefix(base, ".")) {
			continue
		}
		if st, err := os.Stat(filepath.Join(abs, n)); err == nil && st.IsDir() {
			n += "/"
		}
		seen[dir+n] = true
	}
	return sortedKeys(seen)
}

func sortedKeys(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func commonPrefix(s []string) string {
	p := s[0]
	for _, x := range s[1:] {
		for !strings.HasPrefix(x, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}
