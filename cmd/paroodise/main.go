// Command paroodise re-images a running Linux server in place.
//
// The shipped binary is built by u-root's makebb, which links many main
// packages into one and picks one by the basename of argv[0]; it knows a
// name only if a main package lives in a directory of that name. So every
// extra name that must reach multicall (systemd, init, sh, reboot,
// poweroff) has a tiny cmd/<name> main that calls multicall.Main, which
// dispatches on the same basename.
package main

import "github.com/paroodise/paroodise/multicall"

func main() { multicall.Main() }
