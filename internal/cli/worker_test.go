package cli

import (
	"log/slog"
	"runtime/debug"
	"testing"
	"time"
)

// TestOrOff: the config's 0 ("never") reaches the gateway as its
// negative "disabled", not as 0, which the gateway reads as its default.
func TestOrOff(t *testing.T) {
	for _, c := range []struct{ in, want time.Duration }{
		{0, -1},
		{25 * time.Second, 25 * time.Second},
		{time.Millisecond, time.Millisecond},
	} {
		if got := orOff(c.in); got != c.want {
			t.Errorf("orOff(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestSetMemoryLimit: the setup's memory limit becomes the runtime's limit unless the
// environment's GOMEMLIMIT is set (the runtime applied that one already);
// 0 leaves the limit alone.
func TestSetMemoryLimit(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	orig := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(orig) })

	t.Setenv("GOMEMLIMIT", "")
	setMemoryLimit(300<<20, log)
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Fatalf("limit %d, want 300 MiB", got)
	}
	setMemoryLimit(0, log)
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Fatalf("0 changed the limit to %d", got)
	}
	debug.SetMemoryLimit(orig)
	t.Setenv("GOMEMLIMIT", "1GiB")
	setMemoryLimit(300<<20, log)
	if got := debug.SetMemoryLimit(-1); got != orig {
		t.Fatalf("with GOMEMLIMIT set the flag changed the limit to %d", got)
	}
}
