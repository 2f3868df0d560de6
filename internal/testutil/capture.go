package testutil

import (
	"bytes"
	"io"
	"sync"
)

// Capture collects everything read from a terminal (or any reader) in the
// background, for tests that type into it and wait for what it prints.
type Capture struct {
	mu  sync.Mutex
	out bytes.Buffer
}

// CaptureFrom reads r until it fails (the terminal closed).
func CaptureFrom(r io.Reader) *Capture {
	c := &Capture{}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := r.Read(buf)
			c.mu.Lock()
			c.out.Write(buf[:n])
			c.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	return c
}

// String is everything read so far.
func (c *Capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}
