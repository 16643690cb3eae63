package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// selfSigned makes a certificate for 127.0.0.1.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestTLSStaysOnGoroutines: wss:// connections run on the goroutine
// engine, through the same frame core.
func TestTLSStaysOnGoroutines(t *testing.T) {
	cert, pool := selfSigned(t)
	o := &opener{conns: make(chan *Conn, 1)}
	s, url := startServer(t, Options{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}, MaxMessage: 1 << 20}, o)
	d := ws.Dialer{TLSConfig: &tls.Config{RootCAs: pool}}
	c, _, _, err := d.Dial(context.Background(), strings.Replace(url, "ws://", "wss://", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, ok := (<-o.conns).tr.(*netConn); !ok {
		t.Fatal("a TLS connection went to a poller")
	}
	big := strings.Repeat("0123456789", 10000) // bigger than the read buffer
	for _, msg := range []string{"hello", big} {
		if err := wsutil.WriteClientText(c, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		data, _, err := wsutil.ReadServerData(c)
		if err != nil || string(data) != msg {
			t.Fatalf("echo: %d bytes, %v", len(data), err)
		}
	}
	ws.WriteFrame(c, ws.MaskFrame(ws.NewTextFrame([]byte{0xff})))
	if code := readClose(t, c); code != ws.StatusInvalidFramePayloadData {
		t.Fatalf("close %d, want 1007", code)
	}
	c.Close()
	waitFor(t, func() bool { return s.Len() == 0 })
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.closed) != 1 || o.closed[0] != int(ws.StatusInvalidFramePayloadData) {
		t.Fatalf("OnClose codes %v, want [1007]", o.closed)
	}
}
