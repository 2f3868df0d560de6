package pid1

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// ControlSocket is where PID 1 answers requests. Only root may connect:
// the directory is 0700 and the peer's uid is checked.
const ControlSocket = "/run/paroodise/control.sock"

// Request is one JSON line sent to the control socket.
//
//	{"op":"status"}                      → one Response with Status
//	{"op":"log","follow":true,"since":0} → one Response per Entry; without
//	                                        follow, a final {"done":true}
//	{"op":"reboot"|"poweroff"|"halt"}    → {"done":true}, then PID 1 shuts down
//	{"op":"flash","text":"..."}          → {"done":true}; the text describes
//	                                        a running flash job in status and
//	                                        the login banner ("" clears it)
//
// Any failure is answered with {"error":"..."}.
type Request struct {
	Op     string `json:"op"`
	Follow bool   `json:"follow,omitempty"`
	Since  uint64 `json:"since,omitempty"`
	Text   string `json:"text,omitempty"`
}

// Response is one JSON line sent back.
type Response struct {
	Error  string  `json:"error,omitempty"`
	Status *Status `json:"status,omitempty"`
	Entry  *Entry  `json:"entry,omitempty"`
	Done   bool    `json:"done,omitempty"`
}

// Ops of Request.
const (
	OpStatus   = "status"
	OpLog      = "log"
	OpReboot   = "reboot"
	OpPoweroff = "poweroff"
	OpHalt     = "halt"
	OpFlash    = "flash"
)

// handler is what the control server asks of PID 1.
type handler interface {
	Status() *Status
	Logs() *Log
	// Shutdown starts a reboot, poweroff or halt and returns at once.
	Shutdown(op, why string)
	// SetFlash records what a flash job is doing ("" when none is).
	SetFlash(text string)
}

// serveConn answers the requests on one connection until it closes.
func serveConn(ctx context.Context, c net.Conn, h handler) {
	defer c.Close()
	enc := json.NewEncoder(c)
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		var req Request
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			_ = enc.Encode(Response{Error: "bad request: " + err.Error()})
			return
		}
		switch req.Op {
		case OpStatus:
			if enc.Encode(Response{Status: h.Status()}) != nil {
				return
			}
		case OpLog:
			if !streamLog(ctx, c, enc, h.Logs(), req) {
				return
			}
		case OpFlash:
			h.SetFlash(req.Text)
			if enc.Encode(Response{Done: true}) != nil {
				return
			}
		case OpReboot, OpPoweroff, OpHalt:
			_ = enc.Encode(Response{Done: true})
			h.Shutdown(req.Op, "requested over the control socket")
			return
		default:
			_ = enc.Encode(Response{Error: fmt.Sprintf("unknown op %q", req.Op)})
			return
		}
	}
}

// streamLog sends the kept lines after req.Since, and with Follow every
// later line until the client goes away. It reports whether the
// connection is still usable.
func streamLog(ctx context.Context, c net.Conn, enc *json.Encoder, l *Log, req Request) bool {
	seq := req.Since
	gone := make(chan struct{})
	if req.Follow {
		// The client sends nothing more; a read returning means it left.
		go func() {
			_, _ = io.Copy(io.Discard, c)
			close(gone)
		}()
	}
	for {
		entries, wake := l.Since(seq)
		for i := range entries {
			if enc.Encode(Response{Entry: &entries[i]}) != nil {
				return false
			}
			seq = entries[i].Seq
		}
		if !req.Follow {
			return enc.Encode(Response{Done: true}) == nil
		}
		select {
		case <-wake:
		case <-gone:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// Client talks to PID 1's control socket.
type Client struct {
	Path    string
	Timeout time.Duration // for connecting and for one-shot answers
}

func (cl Client) dial() (net.Conn, error) {
	c, err := net.DialTimeout("unix", cl.Path, cl.timeout())
	if err != nil {
		return nil, fmt.Errorf("not running under paroodise init (PID 1): %w", err)
	}
	return c, nil
}

func (cl Client) timeout() time.Duration {
	if cl.Timeout > 0 {
		return cl.Timeout
	}
	return 10 * time.Second
}

// roundTrip sends req and returns the first response.
func (cl Client) roundTrip(req Request) (*Response, error) {
	c, err := cl.dial()
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(cl.timeout()))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return nil, fmt.Errorf("send to %s: %w", cl.Path, err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("read from %s: %w", cl.Path, err)
	}
	if resp.Error != "" {
		return nil, errors.New(resp.Error)
	}
	return &resp, nil
}

// Status asks PID 1 for its status.
func (cl Client) Status() (*Status, error) {
	resp, err := cl.roundTrip(Request{Op: OpStatus})
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("%s: answer without status", cl.Path)
	}
	return resp.Status, nil
}

// Shutdown asks PID 1 to reboot, power off or halt.
func (cl Client) Shutdown(op string) error {
	_, err := cl.roundTrip(Request{Op: op})
	return err
}

// SetFlash tells PID 1 what a flash job is doing, for status and the
// login banner; "" says that none is running.
func (cl Client) SetFlash(text string) error {
	_, err := cl.roundTrip(Request{Op: OpFlash, Text: text})
	return err
}

// Log calls fn for each kept log entry after since (0: all); with follow
// it goes on with new lines until the connection ends or fn fails.
func (cl Client) Log(follow bool, since uint64, fn func(Entry) error) error {
	c, err := cl.dial()
	if err != nil {
		return err
	}
	defer c.Close()
	if err := json.NewEncoder(c).Encode(Request{Op: OpLog, Follow: follow, Since: since}); err != nil {
		return fmt.Errorf("send to %s: %w", cl.Path, err)
	}
	dec := json.NewDecoder(c)
	for {
		var resp Response
		if err := dec.Decode(&resp); err != nil {
			return fmt.Errorf("read from %s: %w", cl.Path, err)
		}
		switch {
		case resp.Error != "":
			return errors.New(resp.Error)
		case resp.Done:
			return nil
		case resp.Entry != nil:
			if err := fn(*resp.Entry); err != nil {
				return err
			}
		}
	}
}
