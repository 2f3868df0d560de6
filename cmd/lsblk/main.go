// Command lsblk is the toolbox's lsblk; see package toolbox/lsblk.
package main

import (
	"os"

	"github.com/paroodise/paroodise/cli"
	"github.com/paroodise/paroodise/toolbox/lsblk"
)

func main() {
	stdio := cli.OS()
	os.Exit(cli.Code(stdio, "lsblk", lsblk.Run(stdio, os.Args[1:])))
}
