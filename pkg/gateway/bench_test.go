package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// benchServer runs a Server on a loopback port until the benchmark ends.
func benchServer(b *testing.B, opts Options, h Handler) string {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := New(opts, h, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ctx, ln)
	}()
	b.Cleanup(func() {
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		s.Shutdown(sctx, ws.StatusGoingAway, "bench over")
	})
	return "ws://" + ln.Addr().String() + "/"
}

// BenchmarkEcho measures the server's echo path over real loopback sockets:
// each client goroutine writes one masked frame and reads the echo. The
// client side allocates nothing per message, so allocs/op are the server's.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{16, 1024, 16 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			url := benchServer(b, Options{PingInterval: -1}, &echo{})
			frame := masked(ws.NewBinaryFrame(make([]byte, size)))
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.SetParallelism(8)
			b.RunParallel(func(pb *testing.PB) {
				c, _, _, err := ws.Dial(context.Background(), url)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				br := bufio.NewReaderSize(c, 32<<10)
				hdr := make([]byte, ws.MaxHeaderSize-2)
				buf := make([]byte, size)
				for pb.Next() {
					if _, err := c.Write(frame); err != nil {
						b.Error(err)
						return
					}
					h, err := ws.ReadHeaderBuffer(br, hdr)
					if err == nil {
						_, err = io.ReadFull(br, buf[:h.Length])
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
