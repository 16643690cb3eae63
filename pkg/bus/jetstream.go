package bus

import "github.com/nats-io/nats.go"

// NATS is the client's NATS connection, for JetStream (package history).
// Publish and subscribe through the Client's methods.
func (c *Client) NATS() *nats.Conn { return c.nc }

// Prefix is the cluster's subject prefix (Options.Prefix).
func (c *Client) Prefix() string { return c.subj.prefix }

// HistorySubjects are the subjects of the cluster's room history (package
// history keeps it there), for a deny list: wildcards allowed.
func HistorySubjects(prefix string) string { return prefix + ".hist.>" }
