# paroodise — see README.md. `make` builds build/paroodise.
GO      ?= go
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/paroodise/paroodise/cli.Version=$(VERSION)
export CGO_ENABLED := 0

.PHONY: all test unit bench demo clean

all: build/paroodise

build/paroodise: FORCE
	GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/paroodise

unit: build/paroodise
	PAROODISE_BIN=$(CURDIR)/build/paroodise $(GO) test -count=1 ./...

test: unit

clean:
	rm -f build/paroodise build/paroodise-* build/makebb

FORCE:
