package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestChatHistoryBackendJoin: a backend joins a connection to a room
// since a position (Wsfleet-Join with Wsfleet-Since, docs/backend.md): it
// gets the kept messages after it, as the chat formats them, then the live
// ones; sent as a NATS request, it answers the outcome. The backend
// account may not touch the history stream itself.
func TestChatHistoryBackendJoin(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	a := c.dial()
	_, j := a.joinHist("lobby", "alice", nil)
	a.say("lobby", "m", 3)
	seen := a.saidUntil("m3")

	x := c.dial()
	row := c.owners([]*wsClient{x})[x]
	node := row.ID[:strings.LastIndex(row.ID[:strings.LastIndex(row.ID, "-")], "-")]
	nc := natsConnect(t, c.status().Master.NATSURL)
	if _, err := nc.Request("$JS.API.STREAM.NAMES", nil, time.Second); err == nil {
		t.Error("the backend account reached the JetStream API")
	}
	cmd := &nats.Msg{Subject: fmt.Sprintf("wsfleet.conn.%s.%d", node, row.WorkerPID), Header: nats.Header{
		"Wsfleet-Conn": {row.ID}, "Wsfleet-Join": {"lobby"},
		"Wsfleet-Since": {fmt.Sprintf("%d:%s", *seen[0].Offset, j.Epoch)},
	}}
	// Sent as a request, the command is answered once the replay was
	// delivered, with the outcome.
	ans, err := nc.RequestMsg(cmd, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Recovered bool   `json:"recovered"`
		Offset    uint64 `json:"offset"`
		Epoch     string `json:"epoch"`
	}
	if err := json.Unmarshal(ans.Data, &out); err != nil || !out.Recovered || out.Offset != *seen[2].Offset || out.Epoch != j.Epoch {
		t.Fatalf("answer %s (%v), want recovered at %d in %s", ans.Data, err, *seen[2].Offset, j.Epoch)
	}
	got := x.saidUntil("m3")
	checkSaid(t, got, texts("m", 2, 3), j.Epoch)
	// Joined now: the live ones follow.
	a.say("lobby", "live", 1)
	checkSaid(t, x.saidUntil("live1"), []string{"live1"}, j.Epoch)
}
