// Package testcert makes short-lived self-signed TLS certificates for tests:
// real files, as a user's would be, valid for 127.0.0.1, ::1 and localhost.
package testcert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// Pair is a certificate and key written to files.
type Pair struct {
	CertFile, KeyFile string
	// Pool trusts the certificate, for clients.
	Pool *x509.CertPool
	// Cert is the parsed certificate.
	Cert *x509.Certificate
}

// Write creates a self-signed certificate named cn in dir, as cert.pem and
// key.pem (overwriting what is there).
func Write(dir, cn string) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("testcert: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return Pair{}, fmt.Errorf("testcert: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return Pair{}, fmt.Errorf("testcert: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return Pair{}, fmt.Errorf("testcert: %w", err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return Pair{}, fmt.Errorf("testcert: %w", err)
	}
	p := Pair{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), Pool: x509.NewCertPool(), Cert: cert}
	p.Pool.AddCert(cert)
	// Write to temp files and rename, so a reader never sees half a file.
	for _, f := range []struct {
		path string
		b    *pem.Block
	}{{p.CertFile, &pem.Block{Type: "CERTIFICATE", Bytes: der}}, {p.KeyFile, &pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, pem.EncodeToMemory(f.b), 0o600); err != nil {
			return Pair{}, fmt.Errorf("testcert: %w", err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			return Pair{}, fmt.Errorf("testcert: %w", err)
		}
	}
	return p, nil
}
