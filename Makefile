# paroodise — see README.md. `make` builds build/paroodise.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/paroodise/paroodise/cli.Version=$(VERSION)
export CGO_ENABLED := 0

.PHONY: all arm64 test unit qemu-test images bench demo clean

all: build/paroodise

# The binary is u-root's makebb build of our cmd/* mains (paroodise and its
# argv[0] names) plus the u-root commands listed in toolbox/tools.go. makebb
# always rebuilds everything (go build -a), so it runs only when a source,
# go.mod or the version changed. makebb itself comes from build/tools, a
# module that pins it with an x/tools that compiles on current Go.
MAKEBB     := build/makebb
BB_CMDS     = $(addprefix ./,$(wildcard cmd/*)) \
	$(filter github.com/u-root/%,$(shell $(GO) list -e -tags tools -f '{{join .Imports " "}}' ./toolbox))
BB_SOURCES := $(shell find . -name '*.go' -not -path './build/*' -not -path './qemu-tests/*') go.mod go.sum
# Inlining stays on (makebb turns it off to save ~10%): the SSH server's
# throughput matters more than those bytes.
BB_FLAGS    = -go-enable-inlining -go-extra-args='-ldflags=$(LDFLAGS) -buildid='

build/paroodise: $(MAKEBB) $(BB_SOURCES) build/version
	@echo "makebb: $@ (linux/amd64, $(words $(BB_CMDS)) commands)"
	@GOOS=linux GOARCH=amd64 $(MAKEBB) $(BB_FLAGS) -o $@ $(BB_CMDS) >build/makebb.log 2>&1 || { cat build/makebb.log; exit 1; }

arm64: build/paroodise-arm64
build/paroodise-arm64: $(MAKEBB) $(BB_SOURCES) build/version
	@echo "makebb: $@ (linux/arm64, $(words $(BB_CMDS)) commands)"
	@GOOS=linux GOARCH=arm64 $(MAKEBB) $(BB_FLAGS) -o $@ $(BB_CMDS) >build/makebb-arm64.log 2>&1 || { cat build/makebb-arm64.log; exit 1; }

$(MAKEBB): build/tools/go.mod build/tools/go.sum build/tools/tools.go
	cd build/tools && $(GO) build -o ../makebb github.com/u-root/gobusybox/src/cmd/makebb

# Rewritten only when the version changes, so a new commit re-stamps the binary.
build/version: FORCE
	@echo '$(VERSION)' | cmp -s - $@ || echo '$(VERSION)' >$@

unit: build/paroodise
	PAROODISE_BIN=$(CURDIR)/build/paroodise $(GO) test -count=1 ./...

# The qemu suite boots real Debian guests (qemu-tests/vm); the first run
# builds the guest images into ${PAROODISE_CACHE:-/var/cache/paroodise}.
qemu-test: build/paroodise
	PAROODISE_BIN=$(CURDIR)/build/paroodise $(GO) test -tags qemu -count=1 -timeout 50m -v ./qemu-tests/...

test: unit qemu-test

images:
	$(GO) run ./qemu-tests/images

# Speed and memory targets, each measured against a reference tool in the
# same run (benchmarks behind the `bench` build tag, run once each). The
# takeover benchmark boots qemu guests (tags qemu and bench).
BENCH_PKGS := ./sshd/ ./toolbox/
bench: build/paroodise
	PAROODISE_BIN=$(CURDIR)/build/paroodise $(GO) test -tags bench -run '^$$' -bench . -benchtime 1x -timeout 30m $(BENCH_PKGS)
	PAROODISE_BIN=$(CURDIR)/build/paroodise $(GO) test -tags 'qemu bench' -run '^$$' -bench Takeover -benchtime 1x -timeout 40m ./qemu-tests/

demo: build/paroodise
	$(GO) run ./qemu-tests/demo -bin $(CURDIR)/build/paroodise

clean:
	rm -f build/paroodise build/paroodise-* build/makebb build/makebb*.log build/version

FORCE:
