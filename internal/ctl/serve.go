package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"sync"
)

// HandlerFunc serves one request. Its result is marshalled to JSON; a
// *Stream result is sent in pieces.
type HandlerFunc func(ctx context.Context, op string, args json.RawMessage) (any, error)

// Stream is an answer of any size: its Items are sent about chunkSize bytes
// a line, then Result. The client reads it with CallStream.
type Stream struct {
	Items  iter.Seq[any]
	Result any
}

// Items makes a Stream's items of a slice.
func Items[T any](s []T) iter.Seq[any] {
	return func(yield func(any) bool) {
		for _, v := range s {
			if !yield(v) {
				return
			}
		}
	}
}

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
// It returns nil when the client hung up. A line it cannot decode, or one
// over the line limit, is answered with an error (when it names its id)
// and the connection goes on.
func (c *Conn) Serve(ctx context.Context, h HandlerFunc) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { c.rwc.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	lr := newLineReader(c.rwc, maxLine)
	for {
		line, tooLong, err := lr.next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("ctl: read: %w", err)
		}
		var e envelope
		switch {
		case tooLong:
			_ = c.write(envelope{ID: idOf(line), Error: fmt.Sprintf("ctl: request line over %d bytes", maxLine)})
			continue
		case json.Unmarshal(line, &e) != nil || e.Op == "":
			_ = c.write(envelope{ID: idOf(line), Error: "ctl: bad request line"})
			continue
		}
		wg.Go(func() { c.answer(ctx, h, e) })
	}
}

func (c *Conn) answer(ctx context.Context, h HandlerFunc, req envelope) {
	res, err := h(ctx, req.Op, req.Args)
	if s, ok := res.(*Stream); ok && err == nil {
		c.stream(req, s)
		return
	}
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
	if err := c.write(out); errors.Is(err, errLineTooLong) {
		_ = c.write(envelope{ID: req.ID, Error: fmt.Sprintf("ctl: %s: answer over %d bytes", req.Op, maxLine)})
	}
	// Any other write error: the client is gone; nothing else to tell.
}

// stream sends s's items, about chunkSize bytes a line, then its Result.
func (c *Conn) stream(req envelope, s *Stream) {
	chunk := []byte{'['}
	flush := func(last bool, result json.RawMessage) error {
		e := envelope{ID: req.ID, More: !last, Result: result}
		if len(chunk) > 1 {
			e.Items = append(chunk, ']')
		}
		chunk = append(chunk[:0], '[')
		return c.write(e)
	}
	fail := func(err error) { _ = c.write(envelope{ID: req.ID, Error: fmt.Sprintf("ctl: %s: %v", req.Op, err)}) }
	if s.Items != nil {
		for item := range s.Items {
			b, err := json.Marshal(item)
			if err != nil {
				fail(err)
				return
			}
			if len(chunk) > 1 && len(chunk)+len(b) > chunkSize {
				if err := flush(false, nil); err != nil {
					fail(err)
					return
				}
			}
			if len(chunk) > 1 {
				chunk = append(chunk, ',')
			}
			chunk = append(chunk, b...)
		}
	}
	var result json.RawMessage
	if s.Result != nil {
		b, err := json.Marshal(s.Result)
		if err != nil {
			fail(err)
			return
		}
		result = b
	}
	if err := flush(true, result); err != nil {
		fail(err)
	}
}

func (c *Conn) write(e envelope) error { return c.out.write(e) }

// Close ends the connection.
func (c *Conn) Close() error { return c.rwc.Close() }
