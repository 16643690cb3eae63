package adminui

import (
	"testing"
	"time"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *fakeClock               { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func TestSessionsExpireAndAreBounded(t *testing.T) {
	clk := newClock()
	s := newSessions(3, time.Hour, clk.now)
	tok, sess := s.create()
	if len(tok) != 64 || len(sess.ID) != 8 {
		t.Fatalf("token %q id %q: want 32 random bytes and a 4-byte id, in hex", tok, sess.ID)
	}
	if got, ok := s.get(tok); !ok || got.ID != sess.ID {
		t.Fatal("a new session is not found")
	}
	if _, ok := s.get("nope"); ok {
		t.Fatal("an unknown token is a session")
	}
	clk.add(time.Hour)
	if _, ok := s.get(tok); ok {
		t.Fatal("an expired session is still good")
	}
	var toks []string
	for range 10 {
		tok, _ := s.create()
		toks = append(toks, tok)
		clk.add(time.Second)
	}
	if n := s.count(); n != 3 {
		t.Fatalf("%d sessions kept, want at most 3", n)
	}
	if _, ok := s.get(toks[0]); ok {
		t.Fatal("the oldest session survived the bound")
	}
	if _, ok := s.get(toks[9]); !ok {
		t.Fatal("the newest session was dropped")
	}
	s.remove(toks[9])
	if _, ok := s.get(toks[9]); ok {
		t.Fatal("a removed session is still good")
	}
}

func TestFailuresSlowDown(t *testing.T) {
	clk := newClock()
	f := newFailures(4, clk.now)
	for i := 1; i < freeFailures; i++ {
		f.fail("a")
		if d := f.wait("a"); d != 0 {
			t.Fatalf("after %d failures: wait %v, want none", i, d)
		}
	}
	want := time.Second
	for i := freeFailures; i < freeFailures+12; i++ {
		f.fail("a")
		if d := f.wait("a"); d != min(want, maxBackoff) {
			t.Fatalf("after %d failures: wait %v, want %v", i, d, min(want, maxBackoff))
		}
		want *= 2
	}
	if d := f.wait("b"); d != 0 {
		t.Fatalf("another address waits %v", d)
	}
	f.succeed("a")
	if d := f.wait("a"); d != 0 {
		t.Fatalf("after a success: wait %v", d)
	}
	for i := range 100 {
		f.fail(string(rune('a'+i%26)) + string(rune('0'+i/26)))
		clk.add(time.Millisecond)
	}
	if n := f.size(); n > 4 {
		t.Fatalf("%d addresses tracked, want at most 4", n)
	}
}
