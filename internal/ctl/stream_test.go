package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// serve runs h on one end of a pipe and returns a client on the other.
func serve(t *testing.T, h HandlerFunc) *Client {
	t.Helper()
	a, b := net.Pipe()
	srv := NewConn(a)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(context.Background(), h) }()
	cl := NewClient(b)
	t.Cleanup(func() {
		cl.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestStreamLargerThanALine: an answer several times maxLine arrives whole,
// in order, and the connection serves the next request.
func TestStreamLargerThanALine(t *testing.T) {
	const n = 40000 // about 3 MiB of items: three times maxLine
	pad := strings.Repeat("x", 64)
	cl := serve(t, func(_ context.Context, op string, _ json.RawMessage) (any, error) {
		if op == "ping" {
			return "pong", nil
		}
		items := make([]string, n)
		for i := range items {
			items[i] = fmt.Sprintf("%d-%s", i, pad)
		}
		return &Stream{Items: Items(items), Result: map[string]int{"count": n}}, nil
	})
	ctx := testCtx(t)
	got := 0
	var trailer struct{ Count int }
	err := cl.CallStream(ctx, "list", nil, func(raw json.RawMessage) error {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return err
		}
		if want := fmt.Sprintf("%d-%s", got, pad); s != want {
			return fmt.Errorf("item %d = %q", got, s)
		}
		got++
		return nil
	}, &trailer)
	if err != nil || got != n || trailer.Count != n {
		t.Fatalf("streamed %d items, trailer %+v, err %v; want %d", got, trailer, err, n)
	}
	// A plain Call of a streamed answer is an error, not a silent empty one.
	if err := cl.Call(ctx, "list", nil, nil); err == nil || !strings.Contains(err.Error(), "CallStream") {
		t.Fatalf("Call of a stream: %v", err)
	}
	var s string
	if err := cl.Call(ctx, "ping", nil, &s); err != nil || s != "pong" {
		t.Fatalf("after the stream: %q, %v", s, err)
	}
}

// TestOversizedAnswerFailsOneCall: an answer over maxLine is an error for its
// request; the connection and the other requests go on.
func TestOversizedAnswerFailsOneCall(t *testing.T) {
	cl := serve(t, func(_ context.Context, op string, _ json.RawMessage) (any, error) {
		if op == "big" {
			return strings.Repeat("y", maxLine+10), nil
		}
		return "small", nil
	})
	ctx := testCtx(t)
	var re *RemoteError
	if err := cl.Call(ctx, "big", nil, nil); !errors.As(err, &re) || !strings.Contains(re.Msg, "over") {
		t.Fatalf("oversized answer: %v", err)
	}
	var s string
	if err := cl.Call(ctx, "x", nil, &s); err != nil || s != "small" {
		t.Fatalf("after an oversized answer: %q, %v", s, err)
	}
}

// TestBadLines: a line the server cannot decode, or one over the limit, is
// answered with an error for its id and the server keeps serving; an answer
// line the client cannot decode fails only its call.
func TestBadLines(t *testing.T) {
	a, b := net.Pipe()
	srv := NewConn(a)
	go srv.Serve(context.Background(), func(context.Context, string, json.RawMessage) (any, error) { return "ok", nil })
	defer a.Close()
	defer b.Close()
	lr := newLineReader(b, maxLine)
	for _, c := range []struct {
		line string
		want string
	}{
		{`{"id":7,"op":` + "\n", `{"id":7,"error":"ctl: bad request line"}`},
		{`{"id":8,"op":"x","args":"` + strings.Repeat("z", maxLine) + "\"}\n", `{"id":8,"error":"ctl: request line over 1048576 bytes"}`},
		{`{"id":9,"op":"x"}` + "\n", `{"id":9,"result":"ok"}`},
	} {
		go b.Write([]byte(c.line))
		got, tooLong, err := lr.next()
		if err != nil || tooLong || string(got) != c.want {
			t.Errorf("after %.40q: got %s (tooLong %v, %v), want %s", c.line, got, tooLong, err, c.want)
		}
	}

	// The client side: a broken answer line for call 1, then a good one.
	x, y := net.Pipe()
	cl := NewClient(x)
	defer cl.Close()
	go func() {
		peer := newLineReader(y, maxLine)
		peer.next()
		y.Write([]byte(`{"id":1,"result":` + "\n"))
		peer.next()
		y.Write([]byte(`{"id":2,"result":"fine"}` + "\n"))
	}()
	ctx := testCtx(t)
	if err := cl.Call(ctx, "a", nil, nil); err == nil || !strings.Contains(err.Error(), "bad answer") {
		t.Fatalf("broken answer: %v", err)
	}
	var s string
	if err := cl.Call(ctx, "b", nil, &s); err != nil || s != "fine" {
		t.Fatalf("after a broken answer: %q, %v", s, err)
	}
}

func TestIDOf(t *testing.T) {
	for line, want := range map[string]uint64{
		`{"id":42,"op":"x"}`: 42, `{"op":"x"}`: 0, `{"id":`: 0, `{"id":12345678901234567890123}`: 0,
	} {
		if got := idOf([]byte(line)); got != want {
			t.Errorf("idOf(%s) = %d, want %d", line, got, want)
		}
	}
}
