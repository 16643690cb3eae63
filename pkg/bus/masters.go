package bus

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// The masters' query: `master status -cluster` asks its own master, which
// publishes a request on <prefix>.masters.query; every master of the
// cluster answers it on the request's inbox, <prefix>.masters.reply.<random>
// (not _INBOX.: a backend may read _INBOX.> for its own requests, and so
// would learn the inbox and could answer in a master's name), and the asker
// gathers answers for a bounded window. Only the cluster's own accounts may
// publish on <prefix>.masters.> or see it: the embedded server denies the
// backend account both (see EmbeddedOptions.Deny and MastersSubjects).

// MaxMasterAnswers bounds how many answers a GatherMasters keeps: a
// cluster has a handful of hosts, so more are noise.
const MaxMasterAnswers = 1024

// MastersSubjects is the wildcard of the masters' queries and answers of
// the cluster with this prefix (DefaultPrefix when ""): what the backend
// account is denied.
func MastersSubjects(prefix string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return prefix + ".masters.>"
}

func (s subjects) mastersQuery() string { return s.prefix + ".masters.query" }
func (s subjects) mastersReply() string { return s.prefix + ".masters.reply." }

// ServeMasters answers the masters' queries with fn, which gets the query
// and returns this master's answer. fn runs on one goroutine, in order.
func (c *Client) ServeMasters(fn func(query []byte) []byte) (*Subscription, error) {
	return c.subscribeNATS(c.subj.mastersQuery(), func(nm *nats.Msg) {
		if nm.Reply == "" {
			return
		}
		if err := c.nc.Publish(nm.Reply, fn(nm.Data)); err != nil {
			c.log.Warn("masters' query answer", "err", err)
		}
	})
}

// GatherMasters publishes query to every master and collects answers until
// expect have come (0: no early end), ctx ends or window passes, keeping at
// most MaxMasterAnswers. A master that died meanwhile never answers; the
// caller sees who did.
func (c *Client) GatherMasters(ctx context.Context, query []byte, expect int, window time.Duration) ([][]byte, error) {
	inbox, sub, err := c.replyInbox()
	if err != nil {
		return nil, fmt.Errorf("bus: masters' query: %w", err)
	}
	defer sub.Unsubscribe()
	if err := c.nc.PublishRequest(c.subj.mastersQuery(), inbox, query); err != nil {
		return nil, fmt.Errorf("bus: masters' query: %w", err)
	}
	wait, cancel := context.WithTimeout(ctx, window)
	defer cancel()
	var out [][]byte
	for len(out) < MaxMasterAnswers && (expect <= 0 || len(out) < expect) {
		m, err := sub.NextMsgWithContext(wait)
		if err != nil {
			if ctx.Err() != nil {
				return out, fmt.Errorf("bus: masters' query: %w", ctx.Err())
			}
			return out, nil // the window closed: what came is the answer
		}
		out = append(out, m.Data)
	}
	return out, nil
}

// replyInbox subscribes to a new, unguessable subject under the masters'
// reply prefix (the only replies the bus's accounts let through) and
// returns it; the caller unsubscribes.
func (c *Client) replyInbox() (string, *nats.Subscription, error) {
	token, err := NewSecret()
	if err != nil {
		return "", nil, err
	}
	inbox := c.subj.mastersReply() + token
	sub, err := c.nc.SubscribeSync(inbox)
	if err != nil {
		return "", nil, err
	}
	return inbox, sub, nil
}
