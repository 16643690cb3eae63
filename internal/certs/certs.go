// Package certs keeps a worker's TLS certificate and swaps it for a new one
// read from the same files without a restart: connections already open keep
// the certificate they were made with, new ones get the new one.
package certs

import (
	"crypto/tls"
	"fmt"
	"sync"
	"sync/atomic"
)

// Store holds the current certificate of a cert/key file pair. It is safe
// for concurrent use.
type Store struct {
	certFile, keyFile string
	cur               atomic.Pointer[tls.Certificate]
	conf              *tls.Config // made once: its session ticket keys are set on it (tickets.go)

	ticketMu  sync.Mutex
	ticketGen uint64 // of the keys set last; 0: none
}

// Load reads the pair once and returns a Store serving it.
func Load(certFile, keyFile string) (*Store, error) {
	s := &Store{certFile: certFile, keyFile: keyFile}
	s.conf = &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cur.Load(), nil
		},
	}
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

// Config returns the server configuration (TLS 1.2 and newer) that always
// presents the current certificate. It is the same configuration at every
// call, so that the session ticket keys set later (SetTicketKeys) apply
// to the handshakes of whoever serves it.
func (s *Store) Config() *tls.Config { return s.conf }
