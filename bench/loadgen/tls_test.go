package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// TestWSSResumes: a client process trusts the generated certificate (no
// InsecureSkipVerify), its warm-up fills the session cache, and the next
// connection resumes a session, which didResume reports; against a server
// with other ticket keys (another worker) it cannot resume.
func TestWSSResumes(t *testing.T) {
	dir := t.TempDir()
	if err := genCert(dir); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	serve := func() string { // a wss:// server with its own ticket keys
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		t.Cleanup(func() { ln.Close(); wg.Wait() })
		wg.Go(func() {
			for {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				wg.Go(func() {
					defer nc.Close()
					if _, err := ws.Upgrade(nc); err != nil {
						return
					}
					nc.SetReadDeadline(time.Now().Add(5 * time.Second))
					nc.Read(make([]byte, 1)) // until the client closes
				})
			}
		})
		return fmt.Sprintf("wss://%s/", ln.Addr())
	}
	url, other := serve(), serve()
	cfg, err := clientTLS(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ch := &child{cfg: childConfig{URL: url, Sources: []string{"127.0.0.1"}, DialTimeout: 5 * time.Second, Warmup: 1}, tls: cfg}
	dial := func(ch *child, u string) bool {
		t.Helper()
		c, err := dialClient(context.Background(), ch.dialer("127.0.0.1"), u)
		if err != nil {
			t.Fatal(err)
		}
		defer c.abort()
		return didResume(c)
	}
	if err := ch.warmUp(); err != nil {
		t.Fatal(err)
	}
	if !dial(ch, url) {
		t.Fatal("a connection after the warm-up did not resume")
	}
	fresh, err := clientTLS(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if dial(&child{cfg: ch.cfg, tls: fresh}, url) {
		t.Fatal("a process without a warm-up resumed")
	}
	// gobwas's dialer sets ServerName to the URL's host, the session
	// cache's key: both servers share one entry, as workers behind one
	// port do.
	dial(ch, url) // the cache's ticket is the first server's
	if dial(ch, other) {
		t.Fatal("resumed at a server with other ticket keys")
	}
}

// TestWSSFlags: wss:// runs connect-rate alone and needs -ca.
func TestWSSFlags(t *testing.T) {
	base := []string{"-url", "wss://127.0.0.1:1/", "-server-pid", "1"}
	if _, err := parseFlags(append(base, "-mode", "connect-rate", "-ca", "c.pem")); err != nil {
		t.Errorf("wss connect-rate with -ca: %v", err)
	}
	for _, extra := range [][]string{{"-mode", "connect-rate"}, {"-mode", "idle", "-ca", "c.pem"}} {
		if _, err := parseFlags(append(base, extra...)); err == nil || !strings.Contains(err.Error(), "wss://") {
			t.Errorf("%v: err = %v, want one naming wss://", extra, err)
		}
	}
}
