// Package certs keeps a worker's TLS certificate and swaps it for a new one
// read from the same files without a restart: connections already open keep
// the certificate they were made with, new ones get the new one.
package certs

import (
	"crypto/tls"
	"fmt"
	"sync/atomic"
)

// Store holds the current certificate of a cert/key file pair. It is safe
// for concurrent use.
type Store struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
}

// Load reads the pair once and returns a Store serving it.
func Load(certFile, keyFile string) (*Store, error) {
	s := &Store{certFile: certFile, keyFile: keyFile}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the files again. On error the current certificate stays.
func (s *Store) Reload() error {
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("certs: load %s and %s: %w", s.certFile, s.keyFile, err)
	}
	s.cur.Store(&c)
	return nil
}

// Config returns a server configuration (TLS 1.2 and newer) that always
// presents the current certificate.
func (s *Store) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cur.Load(), nil
		},
	}
}
