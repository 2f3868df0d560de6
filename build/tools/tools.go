//go:build tools

// Package tools pins the build tools of paroodise. It lives in its own
// module because makebb's own go.mod pins golang.org/x/tools v0.18.0, which
// no longer compiles with current Go; requiring a current x/tools here lets
// `go build` of makebb resolve to a version that does, without touching the
// versions the paroodise module itself uses.
package tools

import _ "github.com/u-root/gobusybox/src/cmd/makebb"
