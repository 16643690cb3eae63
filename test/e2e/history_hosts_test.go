package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestChatHistoryTwoHosts: two masters routed to each other (two hosts on
// loopback), their embedded NATS servers forming one JetStream cluster: a
// client that said goodbye on one host resumes on the other with nothing
// missing, and members of both hosts get the kept messages in order.
func TestChatHistoryTwoHosts(t *testing.T) {
	t.Parallel()
	routes := newRouteCA(t)
	r1, r2 := freeAddr(t), freeAddr(t)
	rs := "nats://" + r1 + ",nats://" + r2
	creds := routes.flags("127.0.0.1")
	h1 := startCluster(t, clusterOpts{count: 1, app: "chat", extra: append([]string{"-node", "h1", "-cluster-listen", r1, "-routes", rs}, creds...)})
	h2 := startCluster(t, clusterOpts{count: 1, app: "chat", extra: append([]string{"-node", "h2", "-cluster-listen", r2, "-routes", rs}, creds...)})

	// Each host's worker opens the history once the JetStream cluster
	// has a leader, a few seconds after the routes formed.
	for _, h := range []*cluster{h1, h2} {
		waitFor(t, 30*time.Second, func() error {
			p := h.dial()
			defer p.close()
			if _, j := p.joinHist("probe", "probe", nil); j.Epoch == "" {
				return fmt.Errorf("no history yet on %s", h.addr)
			}
			return nil
		})
	}
	a := h1.dial()
	_, j := a.joinHist("lobby", "alice", nil)
	if j.Epoch == "" {
		t.Fatalf("joined on host 1: %+v, want a position", j)
	}
	b := h2.dial()
	_, jb := b.joinHist("lobby", "bob", nil)
	if jb.Epoch != j.Epoch {
		t.Fatalf("host 2's epoch %q, host 1's %q: not one history", jb.Epoch, j.Epoch)
	}
	b.say("lobby", "m", 3)
	seen := a.saidUntil("m3")
	checkSaid(t, seen, texts("m", 1, 3), j.Epoch)
	a.close()
	b.say("lobby", "x", 10)
	b.saidUntil("x10")

	a2 := h2.dial()
	got, j2 := a2.joinHist("lobby", "alice", &histSince{Offset: *seen[2].Offset, Epoch: j.Epoch})
	if j2.Recovered == nil || !*j2.Recovered {
		t.Fatalf("resume on the other host: %+v, want recovered true", j2)
	}
	checkSaid(t, got, texts("x", 1, 10), j.Epoch)
}
