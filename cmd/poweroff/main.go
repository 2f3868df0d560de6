// Command poweroff is the paroodise binary under the name poweroff; see cmd/paroodise
// for why each such name has its own main package.
package main

import "github.com/paroodise/paroodise/multicall"

func main() { multicall.Main() }
