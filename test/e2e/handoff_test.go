package e2e

import (
	"fmt"
	"testing"
	"time"
)

// TestReloadHandoffEcho: with -handoff, `reload` moves every live
// connection to its slot's new worker: no client is closed, each keeps its
// id (now served by a new pid), and each is answered after the reload.
func TestReloadHandoffEcho(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2, extra: []string{"-handoff"}})
	before := c.status()
	clients := c.dialN(40)
	for _, cl := range clients {
		if err := cl.roundTrip("before"); err != nil {
			t.Fatal(err)
		}
	}
	ids := c.owners(clients)
	c.mustCLI("reload")
	waitReplaced(t, c, before, 60*time.Second)
	for i, cl := range clients {
		if err := cl.roundTrip(fmt.Sprintf("after %d", i)); err != nil {
			t.Fatalf("client %d after the reload: %v", i, err)
		}
	}
	after := c.owners(clients)
	for _, cl := range clients {
		was, now := ids[cl], after[cl]
		if was.ID != now.ID {
			t.Errorf("client %s: id %s became %s", cl.local, was.ID, now.ID)
		}
		if was.WorkerPID == now.WorkerPID {
			t.Errorf("client %s: still on worker %d", cl.local, now.WorkerPID)
		}
	}
}
