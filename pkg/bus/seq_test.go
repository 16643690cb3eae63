package bus

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestSeqStamped: every message a client publishes carries its publisher
// id and a number that grows by one per message, whatever the subject;
// two clients have two ids.
func TestSeqStamped(t *testing.T) {
	e := startTestServer(t)
	a, b := connect(t, e.ClientURL(), ""), connect(t, e.ClientURL(), "")
	if a.Publisher() == b.Publisher() || len(a.Publisher()) > MaxPublisher {
		t.Fatalf("publisher ids %q and %q", a.Publisher(), b.Publisher())
	}
	sub := connect(t, e.ClientURL(), "")
	got := make(chan Message, 16)
	if _, err := sub.SubscribeAll(func(m Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.SubscribeRoom("r", func(m Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	for _, send := range []func() error{
		func() error { return a.PublishAll(Message{Data: []byte("1")}) },
		func() error { return a.PublishRoom("r", Message{Data: []byte("2")}) },
		func() error { return a.PublishAll(Message{Data: []byte("3")}) },
		func() error { return b.PublishAll(Message{Data: []byte("4")}) },
	} {
		if err := send(); err != nil {
			t.Fatal(err)
		}
		// One at a time: a's flush puts each on the server before b's.
		a.Flush(context.Background())
	}
	// Two subscriptions deliver on two goroutines: compare by payload.
	want := map[string]struct {
		pub *Client
		seq uint64
	}{"1": {a, 1}, "2": {a, 2}, "3": {a, 3}, "4": {b, 1}}
	for range want {
		select {
		case m := <-got:
			w := want[string(m.Data)]
			if w.pub == nil || m.Pub != w.pub.Publisher() || m.Seq != w.seq {
				t.Errorf("message %s: %s:%d, want %+v", m.Data, m.Pub, m.Seq, w)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a message did not come")
		}
	}
}

// TestParseSeq: a HeaderSeq that does not parse makes the message
// unstamped, never an error or a huge key.
func TestParseSeq(t *testing.T) {
	long := string(make([]byte, MaxPublisher+1))
	for v, want := range map[string]uint64{
		"abc:7": 7, "abc:0": 0, "abc:-1": 0, ":5": 0, "abc": 0, "abc:x": 0,
		long + ":3": 0, "abc:18446744073709551616": 0, "": 0,
	} {
		pub, seq := parseSeq(v)
		if seq != want || (want == 0) != (pub == "") {
			t.Errorf("%q: %q %d, want seq %d", v, pub, seq, want)
		}
	}
	nm := (Message{Data: []byte("x")}).natsMsg("s", "")
	nm.Header = nats.Header{HeaderSeq: []string{"p:9"}}
	if m := messageOf(nm); m.Pub != "p" || m.Seq != 9 {
		t.Fatalf("%+v", m)
	}
}

// TestSettle: after Settle returns, every message sent before it was
// called has been through its handler, however slow; a handler that does
// not return keeps Settle from returning until its context ends.
func TestSettle(t *testing.T) {
	e := startTestServer(t)
	pub, c := connect(t, e.ClientURL(), ""), connect(t, e.ClientURL(), "")
	var handled atomic.Int64
	release := make(chan struct{})
	if _, err := c.SubscribeAll(func(Message) {
		<-release
		handled.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubscribeRoom("r", func(Message) {}); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for range n {
		if err := pub.PublishAll(Message{Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	if err := c.Settle(ctx); err == nil {
		t.Fatal("settled with the handler blocked")
	}
	cancel()
	close(release)
	if err := c.Settle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if h := handled.Load(); h != n {
		t.Fatalf("settled after %d of %d", h, n)
	}
}

// BenchmarkStamp is what stamping adds to a room message's encoding.
func BenchmarkStamp(b *testing.B) {
	m := stamped(Message{Data: []byte("hello")})
	b.ReportAllocs()
	for i := range b.N {
		nm := m.natsMsg("wsfleet.room.r", "")
		nm.Header[HeaderSeq] = []string{seqValue("abcdefghijkl", uint64(i)+1)}
	}
}

// BenchmarkUnstamped is the same encoding without the stamp.
func BenchmarkUnstamped(b *testing.B) {
	m := stamped(Message{Data: []byte("hello")})
	b.ReportAllocs()
	for range b.N {
		_ = m.natsMsg("wsfleet.room.r", "")
	}
}
