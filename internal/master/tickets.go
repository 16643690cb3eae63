package master

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wsfleet/wsfleet/internal/certs"
	"github.com/wsfleet/wsfleet/internal/ctl"
)

// ticketRotation is how often the master replaces its TLS session ticket
// keys. A ticket resumes until the second rotation after it was issued,
// so between 12 and 24 hours; crypto/tls's own limit is 7 days. A
// constant: no user has asked for another period, and a shorter one
// only makes clients do full handshakes more often.
const ticketRotation = 12 * time.Hour

// newTicketRing makes the master's session ticket keys when the workers
// serve TLS (nil otherwise). They are made at start, from crypto/rand,
// and kept in memory only: they reach the workers in their Setup (a
// private pipe) and over their control connections, never a file, argv,
// the environment or the bus.
func (m *Master) newTicketRing() error {
	if m.opts.TLSCert == "" {
		return nil
	}
	r, err := certs.NewRing()
	if err != nil {
		return fmt.Errorf("master: %w", err)
	}
	m.tickets = r
	return nil
}

// ticketKeys is the current list for a worker's Setup.
func (m *Master) ticketKeys() ctl.TicketKeys {
	if m.tickets == nil {
		return ctl.TicketKeys{}
	}
	gen, keys := m.tickets.Keys()
	return ctl.TicketKeys{Gen: gen, Keys: keys}
}

// catchUpTicketKeys sends the current keys to a worker that has just
// started, when a rotation happened after its Setup was made: the
// rotation's push may have missed it, not yet in the table.
func (m *Master) catchUpTicketKeys(ctx context.Context, p process, setupGen uint64) error {
	if m.tickets == nil {
		return nil
	}
	k := m.ticketKeys()
	if k.Gen == setupGen {
		return nil
	}
	return pushTicketKeys(ctx, p, k)
}

// pushTicketKeys sends k to one worker.
func pushTicketKeys(ctx context.Context, p process, k ctl.TicketKeys) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return p.Call(ctx, ctl.OpTicketKeys, k, nil)
}

// rotateTickets replaces the keys every ticketRotation until ctx ends.
func (m *Master) rotateTickets(ctx context.Context) {
	if m.tickets == nil {
		return
	}
	m.wg.Go(func() {
		t := time.NewTicker(ticketRotation)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := m.RotateTicketKeys(ctx); err != nil {
					m.log.Error("TLS session ticket keys", "err", err)
				}
			case <-ctx.Done():
				return
			}
		}
	})
}

// RotateTicketKeys makes a new session ticket key and sends every worker
// [new, previous]: tickets issued before still resume, those issued
// before the rotation ahead of this one no longer do.
func (m *Master) RotateTicketKeys(ctx context.Context) error {
	if m.tickets == nil {
		return errors.New("master: no -tls-cert, no session tickets")
	}
	if err := m.tickets.Rotate(); err != nil {
		return err
	}
	k := m.ticketKeys()
	var errs []error
	for _, r := range m.children() {
		if r.proc == nil {
			continue
		}
		if err := pushTicketKeys(ctx, r.proc, k); err != nil {
			errs = append(errs, fmt.Errorf("worker %d (pid %d): %w", r.slot, r.pid, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("master: rotate session ticket keys: %w", err)
	}
	m.log.Info("TLS session ticket keys rotated", "generation", k.Gen)
	return nil
}
