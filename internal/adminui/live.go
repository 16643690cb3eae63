package adminui

import (
	"io"
	"net"
	"net/http"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// liveWriteTimeout is how long one snapshot may take to reach a page; a
// page slower than that is dropped.
const liveWriteTimeout = 2 * time.Second

// maxLiveFrame bounds what a page may send us (it need send nothing).
const maxLiveFrame = 1024

// serveLive upgrades to a WebSocket and pushes every snapshot to it until
// the page goes, is too slow, or the handler closes. At most MaxLive at
// once: more get 503.
func (h *Handler) serveLive(w http.ResponseWriter, r *http.Request, s session) {
	select {
	case h.live <- struct{}{}:
	default:
		writeError(w, http.StatusServiceUnavailable, "too many live pages open")
		return
	}
	release := func() { <-h.live }
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host && o != "https://"+r.Host {
		release()
		writeError(w, http.StatusForbidden, "cross-origin live socket")
		return
	}
	conn, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		release()
		return // UpgradeHTTP answered the client
	}
	// The admin server's read and write timeouts were set on the
	// connection for the request; the socket lives longer. Writes get a
	// deadline each; reads need none (a gone page fails the next write).
	conn.SetDeadline(time.Time{})
	h.log.Debug("admin page: live socket", "session", s.ID)
	if !h.spawn(func() {
		defer release()
		h.pushLive(conn)
	}) {
		release()
		conn.Close()
	}
}

// pushLive writes each new snapshot to conn; a reader goroutine watches for
// the page's close.
func (h *Handler) pushLive(conn net.Conn) {
	done := make(chan struct{})
	var readerDone = make(chan struct{})
	go func() {
		defer close(readerDone)
		defer close(done)
		for {
			hdr, err := ws.ReadHeader(conn)
			if err != nil || hdr.Length > maxLiveFrame || hdr.OpCode == ws.OpClose {
				return
			}
			if _, err := io.CopyN(io.Discard, conn, hdr.Length); err != nil {
				return
			}
		}
	}()
	defer func() {
		conn.Close()
		<-readerDone
	}()
	var seen uint64
	for {
		b, seq, wake := h.col.latest()
		if seq != seen && b != nil {
			seen = seq
			conn.SetWriteDeadline(time.Now().Add(liveWriteTimeout))
			if err := wsutil.WriteServerText(conn, b); err != nil {
				h.log.Debug("admin page: live socket dropped", "err", err)
				return
			}
		}
		select {
		case <-wake:
		case <-done:
			return
		case <-h.ctx.Done():
			conn.SetWriteDeadline(time.Now().Add(time.Second))
			ws.WriteFrame(conn, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusGoingAway, "")))
			return
		}
	}
}
