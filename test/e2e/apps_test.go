package e2e

import (
	"encoding/json"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// pushReply is the push app's answer to every message.
const pushReply = "服務器已經收到了你的消息"

// pushText is what the push app sends every -push-interval.
const pushText = "你好!"

// TestSpreadAndApps: 200 connections to 4 workers land on every worker, and
// each built-in app answers every message exactly as specified.
func TestSpreadAndApps(t *testing.T) {
	t.Parallel()
	t.Run("echo", func(t *testing.T) {
		t.Parallel()
		c := startCluster(t, clusterOpts{count: 4, app: "echo"})
		clients := c.dialN(200)
		checkSpread(t, c, clients)
		for i, cl := range clients {
			cl.send(fmt.Sprintf("x-%d", i))
			cl.sendBinary([]byte{0, 1, 0xff, byte(i)})
		}
		// Text answers text, binary answers binary, in order and nothing
		// else in between: each reply is the next message.
		for i, cl := range clients {
			cl.expect(fmt.Sprintf("hello x-%d", i))
			cl.expectBinary(append([]byte("hello "), 0, 1, 0xff, byte(i)))
		}
		waitFor(t, 10*time.Second, func() error {
			st, err := c.tryStatus()
			if err != nil {
				return err
			}
			if st.Summary.MessagesIn < 400 || st.Summary.MessagesOut < 400 {
				return fmt.Errorf("summary counts %d in, %d out; want at least 400 each", st.Summary.MessagesIn, st.Summary.MessagesOut)
			}
			return nil
		})
	})
	t.Run("push", func(t *testing.T) {
		t.Parallel()
		// A long interval keeps the timer's pushes out of the replies.
		c := startCluster(t, clusterOpts{count: 4, app: "push", pushInterval: time.Hour})
		clients := c.dialN(200)
		checkSpread(t, c, clients)
		for i, cl := range clients {
			cl.send(fmt.Sprintf("x-%d", i))
			cl.send("second")
		}
		for _, cl := range clients {
			cl.expect(pushReply)
			cl.expect(pushReply)
		}
	})
}

// checkSpread checks that every worker holds some of clients, that
// `connections -json` names the worker's real pid, and that the status
// counts agree.
func checkSpread(t *testing.T, c *cluster, clients []*wsClient) {
	t.Helper()
	owners := c.owners(clients)
	st := c.status()
	pidOf := make(map[int]int)
	for _, w := range st.Workers {
		pidOf[w.Slot] = w.PID
	}
	perSlot := make(map[int]int)
	for cl, o := range owners {
		perSlot[o.WorkerSlot]++
		if pidOf[o.WorkerSlot] != o.WorkerPID {
			t.Errorf("client %s: connections says slot %d pid %d, status says slot %d is pid %d",
				cl.local, o.WorkerSlot, o.WorkerPID, o.WorkerSlot, pidOf[o.WorkerSlot])
		}
	}
	for s := 0; s < c.opts.count; s++ {
		if perSlot[s] == 0 {
			t.Errorf("worker slot %d holds none of %d connections: %v", s, len(clients), perSlot)
		}
	}
	t.Logf("connections per worker slot: %v", perSlot)
	waitFor(t, 10*time.Second, func() error {
		st, err := c.tryStatus()
		if err != nil {
			return err
		}
		if st.Summary.Connections != len(clients) {
			return fmt.Errorf("summary shows %d connections, want %d", st.Summary.Connections, len(clients))
		}
		for _, w := range st.Workers {
			if w.Connections != perSlot[w.Slot] {
				return fmt.Errorf("status: slot %d has %d connections, connections -json lists %d", w.Slot, w.Connections, perSlot[w.Slot])
			}
		}
		return nil
	})
}

// TestKillWorker: after `kill -9` of one worker the master starts a
// replacement in the same slot; the killed worker's clients are cut off,
// every other client keeps its connection and its answers.
func TestKillWorker(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 4, app: "echo"})
	clients := c.dialN(40)
	owners := c.owners(clients)
	before := c.status()
	victim := before.Workers[0]
	for _, w := range before.Workers {
		if w.Slot == owners[clients[0]].WorkerSlot {
			victim = w
		}
	}
	if err := syscall.Kill(victim.PID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", victim.PID, err)
	}

	// The killed worker's clients: their reads end (no close frame can come
	// from a killed process, so only the end of the connection counts).
	for cl, o := range owners {
		if o.WorkerPID == victim.PID {
			cl.expectEOF(expectTimeout)
		}
	}
	var replacement workerJSON
	waitFor(t, 20*time.Second, func() error {
		st, err := c.tryStatus()
		if err != nil {
			return err
		}
		if err := allRunning(st, 4); err != nil {
			return err
		}
		for _, w := range st.Workers {
			old := before.Workers[indexOfSlot(before, w.Slot)]
			switch {
			case w.Slot == victim.Slot && (w.PID == victim.PID || w.Restarts != victim.Restarts+1):
				return fmt.Errorf("slot %d: pid %d restarts %d; want a new pid and restarts %d", w.Slot, w.PID, w.Restarts, victim.Restarts+1)
			case w.Slot != victim.Slot && (w.PID != old.PID || w.Restarts != old.Restarts):
				return fmt.Errorf("slot %d changed too: pid %d→%d, restarts %d→%d", w.Slot, old.PID, w.PID, old.Restarts, w.Restarts)
			case w.Slot == victim.Slot:
				replacement = w
			}
		}
		return nil
	})
	if processAlive(victim.PID) {
		t.Errorf("killed worker %d still alive", victim.PID)
	}
	for cl, o := range owners {
		if o.WorkerPID != victim.PID {
			if err := cl.roundTrip("still there"); err != nil {
				t.Errorf("client of surviving worker %d: %v", o.WorkerPID, err)
			}
		}
	}
	// The replacement accepts: some of 40 new clients land on it.
	fresh := c.dialN(40)
	onReplacement := 0
	for cl, o := range c.owners(fresh) {
		if err := cl.roundTrip("new"); err != nil {
			t.Error(err)
		}
		if o.WorkerPID == replacement.PID {
			onReplacement++
		}
	}
	if onReplacement == 0 {
		t.Errorf("none of 40 new connections reached the replacement worker %d", replacement.PID)
	}
}

