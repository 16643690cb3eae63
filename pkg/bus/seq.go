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

// SettleWait bounds Settle. A worker seconds behind on its broadcasts (a
// tick to 50k connections on two busy cores took up to 3.9 s in the
// reload benchmark) settles only once it has caught up: with 5 s, the
// hand-off of such a worker failed and its connections drained with 1012.
// The hand-off's own bound (60 s per worker) still holds.
const SettleWait = 30 * time.Second

// Settle returns once every message the NATS server had sent this client
// when it was called has been through its subscription's handler, on
// every subscription of the client (or ctx ends, or SettleWait passes): a
// flush, then a barrier behind each subscription's queue
// (nats.Conn.Barrier).
func (c *Client) Settle(ctx context.Context) error {
	if err := c.Flush(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, SettleWait)
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
