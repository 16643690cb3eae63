package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// natsConnect connects a test's own NATS client (a spy, a backend) to url
// and returns once it is connected; the connection closes with the test.
// Like bus.Connect, it tries again when the server cuts the handshake
// short: NATS closes a connection whose CONNECT is later than its 2 s
// authentication timeout, which CI's loaded machine, running many race-built
// clients in this process, has made happen. A client that can never
// connect (a wrong password) fails the test after 30 s with NATS's error.
func natsConnect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, append(opts,
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))...)
	if err != nil {
		t.Fatalf("connect to NATS at %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	waitFor(t, 30*time.Second, func() error {
		if nc.IsConnected() {
			return nil
		}
		return fmt.Errorf("NATS at %s: not connected yet (last error: %v)", url, nc.LastError())
	})
	return nc
}
