// Package qemutests holds the end-to-end tests that boot real Debian guests
// under qemu (see package vm) and drive them with the OpenSSH client. They
// build only with the "qemu" tag: `make qemu-test`.
package qemutests
