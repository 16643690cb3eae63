package bus

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"time"
)

// newPublisherID is a client's random publisher id: 12 characters of
// base64url (72 bits), unique among the clients of a cluster.
func newPublisherID() (string, error) {
	var b [9]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("bus: publisher id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// seqValue is HeaderSeq's value for publisher pub's message seq, built in
// one allocation.
func seqValue(pub string, seq uint64) string {
	var a [MaxPublisher + 1 + 20]byte
	b := append(a[:0], pub...)
	b = append(b, ':')
	b = strconv.AppendUint(b, seq, 10)
	return string(b)
}

// Settle returns once every message the NATS server had sent this client
// when it was called has been through its subscription's handler, on
// every subscription of the client (or ctx ends, or 5s pass): a flush,
// then a barrier behind each subscription's queue (nats.Conn.Barrier).
func (c *Client) Settle(ctx context.Context) error {
	if err := c.Flush(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	done := make(chan struct{})
	if err := c.nc.Barrier(func() { close(done) }); err != nil {
		return fmt.Errorf("bus: settle: %w", err)
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("bus: settle: %w", ctx.Err())
	}
}
