package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestChatHistoryResume: a client leaves a room with history, 20 messages
// are said meanwhile, and it comes back on another worker since the last
// position it saw: it gets exactly those 20, in order, then joined with
// recovered true, then the live ones; messages said during the resume are
// neither lost nor repeated at the seam.
func TestChatHistoryResume(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	a := c.dial()
	_, j := a.joinHist("lobby", "alice", nil)
	if j.Offset == nil || j.Epoch == "" || j.Recovered != nil {
		t.Fatalf("joined to the joiner: %+v, want offset and epoch, no recovered", j)
	}
	epoch := j.Epoch
	b := c.dial()
	b.joinHist("lobby", "bob", nil)
	b.say("lobby", "m", 3)
	seen := a.saidUntil("m3")
	checkSaid(t, seen, texts("m", 1, 3), epoch)
	last := histSince{Offset: *seen[2].Offset, Epoch: epoch}
	pid := c.owners([]*wsClient{a})[a].WorkerPID
	a.close()

	b.say("lobby", "x", 20)
	b.saidUntil("x20") // all kept before the resume

	a2 := c.dialOtherWorker(pid)
	during := b.sayAsync("lobby", "y", 30) // live traffic across the seam
	replayed, j2 := a2.joinHist("lobby", "alice", &last)
	if j2.Recovered == nil || !*j2.Recovered {
		t.Fatalf("joined after the replay: %+v, want recovered true", j2)
	}
	if j2.Epoch != epoch || j2.Offset == nil {
		t.Fatalf("joined after the replay: %+v, want epoch %s and an offset", j2, epoch)
	}
	if err := <-during; err != nil {
		t.Fatal(err)
	}
	live := a2.saidUntil("y30")
	all := append(replayed, live...)
	checkSaid(t, all, append(texts("x", 1, 20), texts("y", 1, 30)...), epoch)
	if len(replayed) < 20 {
		t.Fatalf("replayed %d messages, want the 20 missed and maybe some of the live ones", len(replayed))
	}
	for _, m := range live {
		if *m.Offset <= *j2.Offset {
			t.Fatalf("live said %q at %d, not after joined's %d", m.Text, *m.Offset, *j2.Offset)
		}
	}
}

// TestChatHistoryLost: a resume the history cannot complete says so:
// messages dropped by the room's count limit, and a position of another
// epoch, answer recovered false; the first still gets what is kept, the
// second nothing.
func TestChatHistoryLost(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2, app: "chat", extra: []string{"-history", "small*=5,1h;*=100,1h"}})
	a := c.dial()
	_, j := a.joinHist("small-1", "alice", nil)
	b := c.dial()
	b.joinHist("small-1", "bob", nil)
	b.say("small-1", "m", 1)
	m1 := a.saidUntil("m1")[0]
	a.close()
	b.say("small-1", "x", 10)
	b.saidUntil("x10")

	a2 := c.dial()
	got, j2 := a2.joinHist("small-1", "alice", &histSince{Offset: *m1.Offset, Epoch: j.Epoch})
	if j2.Recovered == nil || *j2.Recovered {
		t.Fatalf("after 10 messages in a room keeping 5: %+v, want recovered false", j2)
	}
	checkSaid(t, got, texts("x", 6, 10), j.Epoch) // what is kept, presented as incomplete

	a3 := c.dial()
	got, j3 := a3.joinHist("small-1", "alice", &histSince{Offset: *m1.Offset, Epoch: "not-" + j.Epoch})
	if j3.Recovered == nil || *j3.Recovered || len(got) != 0 {
		t.Fatalf("since another epoch: %d replayed, %+v; want none and recovered false", len(got), j3)
	}

	// Within the limit, a resume is complete.
	a4 := c.dial()
	a4.joinHist("small-1", "carol", nil)
	b.say("small-1", "z", 3)
	zs := a4.saidUntil("z3")
	a4.close()
	a5 := c.dial()
	got, j5 := a5.joinHist("small-1", "carol", &histSince{Offset: *zs[0].Offset, Epoch: j.Epoch})
	if j5.Recovered == nil || !*j5.Recovered {
		t.Fatalf("2 messages after a kept one: %+v, want recovered true", j5)
	}
	checkSaid(t, got, texts("z", 2, 3), j.Epoch)
}

