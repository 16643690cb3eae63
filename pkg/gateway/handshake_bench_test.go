package gateway

import (
	"context"
	"net"
	"syscall"
	"testing"

	"github.com/gobwas/ws"
)

// BenchmarkHandshake measures accept -> upgrade -> detach -> register over
// real loopback sockets: each op dials, upgrades and closes one
// connection. Client and server share the process; profile it
// (-cpuprofile) and read the server's functions.
//
// goroutine and inline are the raw accept path (accept_linux.go) with
// OnOpen on a goroutine or on the loop; netlistener is the path through
// net.Listener, which TLS takes.
func BenchmarkHandshake(b *testing.B) {
	b.Run("goroutine", func(b *testing.B) { benchHandshake(b, false, Options{PingInterval: -1}) })
	b.Run("inline", func(b *testing.B) { benchHandshake(b, false, Options{PingInterval: -1, InlineOpen: true}) })
	b.Run("netlistener", func(b *testing.B) { benchHandshake(b, true, Options{PingInterval: -1}) })
}

func benchHandshake(b *testing.B, viaNet bool, opts Options) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	if viaNet {
		ln = netListener{ln}
	}
	_, url := startServerOn(b, ln, opts, &echo{})
	b.ReportAllocs()
	b.SetParallelism(4)
	cpu0 := processCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, _, _, err := ws.Dial(context.Background(), url)
			if err != nil {
				b.Error(err)
				return
			}
			c.Close()
		}
	})
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's user + system CPU time so far, in ns: client
// and server, as they share the process.
func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
