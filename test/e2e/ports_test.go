package e2e

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// ports hands out loopback ports for the servers the tests start. A port the
// kernel picks for ":0" is an ephemeral one, and once the probe closes it the
// kernel may give the same number to any outgoing connection on the machine
// (a NATS client, a test's WebSocket dial) before the server binds it: that
// showed up in CI as "bind: address already in use". So the ports come from
// below the ephemeral range (net.ipv4.ip_local_port_range), where the kernel
// never picks, each one handed out once per test binary and probed free.
var ports struct {
	sync.Mutex
	lo, hi, next int
}

// freeAddr returns a loopback address whose port is outside the kernel's
// ephemeral range, was free when probed, and is not given to another test of
// this run.
func freeAddr(t testing.TB) string {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	if ports.lo == 0 {
		lo, hi, err := nonEphemeralRange()
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ports.lo, ports.hi = lo, hi
		ports.next = lo + rand.IntN(hi-lo) // another test binary on the machine starts elsewhere
	}
	for range ports.hi - ports.lo {
		p := ports.next
		ports.next++
		if ports.next >= ports.hi {
			ports.next = ports.lo
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr
	}
	t.Fatalf("free port: none free in %d-%d", ports.lo, ports.hi)
	return ""
}

// nonEphemeralRange returns [lo, hi): the ports from 10000 up to the start of
// the kernel's ephemeral range, or, when that starts too low, the ports above
// its end.
func nonEphemeralRange() (lo, hi int, err error) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, fmt.Errorf("ephemeral range: %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("ephemeral range: unexpected %q", b)
	}
	elo, err1 := strconv.Atoi(f[0])
	ehi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("ephemeral range: unexpected %q", b)
	}
	const floor, want = 10000, 2000
	if elo-floor >= want {
		return floor, elo, nil
	}
	if 65536-(ehi+1) >= want {
		return ehi + 1, 65536, nil
	}
	return 0, 0, fmt.Errorf("ephemeral range %d-%d leaves fewer than %d ports free of it", elo, ehi, want)
}
