package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/gobwas/ws"
)

// BenchmarkEcho measures the server's echo path over real loopback sockets:
// each client goroutine writes one masked frame and reads the echo. The
// client side allocates nothing per message, so allocs/op are the server's.
func BenchmarkEcho(b *testing.B) {
	for _, size := range []int{16, 1024, 16 << 10} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			_, url := startServer(b, Options{PingInterval: -1}, &echo{})
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
