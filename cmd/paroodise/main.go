// Command paroodise re-images a running Linux server in place. The same
// binary answers to the names in multicall (systemd, init, sh, flash, …).
package main

import "github.com/paroodise/paroodise/multicall"

func main() { multicall.Main() }
