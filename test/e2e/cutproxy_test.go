package e2e

import (
	"io"
	"net"
	"sync"
	"testing"
)

// cutProxy is a TCP forwarder on loopback to target. cut makes every
// connection it forwards at that moment stop forwarding, in both
// directions, without closing anything: the network vanished, no FIN, no
// RST. Connections accepted after a cut are forwarded normally.
type cutProxy struct {
	addr string
	ln   net.Listener
	wg   sync.WaitGroup

	mu       sync.Mutex
	pairs    []*proxyPair
	accepted int
}

type proxyPair struct {
	client, server net.Conn
	cut            chan struct{}
}

// startCutProxy listens on a free loopback port; the test's cleanup closes
// it and every connection, and waits for its goroutines.
func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p := &cutProxy{addr: ln.Addr().String(), ln: ln}
	p.wg.Add(1)
	go p.accept(target)
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, pr := range p.pairs {
			pr.client.Close()
			pr.server.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) accept(target string) {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		pr := &proxyPair{client: c, server: s, cut: make(chan struct{})}
		p.mu.Lock()
		p.pairs = append(p.pairs, pr)
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(pr, s, c)
		go p.pipe(pr, c, s)
	}
}

// pipe copies from src to dst until either ends or the pair is cut; a cut
// pair's bytes are read and dropped, so that neither end sees anything.
func (p *cutProxy) pipe(pr *proxyPair, dst, src net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			select {
			case <-pr.cut:
			default:
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			select {
			case <-pr.cut: // silent: the other side hears nothing
			default:
				if err == io.EOF {
					if tc, ok := dst.(*net.TCPConn); ok {
						tc.CloseWrite()
					}
				}
			}
			return
		}
	}
}

// cut silences every connection forwarded now.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.pairs {
		select {
		case <-pr.cut:
		default:
			close(pr.cut)
		}
	}
}

// connections is how many connections the proxy has accepted.
func (p *cutProxy) connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted
}
