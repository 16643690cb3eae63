package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// ErrClosed is returned by Call when the connection ended before the answer.
var ErrClosed = errors.New("ctl: connection closed")

// envelope is every line on the wire. A Stream's answer is several lines
// with the same id: each carries some Items and More, the last one the
// Result (or Error).
type envelope struct {
	ID     uint64          `json:"id,omitempty"` // first: idOf reads it from a line it cannot decode
	Op     string          `json:"op,omitempty"`
	Event  string          `json:"event,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
	Items  json.RawMessage `json:"items,omitempty"` // a JSON array: the next items of a Stream
	More   bool            `json:"more,omitempty"`  // more lines of this answer follow
	Result json.RawMessage `json:"result,omitempty"`
	Error  string          `json:"error,omitempty"`
}

// Event is an unsolicited message from the serving side.
type Event struct {
	Name string
	Data json.RawMessage
}

// Client sends requests over one connection and matches the answers.
type Client struct {
	rwc    io.ReadWriteCloser
	out    lineWriter
	mu     sync.Mutex
	nextID uint64
	calls  map[uint64]*call
	events chan Event
	done   chan struct{}
	err    error // why done was closed; set before
}

// call is one request waiting for its answer's lines.
type call struct {
	lines chan envelope
	gone  chan struct{} // closed when the caller stopped listening
}

// NewClient starts reading answers from rwc. Events are delivered on
// Events(); up to 16 are buffered and more are dropped when nobody reads.
func NewClient(rwc io.ReadWriteCloser) *Client {
	c := &Client{
		rwc:    rwc,
		out:    lineWriter{w: rwc},
		calls:  make(map[uint64]*call),
		events: make(chan Event, 16),
		done:   make(chan struct{}),
	}
	go c.readLoop()
	return c
}

// Events delivers the serving side's events; it is closed when the
// connection ends.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.done }

// readLoop delivers each answer line to its call. A line it cannot decode,
// or one over maxLine, fails the call it names and nothing else (issue 10:
// an oversized answer used to end the connection, and a worker took that
// for its master's death).
func (c *Client) readLoop() {
	defer close(c.events)
	lr := newLineReader(c.rwc, maxLine)
	for {
		line, tooLong, err := lr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = ErrClosed
			} else {
				err = fmt.Errorf("%w: %w", ErrClosed, err) // a reset ends it just the same
			}
			c.finish(err)
			return
		}
		var e envelope
		if tooLong {
			e = envelope{ID: idOf(line), Error: fmt.Sprintf("ctl: answer line over %d bytes", maxLine)}
		} else if err := json.Unmarshal(line, &e); err != nil {
			e = envelope{ID: idOf(line), Error: fmt.Sprintf("ctl: bad answer: %v", err)}
		}
		if e.Event != "" {
			select {
			case c.events <- Event{Name: e.Event, Data: e.Args}:
			default:
			}
			continue
		}
		c.deliver(e)
	}
}

// deliver hands e to its call; the call is forgotten at its last line (or an
// error), so later lines of a failed answer are dropped.
func (c *Client) deliver(e envelope) {
	c.mu.Lock()
	cl := c.calls[e.ID]
	if !e.More || e.Error != "" {
		delete(c.calls, e.ID)
	}
	c.mu.Unlock()
	if cl == nil {
		return
	}
	select {
	case cl.lines <- e:
	case <-cl.gone:
	}
}

func (c *Client) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	c.err = err
	close(c.done)
	c.rwc.Close()
}

// Call sends op with args (marshalled to JSON; nil for none) and decodes the
// answer into result (nil to ignore it). It returns when the answer arrives,
// ctx ends or the connection ends. An answer streamed in items (a Stream)
// is an error here: use CallStream.
func (c *Client) Call(ctx context.Context, op string, args, result any) error {
	return c.CallStream(ctx, op, args, nil, result)
}

// CallStream is Call for an answer of any size: each item of a Stream
// answer is passed to each as it arrives (raw JSON, valid until each
// returns), then the stream's Result is decoded into result. An error from
// each abandons the answer and is returned.
func (c *Client) CallStream(ctx context.Context, op string, args any, each func(json.RawMessage) error, result any) error {
	var raw json.RawMessage
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("ctl: %s: %w", op, err)
		}
		raw = b
	}
	cl := &call{lines: make(chan envelope, 4), gone: make(chan struct{})}
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.calls[id] = cl
	c.mu.Unlock()
	defer func() {
		close(cl.gone)
		c.mu.Lock()
		delete(c.calls, id)
		c.mu.Unlock()
	}()
	if err := c.write(envelope{ID: id, Op: op, Args: raw}); err != nil {
		if errors.Is(err, errLineTooLong) {
			return fmt.Errorf("ctl: %s: %w", op, err)
		}
		// The connection is gone (or going): the same as its end.
		return fmt.Errorf("ctl: %s: %w: %w", op, ErrClosed, err)
	}
	for {
		select {
		case e := <-cl.lines:
			if e.Error != "" {
				return &RemoteError{Op: op, Msg: e.Error}
			}
			if err := eachItem(op, e.Items, each); err != nil {
				return err
			}
			if e.More {
				continue
			}
			if result != nil && len(e.Result) > 0 {
				if err := json.Unmarshal(e.Result, result); err != nil {
					return fmt.Errorf("ctl: %s: decode answer: %w", op, err)
				}
			}
			return nil
		case <-ctx.Done():
			return fmt.Errorf("ctl: %s: %w", op, ctx.Err())
		case <-c.done:
			return fmt.Errorf("ctl: %s: %w", op, c.err)
		}
	}
}

func eachItem(op string, items json.RawMessage, each func(json.RawMessage) error) error {
	if len(items) == 0 {
		return nil
	}
	if each == nil {
		return fmt.Errorf("ctl: %s: the answer is a stream; use CallStream", op)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(items, &list); err != nil {
		return fmt.Errorf("ctl: %s: decode items: %w", op, err)
	}
	for _, it := range list {
		if err := each(it); err != nil {
			return err
		}
	}
	return nil
}

func (c *Client) write(e envelope) error { return c.out.write(e) }

// lineWriter writes envelopes one JSON line each, whole lines only.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// errLineTooLong is written in place of an answer that would not fit a line.
var errLineTooLong = fmt.Errorf("ctl: line over %d bytes", maxLine)

func (l *lineWriter) write(e envelope) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if len(b) >= maxLine {
		return errLineTooLong
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	_, err = l.w.Write(append(b, '\n'))
	return err
}

// Close ends the connection.
func (c *Client) Close() error {
	c.finish(ErrClosed)
	return nil
}

// RemoteError is an error the serving side answered with.
type RemoteError struct {
	Op  string
	Msg string
}

func (e *RemoteError) Error() string { return e.Msg }
