package certs

import (
	"crypto/tls"
	"os"
	"testing"

	"github.com/wsfleet/wsfleet/internal/testcert"
)

// writePair writes a self-signed certificate for 127.0.0.1 named cn.
func writePair(t *testing.T, dir, cn string) (string, string) {
	t.Helper()
	p, err := testcert.Write(dir, cn)
	if err != nil {
		t.Fatal(err)
	}
	return p.CertFile, p.KeyFile
}

func TestReloadSwapsForNewHandshakesOnly(t *testing.T) {
	dir := t.TempDir()
	cert, key := writePair(t, dir, "first")
	s, err := Load(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Read(make([]byte, 1)); c.Close() }()
		}
	}()
	cn := func() (string, *tls.Conn) {
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		return c.ConnectionState().PeerCertificates[0].Subject.CommonName, c
	}
	first, old := cn()
	defer old.Close()
	writePair(t, dir, "second")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	second, c2 := cn()
	c2.Close()
	if first != "first" || second != "second" {
		t.Fatalf("before %q after %q", first, second)
	}
	if old.ConnectionState().PeerCertificates[0].Subject.CommonName != "first" {
		t.Fatal("old connection changed certificate")
	}
	os.WriteFile(cert, []byte("garbage"), 0o600)
	if err := s.Reload(); err == nil {
		t.Fatal("reload of a broken file succeeded")
	}
	if got, c3 := cn(); got != "second" {
		t.Fatalf("after a failed reload: %q", got)
	} else {
		c3.Close()
	}
	_, err = tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
}
