package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/internal/testcert"
)

// wss:// connects (issue 16): the clients speak TLS 1.3 only and trust the
// benchmark's throwaway certificate (-ca), no InsecureSkipVerify. Each
// client process has one session cache that all its connections share, so
// a reconnect to a server that issued the process a ticket resumes the
// session instead of a full handshake. The cache is filled before the timed
// connections: warmUp opens and closes -tls-warmup connections one at a
// time (a TLS 1.3 server sends its tickets with its first flight, so the
// client has one once the WebSocket handshake's answer is read). The timed
// storm then resumes whatever the servers accept: a server whose processes
// share no ticket keys resumes only the tickets it issued itself.

// isWSS says whether url is a wss:// one.
func isWSS(url string) bool { return strings.HasPrefix(url, "wss://") }

// clientTLS is a client process's TLS configuration: TLS 1.3, the
// certificate in caFile trusted as the only root, one shared session cache.
func clientTLS(caFile string) (*tls.Config, error) {
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("loadgen: -ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		return nil, fmt.Errorf("loadgen: -ca %s: no PEM certificate in it", caFile)
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		RootCAs:            pool,
		ClientSessionCache: tls.NewLRUClientSessionCache(64),
	}, nil
}

// didResume says whether c's TLS handshake resumed a session.
func didResume(c *client) bool {
	tc, ok := c.nc.(*tls.Conn)
	return ok && tc.ConnectionState().DidResume
}

// dialer is a dialer from source address src, speaking TLS for wss://.
func (ch *child) dialer(src string) ws.Dialer {
	d := dialer(net.ParseIP(src), ch.cfg.DialTimeout)
	d.TLSConfig = ch.tls
	return d
}

// warmUp opens cfg.Warmup connections one after the other from the first
// source address and closes each: their tickets fill the session cache
// before the timed connections. It runs before the child reports ready,
// outside every measured window.
func (ch *child) warmUp() error {
	if ch.tls == nil || ch.cfg.Warmup <= 0 || len(ch.cfg.Sources) == 0 {
		return nil
	}
	d := ch.dialer(ch.cfg.Sources[0])
	for i := range ch.cfg.Warmup {
		c, err := dialClient(context.Background(), d, ch.cfg.URL)
		if err != nil {
			return fmt.Errorf("loadgen: TLS warm-up connection %d: %w", i+1, err)
		}
		c.abort()
	}
	return nil
}

// genCert writes a throwaway self-signed certificate for 127.0.0.1 (its
// own CA, valid a day) and its key to dir/cert.pem and dir/key.pem, for
// the wss:// phase: loadgen gencert DIR. It is the tests' certificate
// (internal/testcert).
func genCert(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("loadgen gencert: %w", err)
	}
	if _, err := testcert.Write(dir, "wsfleet bench"); err != nil {
		return fmt.Errorf("loadgen gencert: %w", err)
	}
	return nil
}
