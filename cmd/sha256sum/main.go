// Command sha256sum is the toolbox's sha256sum; see package toolbox/sha256sum.
package main

import (
	"os"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/toolbox/sha256sum"
)

func main() {
	stdio := cli.OS()
	os.Exit(cli.Code(stdio, "sha256sum", sha256sum.Run(stdio, os.Args[1:])))
}
