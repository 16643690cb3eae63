package gateway

import (
	"context"
	"syscall"
	"testing"

	"github.com/gobwas/ws"
)

// BenchmarkHandshake measures accept -> upgrade -> detach -> register over
// real loopback sockets: each op dials, upgrades and closes one
// connection. Client and server share the process; profile it
// (-cpuprofile) and read the server's functions.
func BenchmarkHandshake(b *testing.B) {
	b.Run("goroutine", func(b *testing.B) { benchHandshake(b, Options{PingInterval: -1}) })
	b.Run("inline", func(b *testing.B) { benchHandshake(b, Options{PingInterval: -1, InlineOpen: true}) })
}

func benchHandshake(b *testing.B, opts Options) {
	_, url := startServer(b, opts, &echo{})
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
