package bus

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

func startTestServer(t *testing.T) *Embedded {
	t.Helper()
	e, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0"}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	return e
}

func connect(t *testing.T, url, prefix string) *Client {
	t.Helper()
	c, err := Connect(context.Background(), Options{URL: url, Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestPublishAllReachesEverySubscriberOnce(t *testing.T) {
	e := startTestServer(t)
	pub := connect(t, e.ClientURL(), "")
	got := make(chan Message, 8)
	for i := 0; i < 3; i++ {
		c := connect(t, e.ClientURL(), "")
		if _, err := c.SubscribeAll(func(m Message) { got <- m }); err != nil {
			t.Fatal(err)
		}
	}
	// Another cluster on the same server must not see it.
	other := connect(t, e.ClientURL(), "other")
	if _, err := other.SubscribeAll(func(m Message) { t.Errorf("other cluster got %q", m.Data) }); err != nil {
		t.Fatal(err)
	}
	want := Message{Binary: true, Data: []byte("你好!"), Exclude: "n-1-2"}
	if err := pub.PublishAll(want); err != nil {
		t.Fatal(err)
	}
	if err := pub.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		select {
		case m := <-got:
			if string(m.Data) != string(want.Data) || !m.Binary || m.Exclude != want.Exclude {
				t.Fatalf("got %+v, want %+v", m, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("subscriber %d got nothing", i)
		}
	}
	if err := other.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		t.Fatalf("a fourth delivery: %+v", m)
	default:
	}
}

func TestEmbeddedPortTaken(t *testing.T) {
	e := startTestServer(t)
	addr := e.ns.Addr().String()
	_, err := StartEmbedded(EmbeddedOptions{Listen: addr}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("second embedded server on the same address started")
	}
}

func TestValidToken(t *testing.T) {
	for _, bad := range []string{"", "a.b", "a*", ">", "a b"} {
		if ValidToken(bad) == nil {
			t.Errorf("ValidToken(%q) = nil", bad)
		}
	}
	if err := ValidToken("wsfleet-prod_1"); err != nil {
		t.Error(err)
	}
}

func TestConnectUnreachable(t *testing.T) {
	_, err := Connect(context.Background(), Options{URL: "nats://127.0.0.1:1", ConnectTimeout: time.Second})
	if err == nil {
		t.Fatal("connected to nothing")
	}
}
