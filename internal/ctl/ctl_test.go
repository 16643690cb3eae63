package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"testing"
	"time"
)

func TestCallAnswerEventAndError(t *testing.T) {
	a, b := net.Pipe()
	srv := NewConn(a)
	release := make(chan struct{})
	served := make(chan error, 1)
	go func() {
		served <- srv.Serve(context.Background(), func(ctx context.Context, op string, args json.RawMessage) (any, error) {
			switch op {
			case "echo":
				var s string
				json.Unmarshal(args, &s)
				return s + "!", nil
			case "slow":
				<-release
				return "late", nil
			}
			return nil, errors.New("no such op " + op)
		})
	}()
	cl := NewClient(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	slow := make(chan string, 1)
	go func() {
		var s string
		if err := cl.Call(ctx, "slow", nil, &s); err != nil {
			t.Error(err)
		}
		slow <- s
	}()
	// A slow request must not hold up another.
	var got string
	if err := cl.Call(ctx, "echo", "hi", &got); err != nil || got != "hi!" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	var re *RemoteError
	if err := cl.Call(ctx, "nope", nil, nil); !errors.As(err, &re) || re.Msg != "no such op nope" {
		t.Fatalf("unknown op: %v", err)
	}
	close(release)
	if s := <-slow; s != "late" {
		t.Fatalf("slow = %q", s)
	}
	if err := srv.Notify("ready", map[string]int{"pid": 7}); err != nil {
		t.Fatal(err)
	}
	ev := <-cl.Events()
	if ev.Name != "ready" || string(ev.Data) != `{"pid":7}` {
		t.Fatalf("event %+v", ev)
	}
	cl.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve after hang-up: %v", err)
	}
	if err := cl.Call(ctx, "echo", "x", nil); err == nil {
		t.Fatal("call on a closed client succeeded")
	}
}
