package bus

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wsfleet/wsfleet/internal/testcert"
)

// logLines collects a server's log, to wait for what it says.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.lines = append(l.lines, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// waitFor polls cond every 20 ms for up to timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond) // the polling period
	}
}

func TestEmbeddedRefusesOutsiders(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	e, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Users: []User{{"wsfleet", secret}}}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	for name, opts := range map[string][]nats.Option{
		"no credentials":  nil,
		"wrong password":  {nats.UserInfo("wsfleet", secret+"x")},
		"unknown user":    {nats.UserInfo("backend", secret)},
		"empty password":  {nats.UserInfo("wsfleet", "")},
		"token for a pwd": {nats.Token(secret)},
	} {
		nc, err := nats.Connect(e.ClientURL(), append(opts, nats.MaxReconnects(0))...)
		if err == nil {
			nc.Close()
			t.Errorf("%s: connected", name)
		} else if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
			t.Errorf("%s: %v, want an authorization violation", name, err)
		}
	}
	c, err := Connect(context.Background(), Options{URL: e.ClientURL(), Auth: Auth{User: "wsfleet", Password: secret}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("with the credentials: %v", err)
	}
	c.Close(context.Background())
}

// routeCluster makes a CA and a certificate for 127.0.0.1 in dir.
func routeAuth(t *testing.T, dir, password string) RouteAuth {
	t.Helper()
	ca, err := testcert.NewCA(dir, "routes")
	if err != nil {
		t.Fatal(err)
	}
	p, err := ca.Issue(dir, "host", net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	return RouteAuth{User: "route", Password: password, TLSCert: p.CertFile, TLSKey: p.KeyFile, TLSCA: ca.File}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRoutesNeedCredentialsAndTLS: two servers route with a shared password
// over TLS and carry a message between them; a client on the route port,
// and servers with the wrong password or a certificate of another CA, are
// refused and never join.
func TestRoutesNeedCredentialsAndTLS(t *testing.T) {
	dir := t.TempDir()
	ra := routeAuth(t, dir, "route-secret")
	users := []User{{"wsfleet", "s"}}
	routeA, routeB := freePort(t), freePort(t)
	logA := &logLines{}
	a, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Name: "a", Users: users, ClusterListen: routeA, Routes: []string{"nats://" + routeB}, Route: ra}, slog.New(logA))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Shutdown)
	b, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Name: "b", Users: users, ClusterListen: routeB, Routes: []string{"nats://" + routeA}, Route: ra}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Shutdown)
	waitFor(t, 10*time.Second, "a and b routed", func() bool { return a.Server().NumRoutes() > 0 && b.Server().NumRoutes() > 0 })

	auth := Auth{User: "wsfleet", Password: "s"}
	sub, err := Connect(context.Background(), Options{URL: a.ClientURL(), Auth: auth, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close(context.Background())
	got := make(chan Message, 1)
	if _, err := sub.SubscribeAll(func(m Message) { got <- m }); err != nil {
		t.Fatal(err)
	}
	pub, err := Connect(context.Background(), Options{URL: b.ClientURL(), Auth: auth, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	waitFor(t, 10*time.Second, "a message from b reaches a", func() bool {
		pub.PublishAll(Message{Data: []byte("across")})
		select {
		case <-got:
			return true
		case <-time.After(100 * time.Millisecond):
			return false
		}
	})

	// A NATS client on the route port, with or without the route's
	// password, is refused: the port wants TLS with a certificate of the CA.
	for _, opts := range [][]nats.Option{nil, {nats.UserInfo("route", "route-secret")}} {
		if nc, err := nats.Connect("nats://"+routeA, append(opts, nats.MaxReconnects(0), nats.Timeout(5*time.Second))...); err == nil {
			nc.Close()
			t.Error("a client connected to the route port")
		}
	}
	// Rogue servers: the wrong password (with a good certificate), and the
	// right password with a certificate of another CA.
	wrongPwd := ra
	wrongPwd.Password = "guess"
	otherCA := routeAuth(t, filepath.Join(dir, mkdir(t, dir, "other")), "route-secret")
	for name, rogue := range map[string]RouteAuth{"wrong password": wrongPwd, "another CA": otherCA} {
		logR := &logLines{}
		r, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Name: "rogue", ClusterListen: freePort(t), Routes: []string{"nats://" + routeA}, Route: rogue}, slog.New(logR))
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"wrong password": "authorization violation", "another CA": "certificate"}[name]
		waitFor(t, 15*time.Second, fmt.Sprintf("%s: the rogue server refused (%q in a log)", name, want), func() bool {
			all := strings.ToLower(strings.Join(logR.snapshot(), "\n") + strings.Join(logA.snapshot(), "\n"))
			return strings.Contains(all, want)
		})
		if peers := routePeers(t, a); peers["rogue"] {
			t.Errorf("%s: a routes to %v", name, peers)
		}
		// The rogue counts its refused route until it has torn it down.
		waitFor(t, 10*time.Second, name+": the rogue holds no route", func() bool { return r.Server().NumRoutes() == 0 })
		r.Shutdown()
	}
}

// routePeers are the names of the servers e has routes with.
func routePeers(t *testing.T, e *Embedded) map[string]bool {
	t.Helper()
	rz, err := e.Server().Routez(nil)
	if err != nil {
		t.Fatal(err)
	}
	peers := map[string]bool{}
	for _, r := range rz.Routes {
		peers[r.RemoteName] = true
	}
	return peers
}

func (l *logLines) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func mkdir(t *testing.T, dir, name string) string {
	t.Helper()
	if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestRoutesWithoutAuthRefused(t *testing.T) {
	_, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", ClusterListen: freePort(t)}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "routes need a user and password") {
		t.Fatalf("got %v", err)
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	os.WriteFile(p, []byte("  s3cret\n"), 0o600)
	if s, err := ReadSecretFile(p); err != nil || s != "s3cret" {
		t.Fatalf("%q %v", s, err)
	}
	os.Chmod(p, 0o644)
	if _, err := ReadSecretFile(p); err == nil || !strings.Contains(err.Error(), "read by others") {
		t.Fatalf("world-readable: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "empty"), []byte("\n"), 0o600)
	if _, err := ReadSecretFile(filepath.Join(dir, "empty")); err == nil {
		t.Fatal("empty file accepted")
	}
}

// TestEmbeddedLogIsRateLimited: every refused login is an error line of
// the embedded server; an outsider retrying in a loop must not write the
// log as fast as they connect.
func TestEmbeddedLogIsRateLimited(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	logs := &logLines{}
	e, err := StartEmbedded(EmbeddedOptions{Listen: "127.0.0.1:0", Users: []User{{"wsfleet", secret}}}, slog.New(logs))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Shutdown)
	const attempts = 200
	start := time.Now()
	for range attempts {
		nc, err := nats.Connect(e.ClientURL(), nats.UserInfo("wsfleet", "guess"), nats.MaxReconnects(0), nats.Timeout(10*time.Second))
		if err == nil {
			nc.Close()
			t.Fatal("connected with a wrong password")
		}
	}
	// Each refusal is logged before its client is told, so all are in by
	// now; the limit lets natsLogBurst through in each second begun.
	bound := natsLogBurst * (int(time.Since(start)/time.Second) + 2)
	violations := 0
	for _, l := range logs.snapshot() {
		if strings.Contains(strings.ToLower(l), "authentication error") {
			violations++
		}
	}
	if violations == 0 || violations > min(bound, attempts-1) {
		t.Fatalf("%d refused logins wrote %d lines, want 1 to %d", attempts, violations, min(bound, attempts-1))
	}
}