// TestChatHistoryNoJetStream: with an external NATS without JetStream,
// chat works live (said without offset), and a join since a position
// answers recovered false at once.
func TestChatHistoryNoJetStream(t *testing.T) {
	t.Parallel()
	n := startNATS(t)
	c := startCluster(t, clusterOpts{count: 2, app: "chat", nats: n.url()})
	a := c.dial()
	_, j := a.joinHist("lobby", "alice", nil)
	if j.Offset != nil || j.Epoch != "" {
		t.Fatalf("joined without JetStream: %+v, want no position", j)
	}
	b := c.dial()
	start := time.Now()
	_, jb := b.joinHist("lobby", "bob", &histSince{Offset: 7, Epoch: "e"})
	if jb.Recovered == nil || *jb.Recovered {
		t.Fatalf("since without JetStream: %+v, want recovered false", jb)
	}
	t.Logf("join since without JetStream answered in %s", time.Since(start))
	b.say("lobby", "m", 2)
	got := a.saidUntil("m2")
	if len(got) != 2 || got[0].Offset != nil || got[1].Offset != nil {
		t.Fatalf("said without JetStream: %+v, want 2 without offset", got)
	}
}

// TestChatHistoryAcrossRestart: the embedded NATS keeps the history in the
// data dir (default: beside the pid file), so a client resumes across a
// `restart` of the cluster: same epoch, nothing missing.
func TestChatHistoryAcrossRestart(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	a := c.dial()
	_, j := a.joinHist("lobby", "alice", nil)
	b := c.dial()
	b.joinHist("lobby", "bob", nil)
	b.say("lobby", "m", 3)
	seen := a.saidUntil("m3")
	last := histSince{Offset: *seen[2].Offset, Epoch: j.Epoch}
	a.close()
	if fi, err := os.Stat(filepath.Join(c.dir, "data")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the data dir beside the pid file: %v, mode %v; want mode 0700", err, fi)
	}

	before := c.status()
	c.runBackground("restart", "-pid-file", c.pidFile)
	b.expectClose(20*time.Second, statusGoingAway, statusServiceRestart)
	if code := c.waitFgExit(20 * time.Second); code != 0 {
		t.Errorf("the old foreground master exited %d on restart, want 0", code)
	}
	waitFor(t, readyTimeout, func() error {
		s, err := c.tryStatus()
		if err != nil {
			return err
		}
		if s.Master.PID == before.Master.PID {
			return fmt.Errorf("master pid still %d", s.Master.PID)
		}
		return allRunning(s, c.opts.count)
	})

	b2 := c.dial()
	_, jb := b2.joinHist("lobby", "bob", nil)
	if jb.Epoch != j.Epoch || jb.Offset == nil || *jb.Offset != last.Offset {
		t.Fatalf("after restart the room is at %v epoch %q, want %d epoch %q", jb.Offset, jb.Epoch, last.Offset, j.Epoch)
	}
	b2.say("lobby", "x", 5)
	b2.saidUntil("x5")
	a2 := c.dial()
	got, j2 := a2.joinHist("lobby", "alice", &last)
	if j2.Recovered == nil || !*j2.Recovered {
		t.Fatalf("resume across restart: %+v, want recovered true", j2)
	}
	checkSaid(t, got, texts("x", 1, 5), j.Epoch)
}

