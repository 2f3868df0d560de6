// Package sha256sum prints and checks SHA-256 sums in the format of GNU
// coreutils, so checksum files made elsewhere verify in the rescue shell.
package sha256sum

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/paroodise/paroodise/cli"
)

// Run is the sha256sum command: sums of FILEs (or stdin, or "-"), or with
// -c the check of the sums listed in FILEs.
func Run(stdio cli.IO, args []string) error {
	fs := cli.NewFlagSet(stdio, "sha256sum", "[-c] [FILE...]",
		"Print SHA-256 sums of FILEs (stdin when none or -); with -c, check the sums listed in FILEs.")
	check := fs.Bool("c", false, "read sums from FILEs and check them")
	if err := cli.Parse(fs, args); err != nil {
		return err
	}
	files := fs.Args()
	if len(files) == 0 {
		files = []string{"-"}
	}
	if *check {
		return checkFiles(stdio, files)
	}
	failed := false
	for _, name := range files {
		sum, err := sumFile(stdio, name)
		if err != nil {
			fmt.Fprintf(stdio.Stderr, "sha256sum: %v\n", err)
			failed = true
			continue
		}
		fmt.Fprintf(stdio.Stdout, "%s  %s\n", sum, name)
	}
	if failed {
		return &cli.ExitError{Code: 1}
	}
	return nil
}

func sumFile(stdio cli.IO, name string) (string, error) {
	r := stdio.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r = f
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func checkFiles(stdio cli.IO, lists []string) error {
	var checked, bad, unreadable, malformed int
	for _, list := range lists {
		r := stdio.Stdin
		if list != "-" {
			f, err := os.Open(list)
			if err != nil {
				fmt.Fprintf(stdio.Stderr, "sha256sum: %v\n", err)
				unreadable++
				continue
			}
			defer f.Close()
			r = f
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			want, name, ok := parseLine(sc.Text())
			if !ok {
				malformed++
				continue
			}
			checked++
			got, err := sumFile(stdio, name)
			switch {
			case err != nil:
				fmt.Fprintf(stdio.Stderr, "sha256sum: %v\n", err)
				fmt.Fprintf(stdio.Stdout, "%s: FAILED open or read\n", name)
				unreadable++
			case got != want:
				fmt.Fprintf(stdio.Stdout, "%s: FAILED\n", name)
				bad++
			default:
				fmt.Fprintf(stdio.Stdout, "%s: OK\n", name)
			}
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("reading %s: %w", list, err)
		}
	}
	if checked == 0 && unreadable == 0 {
		return fmt.Errorf("no properly formatted SHA256 checksum lines found")
	}
	if malformed > 0 {
		fmt.Fprintf(stdio.Stderr, "sha256sum: WARNING: %d line(s) improperly formatted\n", malformed)
	}
	if bad > 0 {
		fmt.Fprintf(stdio.Stderr, "sha256sum: WARNING: %d computed checksum(s) did NOT match\n", bad)
	}
	if bad+unreadable > 0 || malformed > 0 {
		return &cli.ExitError{Code: 1}
	}
	return nil
}

// parseLine splits "HASH  NAME" or the binary-mode "HASH *NAME".
func parseLine(line string) (sum, name string, ok bool) {
	if len(line) < 66 || line[64] != ' ' || (line[65] != ' ' && line[65] != '*') {
		return "", "", false
	}
	sum = strings.ToLower(line[:64])
	if _, err := hex.DecodeString(sum); err != nil {
		return "", "", false
	}
	return sum, line[66:], true
}
