package ctl

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
)

// maxLine bounds one control message (a connection list of a busy worker is
// the largest).
const maxLine = 64 << 20

// ErrClosed is returned by Call when the connection ended before the answer.
var ErrClosed = errors.New("ctl: connection closed")

// envelope is every line on the wire.
type envelope struct {
	ID     uint64          `json:"id,omitempty"`
	Op     string          `json:"op,omitempty"`
	Event  string          `json:"event,omitempty"`
	Args   json.RawMessage `json:"args,omitempty"`
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
	calls  map[uint64]chan envelope
	events chan Event
	done   chan struct{}
	err    error // why done was closed; set before
}

// NewClient starts reading answers from rwc. Events are delivered on
// Events(); up to 16 are buffered and more are dropped when nobody reads.
func NewClient(rwc io.ReadWriteCloser) *Client {
	c := &Client{
		rwc:    rwc,
		out:    lineWriter{w: rwc},
		calls:  make(map[uint64]chan envelope),
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

func (c *Client) readLoop() {
	defer close(c.events)
	sc := bufio.NewScanner(c.rwc)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	for sc.Scan() {
		var e envelope
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			c.finish(fmt.Errorf("ctl: bad message: %w", err))
			return
		}
		if e.Event != "" {
			select {
			case c.events <- Event{Name: e.Event, Data: e.Args}:
			default:
			}
			continue
		}
		c.mu.Lock()
		ch := c.calls[e.ID]
		delete(c.calls, e.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- e
		}
	}
	err := sc.Err()
	if err == nil {
		err = ErrClosed
	}
	c.finish(err)
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
// ctx ends or the connection ends.
func (c *Client) Call(ctx context.Context, op string, args, result any) error {
	var raw json.RawMessage
	if args != nil {
		b, err := json.Marshal(args)
		if err != nil {
			return fmt.Errorf("ctl: %s: %w", op, err)
		}
		raw = b
	}
	ch := make(chan envelope, 1)
	c.mu.Lock()
	c.nextID++
	id := c.nextID
	c.calls[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.calls, id)
		c.mu.Unlock()
	}()
	if err := c.write(envelope{ID: id, Op: op, Args: raw}); err != nil {
		return fmt.Errorf("ctl: %s: %w", op, err)
	}
	select {
	case e := <-ch:
		if e.Error != "" {
			return &RemoteError{Op: op, Msg: e.Error}
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

func (c *Client) write(e envelope) error { return c.out.write(e) }

// lineWriter writes envelopes one JSON line each, whole lines only.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) write(e envelope) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
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