// TestChatHistoryOrder: two senders on different workers say at once; a
// member gets every message once, in offset order (each worker follows the
// room's history in order, whatever order the senders' copies arrive in).
func TestChatHistoryOrder(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	r := c.dial()
	r.joinHist("lobby", "reader", nil)
	s1 := c.dial()
	s2 := c.dialOtherWorker(c.owners([]*wsClient{s1})[s1].WorkerPID)
	s1.joinHist("lobby", "s1", nil)
	s2.joinHist("lobby", "s2", nil)
	d1, d2 := s1.sayAsync("lobby", "a", 100), s2.sayAsync("lobby", "b", 100)
	if err := <-d1; err != nil {
		t.Fatal(err)
	}
	if err := <-d2; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var prev uint64
	for len(seen) < 200 {
		m := r.nextHist()
		if m.Type != "said" {
			continue
		}
		if m.Offset == nil || *m.Offset <= prev || seen[m.Text] {
			t.Fatalf("said %q at %v after %d (seen before: %v)", m.Text, m.Offset, prev, seen[m.Text])
		}
		prev, seen[m.Text] = *m.Offset, true
	}
}

// TestChatHistoryReplayBound: a replay is bounded in bytes (half the
// default send buffer): resuming before 40 messages of 16 KB gets the
// newest that fit, recovered false, and the connection stays.
func TestChatHistoryReplayBound(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 1, app: "chat"})
	a := c.dial()
	_, j := a.joinHist("big", "alice", nil)
	a.say("big", "m", 1)
	m1 := a.saidUntil("m1")[0]
	a.close()
	b := c.dial()
	b.joinHist("big", "bob", nil)
	big := strings.Repeat("😀", 4000) // 16 KB of UTF-8
	for i := 1; i <= 40; i++ {
		b.sendHist(histMsg{Type: "say", Room: "big", Text: fmt.Sprintf("x%d %s", i, big)})
		for b.nextHist().Type != "said" {
		}
	}
	a2 := c.dial()
	got, j2 := a2.joinHist("big", "alice", &histSince{Offset: *m1.Offset, Epoch: j.Epoch})
	if j2.Recovered == nil || *j2.Recovered {
		t.Fatalf("replay past its bound: %+v, want recovered false", j2)
	}
	size := 0
	for _, m := range got {
		size += len(m.Text)
	}
	if len(got) == 0 {
		t.Fatal("replayed nothing; want the newest messages that fit")
	}
	if len(got) >= 40 || size > 512<<10 || !strings.HasPrefix(got[len(got)-1].Text, "x40 ") {
		t.Fatalf("replayed %d messages, %d bytes of text, last %.8q; want the newest that fit in 512 KiB", len(got), size, got[len(got)-1].Text)
	}
	a2.sendHist(histMsg{Type: "say", Room: "big", Text: "still here"})
	a2.saidUntil("still here")
}

// TestChatHistoryAcrossReload: `reload` replaces every worker (their
// clients are closed with 1012); a client resumes on the new ones with
// nothing missing.
func TestChatHistoryAcrossReload(t *testing.T) {
	t.Parallel()
	// Clients that reconnect: the drain path (-handoff would move them).
	c := startCluster(t, clusterOpts{count: 2, app: "chat", grace: 2 * time.Second, extra: []string{"-handoff=false"}})
	a := c.dial()
	_, j := a.joinHist("lobby", "alice", nil)
	a.say("lobby", "m", 3)
	seen := a.saidUntil("m3")
	c.mustCLI("reload")
	a.expectClose(20*time.Second, statusGoingAway, statusServiceRestart)

	b := c.dial()
	b.joinHist("lobby", "bob", nil)
	b.say("lobby", "x", 5)
	b.saidUntil("x5")
	a2 := c.dial()
	got, j2 := a2.joinHist("lobby", "alice", &histSince{Offset: *seen[2].Offset, Epoch: j.Epoch})
	if j2.Recovered == nil || !*j2.Recovered {
		t.Fatalf("resume across reload: %+v, want recovered true", j2)
	}
	checkSaid(t, got, texts("x", 1, 5), j.Epoch)
}
