package ctl

// OpTicketKeys, from the master to a worker, sets the TLS session ticket
// keys the worker's listener uses (args TicketKeys): the master's keys,
// the same on all its workers, so that a client resumes its TLS session
// on whichever worker its reconnect reaches. The master sends it after
// each rotation; a worker gets the keys current at its start in its
// Setup. A worker without TLS answers "no TLS".
const OpTicketKeys = "tls-ticket-keys"

// TicketKeys is the master's session ticket keys, newest first (it
// encrypts new tickets; the others still decrypt older ones), each
// certs.TicketKeySize bytes. Gen grows with each rotation: a worker
// ignores a list older than the one it has.
type TicketKeys struct {
	Gen  uint64   `json:"gen"`
	Keys [][]byte `json:"keys"`
}
