package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsflate"
	"github.com/gobwas/ws/wsutil"

	"github.com/wsfleet/wsfleet/internal/testcert"
)

// dialRaw opens a WebSocket (ws:// or wss://) with d and returns the raw
// connection, for tests about the handshake itself.
func dialRaw(t *testing.T, d ws.Dialer, url string) (net.Conn, ws.Handshake) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, hs, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	if br != nil {
		t.Fatalf("dial %s: server sent data right behind the handshake", url)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return conn, hs
}

// peerCN is the common name of the certificate a TLS connection got.
func peerCN(c net.Conn) string {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return ""
	}
	return tc.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func roundTripText(t *testing.T, c net.Conn, send, want string) {
	t.Helper()
	if err := wsutil.WriteClientText(c, []byte(send)); err != nil {
		t.Fatalf("send %q: %v", send, err)
	}
	for i := 0; i < 100; i++ { // skip pushes
		data, err := wsutil.ReadServerText(c)
		if err != nil {
			t.Fatalf("read answer to %q: %v", send, err)
		}
		if string(data) == want {
			return
		}
	}
	t.Fatalf("no %q among 100 messages", want)
}

// TestTLSCertificateHotSwap: SIGHUP makes the cluster serve a new
// certificate to new clients while a client connected before keeps its
// connection.
func TestTLSCertificateHotSwap(t *testing.T) {
	dir := t.TempDir()
	first, err := testcert.Write(dir, "first")
	if err != nil {
		t.Fatal(err)
	}
	c := startCluster(t, clusterOpts{count: 2, extra: []string{"-tls-cert", first.CertFile, "-tls-key", first.KeyFile}})
	url := "wss://" + c.addr + "/"
	old, _ := dialRaw(t, ws.Dialer{TLSConfig: &tls.Config{RootCAs: first.Pool}}, url)
	if cn := peerCN(old); cn != "first" {
		t.Fatalf("first certificate: %q", cn)
	}
	roundTripText(t, old, "before", "hello before")

	second, err := testcert.Write(dir, "second")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(c.status().Master.PID, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, _, _, err := ws.Dialer{TLSConfig: &tls.Config{RootCAs: second.Pool}}.Dial(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close()
		if cn := peerCN(conn); cn != "second" {
			return fmt.Errorf("certificate %q", cn)
		}
		return nil
	})
	roundTripText(t, old, "after", "hello after")
	if cn := peerCN(old); cn != "first" {
		t.Fatalf("the old connection's certificate changed to %q", cn)
	}
	// A reload's new workers serve the new certificate too. The hand-off
	// (on by default) cannot move a TLS connection, whose keys stay in
	// crypto/tls: the old workers close theirs with 1012 (issue 15).
	kept, err := tryDialWSURL(ws.Dialer{TLSConfig: &tls.Config{RootCAs: second.Pool}}, url)
	if err != nil {
		t.Fatal(err)
	}
	kept.t = t
	defer kept.close()
	c.mustCLI("reload")
	kept.expectClose(expectTimeout, statusServiceRestart)
	now, _ := dialRaw(t, ws.Dialer{TLSConfig: &tls.Config{RootCAs: second.Pool}}, url)
	roundTripText(t, now, "x", "hello x")
}

// TestSubprotocolAndDeflate: the server picks the first subprotocol the
// client offers that it speaks, refuses a client offering none when
// -require-subprotocol is set, and negotiates permessage-deflate.
func TestSubprotocolAndDeflate(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, extra: []string{
		"-subprotocols", "chat.v2,chat.v1", "-require-subprotocol", "-deflate",
	}})
	url := "ws://" + c.addr + "/"

	conn, hs := dialRaw(t, ws.Dialer{Protocols: []string{"chat.v1", "chat.v2"}}, url)
	if hs.Protocol != "chat.v1" || len(hs.Extensions) != 0 {
		t.Fatalf("protocol %q extensions %v; want chat.v1 and no compression", hs.Protocol, hs.Extensions)
	}
	roundTripText(t, conn, "plain", "hello plain")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _, _, err := ws.Dialer{Protocols: []string{"other"}}.Dial(ctx, url)
	var se ws.StatusError
	if !asStatus(err, &se) || int(se) != http.StatusBadRequest {
		t.Fatalf("offering no supported subprotocol: %v, want HTTP 400", err)
	}
	if _, _, _, err := (ws.Dialer{}).Dial(ctx, url); !asStatus(err, &se) || int(se) != http.StatusBadRequest {
		t.Fatalf("offering no subprotocol: %v, want HTTP 400", err)
	}

	offer := wsflate.Parameters{ClientNoContextTakeover: true}.Option()
	zc, hs := dialRaw(t, ws.Dialer{Protocols: []string{"chat.v2"}, Extensions: []httphead.Option{offer}}, url)
	if len(hs.Extensions) != 1 || string(hs.Extensions[0].Name) != wsflate.ExtensionName {
		t.Fatalf("extensions %v, want permessage-deflate", hs.Extensions)
	}
	text := strings.Repeat("你好 wsfleet ", 100)
	msg, err := wsflate.CompressFrame(ws.NewTextFrame([]byte(text)))
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.WriteFrame(zc, ws.MaskFrame(msg)); err != nil {
		t.Fatal(err)
	}
	f, err := ws.ReadFrame(zc)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Header.Rsv1() {
		t.Fatalf("answer of %d bytes not compressed", len(f.Payload))
	}
	plain, err := wsflate.DecompressFrame(f)
	if err != nil || string(plain.Payload) != "hello "+text {
		t.Fatalf("decompressed answer: %v, %d bytes", err, len(plain.Payload))
	}
}

func asStatus(err error, se *ws.StatusError) bool {
	if err == nil {
		return false
	}
	s, ok := err.(ws.StatusError)
	if ok {
		*se = s
	}
	return ok
}

// clientFrom returns a dialer that connects from a given loopback address,
// so a test can tell its client's address from a proxy's.
func clientFrom(ip string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return d.DialContext
}