// indexOfSlot returns the index in st.Workers of the worker in slot.
func indexOfSlot(st *statusJSON, slot int) int {
	for i, w := range st.Workers {
		if w.Slot == slot {
			return i
		}
	}
	return 0
}

// TestBusyWorker: a worker that cannot answer (stopped with SIGSTOP) shows
// as busy, without holding up `status`, which names it and exits 1; once
// resumed (before the master's 5 s heartbeat bound) it is running again.
func TestBusyWorker(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 2})
	frozen := c.status().Workers[0]
	resume := freezeWorker(t, frozen.PID)
	start := time.Now()
	out, errOut, code := c.cli("status", "-json")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("status took %s with a stopped worker", d)
	}
	resume()
	if code != 1 {
		t.Errorf("status with a stopped worker exited %d, want 1", code)
	}
	mustContain(t, "status's stderr", errOut, fmt.Sprintf("worker %d (pid %d) did not answer", frozen.Slot, frozen.PID))
	var st statusJSON
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status -json: %v in %q", err, out)
	}
	for _, w := range st.Workers {
		want := "running"
		if w.PID == frozen.PID {
			want = "busy"
		}
		if w.State != want {
			t.Errorf("worker %d (slot %d) is %q, want %q", w.PID, w.Slot, w.State, want)
		}
	}
	c.waitRunning(10 * time.Second)
	if c.status().Workers[indexOfSlot(&st, frozen.Slot)].PID != frozen.PID {
		t.Errorf("the busy worker was replaced; want it kept")
	}
}
