// Package webhook POSTs connection events to a backend over HTTP and
// decodes the commands in its answers: GatewayWorker's Events.php for any
// language (-webhook, issue 13). docs/webhook.md is the contract; keep the
// two in step.
//
// A [Client] is one worker's: it owns the HTTP client (keep-alive, no
// redirects, a 1 MiB bound on an answer), the bound on requests in flight
// (Options.Concurrency) and the rate-limited log of failures. [Client.Call]
// sends one event and waits for its answer: the worker calls it for an
// open, on the connection's handshake goroutine, before the connection
// reads its first message. A [Queue] is one connection's: its messages
// and its close go out in order, one at a time, on a goroutine that
// exists only while the queue has work; the Client waits for every such
// goroutine in [Client.Shutdown].
//
// Every request is given up Options.Timeout after it was sent (an open's,
// after it started waiting for a free slot); a failed event is logged (at most one line a
// second, with the count of lines left out) and counted. What a failure
// means for the connection is the caller's choice: the worker closes a
// connection whose open failed with 1011 and drops a failed message.
package webhook
