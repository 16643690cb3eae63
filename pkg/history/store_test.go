package history

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/wsfleet/wsfleet/pkg/app"
)

// jetStreamServer runs a NATS server with JetStream, not clustered, for
// the test, and returns a client of it.
func jetStreamServer(t *testing.T) *nats.Conn {
	t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats server not ready in 10s")
	}
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TestOpenReplicas: more replicas than a server that is not clustered can
// hold is an error naming -history-replicas, not worth trying again; a
// stream that exists with other replicas is left as it is, with a warning
// naming the flag and the command that changes it.
func TestOpenReplicas(t *testing.T) {
	nc := jetStreamServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rules, err := ParseRules("*=100,1h")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, nc, Options{Prefix: "t", Rules: rules, Replicas: 3})
	if err == nil || !strings.Contains(err.Error(), "-history-replicas 3") {
		t.Fatalf("R3 on a single server: %v, want an error naming -history-replicas 3", err)
	}
	if Retryable(err) {
		t.Fatalf("R3 on a single server: %v is said to be worth trying again", err)
	}

	st, err := Open(ctx, nc, Options{Prefix: "t", Rules: rules, Replicas: 1})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	st2, err := Open(ctx, nc, Options{Prefix: "t", Rules: rules, Replicas: 3, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("open an R1 stream with -history-replicas 3: %v, want it opened as it is", err)
	}
	if st2.Epoch() != st.Epoch() {
		t.Fatalf("epoch %q, then %q: the stream was made again", st.Epoch(), st2.Epoch())
	}
	info, err := st2.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 1 {
		t.Fatalf("stream replicas %d after opening with 3, want 1 (left as it was)", info.Config.Replicas)
	}
	if l := logs.String(); !strings.Contains(l, "-history-replicas=3") || !strings.Contains(l, "replicas=1") || !strings.Contains(l, "--replicas 3") {
		t.Fatalf("warning %q: want the flag, both counts and the command", l)
	}
}

// TestFollowPastServerDefault: the stream takes more followers than the
// NATS server's default of 1,000 consumers per stream (a user online with
// history is one on each worker holding it), and a stream made before
// the limit was set gets it when opened.
func TestFollowPastServerDefault(t *testing.T) {
	nc := jetStreamServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rules, err := ParseRules("*=100,1h;@*=100,1h")
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(ctx, nc, Options{Prefix: "t", Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	// A stream as an older wsfleet made it: the server's default.
	cfg := st.stream.CachedInfo().Config
	cfg.MaxConsumers = 0
	if _, err := st.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if st, err = Open(ctx, nc, Options{Prefix: "t", Rules: rules}); err != nil {
		t.Fatal(err)
	}
	const users = 1100
	for i := range users {
		stop, err := st.FollowUser(ctx, fmt.Sprintf("u%d", i), func(app.Kept) {})
		if err != nil {
			t.Fatalf("follower %d: %v", i+1, err)
		}
		defer stop()
	}
}
