package e2e

import (
	"testing"
)

// sinceAnswer is /api/join's answer with since.
type sinceAnswer struct {
	OK        bool   `json:"ok"`
	Recovered bool   `json:"recovered"`
	Offset    uint64 `json:"offset"`
	Epoch     string `json:"epoch"`
}

// TestChatHistoryAPIJoin: a backend joins a connection to a room since a
// position through the HTTP API (/api/join with since) and learns the
// outcome once the replay was delivered: recovered true and the room's
// position; from a position of another epoch (a history lost), recovered
// false. The joined connection got the missed said messages before the
// answer came. A message published to a user is kept (the chat keeps its
// users' messages), answered with its position, and resumed by the
// user's connection coming back.
func TestChatHistoryAPIJoin(t *testing.T) {
	t.Parallel()
	admin := freeAddr(t)
	c := startCluster(t, clusterOpts{count: 2, app: "chat", extra: []string{"-admin-listen", admin, "-api-key-file", writeAPIKey(t, "hist-key")}})
	api := apiHost{t: t, addr: admin, key: "hist-key"}
	a := c.dial()
	_, j := a.joinHist("lobby", "alice", nil)
	a.say("lobby", "m", 3)
	seen := a.saidUntil("m3")

	x := c.dial()
	idX := c.owners([]*wsClient{x})[x].ID
	var got sinceAnswer
	api.mustPost("/api/join", map[string]any{"conn": idX, "room": "lobby",
		"since": map[string]any{"offset": *seen[0].Offset, "epoch": j.Epoch}}, &got)
	if !got.OK || !got.Recovered || got.Offset != *seen[2].Offset || got.Epoch != j.Epoch {
		t.Fatalf("join since m1: %+v, want recovered at %d in %s", got, *seen[2].Offset, j.Epoch)
	}
	checkSaid(t, x.saidUntil("m3"), texts("m", 2, 3), j.Epoch)

	// A position of a history that is gone: nothing replayed, recovered false.
	y := c.dial()
	idY := c.owners([]*wsClient{y})[y].ID
	got = sinceAnswer{}
	api.mustPost("/api/join", map[string]any{"conn": idY, "room": "lobby",
		"since": map[string]any{"offset": 1, "epoch": "gone-epoch"}}, &got)
	if !got.OK || got.Recovered || got.Epoch != j.Epoch {
		t.Fatalf("join since a lost position: %+v, want recovered false in %s", got, j.Epoch)
	}
	a.say("lobby", "live", 1)
	checkSaid(t, y.saidUntil("live1"), []string{"live1"}, j.Epoch)

	// Published to a user through the API: kept (the chat keeps
	// whispers), answered with its position, and resumed by a connection
	// that comes back after it.
	b := c.dial()
	_, box := b.joinInbox("bobroom", "bob", map[string]any{})
	b.close()
	var pub sinceAnswer
	api.mustPost("/api/publish", map[string]string{"user": "bob", "data": `{"type":"whisper","from":"shop","text":"order shipped"}`}, &pub)
	if !pub.OK || pub.Offset <= *box.Offset || pub.Epoch != j.Epoch {
		t.Fatalf("publish to bob: %+v, want a position after %d in %s", pub, *box.Offset, j.Epoch)
	}
	b = c.dial()
	ws, box2 := b.joinInbox("bobroom", "bob", map[string]any{"offset": *box.Offset, "epoch": box.Epoch})
	checkWhispers(t, ws, []string{"order shipped"}, j.Epoch)
	if *ws[0].Offset != pub.Offset || ws[0].From != "shop" || box2.Recovered == nil || !*box2.Recovered {
		t.Fatalf("resumed %+v, inbox %+v; want the API's message at %d, recovered", ws, box2, pub.Offset)
	}
}
