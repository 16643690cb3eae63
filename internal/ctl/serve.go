package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
)

// HandlerFunc serves one request. Its result is marshalled to JSON.
type HandlerFunc func(ctx context.Context, op string, args json.RawMessage) (any, error)

// Conn is the serving side of one control connection.
type Conn struct {
	rwc io.ReadWriteCloser
	out lineWriter
}

// NewConn wraps the serving side of rwc.
func NewConn(rwc io.ReadWriteCloser) *Conn { return &Conn{rwc: rwc, out: lineWriter{w: rwc}} }

// Notify sends an event to the client.
func (c *Conn) Notify(event string, data any) error {
	var raw json.RawMessage
	if data != nil {
		b, err := json.Marshal(data)
		if err != nil {
			return fmt.Errorf("ctl: event %s: %w", event, err)
		}
		raw = b
	}
	return c.write(envelope{Event: event, Args: raw})
}

// Serve reads requests until the connection ends or ctx ends, running each
// in its own goroutine, and returns after every one of them has answered.
// It returns nil when the client hung up.
func (c *Conn) Serve(ctx context.Context, h HandlerFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.rwc.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	sc := bufio.NewScanner(c.rwc)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		var e envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return fmt.Errorf("ctl: bad request: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.answer(ctx, h, e)
		}()
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}

func (c *Conn) answer(ctx context.Context, h HandlerFunc, req envelope) {
	res, err := h(ctx, req.Op, req.Args)
	out := envelope{ID: req.ID}
	if err != nil {
		out.Error = err.Error()
	} else if res != nil {
		b, merr := json.Marshal(res)
		if merr != nil {
			out.Error = fmt.Sprintf("ctl: %s: encode answer: %v", req.Op, merr)
		} else {
			out.Result = b
		}
	}
	_ = c.write(out) // the client may be gone; nothing else to tell
}

func (c *Conn) write(e envelope) error { return c.out.write(e) }

// Close ends the connection.
func (c *Conn) Close() error { return c.rwc.Close() }
