package hub

import (
	"sync"
	"sync/atomic"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// Exactly once across a hand-off (issue 15). Every subject a connection
// gets messages on is a stream here: the cluster's broadcasts, its
// worker's subject (one per connection owner), each of its rooms and its
// user. A stream's deliveries run one at a time under its lock, so that a
// connection's snapshot, taken under the locks of all its streams, falls
// between two deliveries of each, and the positions read with it are
// exactly what its queue holds:
//
//   - the old worker records, while it hands off (Track), the last
//     sequence (bus.Message.Seq) per publisher each stream delivered, and
//     for a room or user followed through JetStream the last kept offset;
//     a connection's Cut is that, at its snapshot;
//   - the new worker buffers what each stream delivers from the moment it
//     prepared a batch (Prepare) to the batch's import; importing a
//     connection (AdoptMember) replays, under each stream's lock, what of
//     the buffer is past its Cut, then makes it a member; later
//     deliveries at or below its Cut (the new worker may lag behind the
//     old one) are skipped until the hand-off ends.
//
// Both workers see one publisher's messages on one subject in the same
// order (NATS keeps a publisher's order), so "past the Cut" is the same
// set on both sides. Sequences are advisory: a message without one is
// delivered live as before, never replayed.

// Cut is where one connection's messages on one stream stood at its
// snapshot: the last sequence delivered per publisher id, and under
// CutOffset the last kept offset of a followed room or user.
type Cut map[string]uint64

// CutOffset is the key of a Cut's kept offset (publisher ids are base64url
// and cannot be "#").
const CutOffset = "#"

// Cuts is a connection's Cut per stream name (StreamAll, StreamConn,
// RoomStream, UserStream).
type Cuts map[string]Cut

// Stream names in Cuts.
const (
	StreamAll  = "all"
	StreamConn = "conn"
)

// RoomStream and UserStream name a room's and a user's stream in Cuts.
func RoomStream(room string) string { return "r:" + room }

// UserStream names a user's stream in Cuts.
func UserStream(uid string) string { return "u:" + uid }

// Bounds on what hand-off bookkeeping may hold, whatever publishers send:
// publishers per stream's positions, and the buffer of a receiving worker.
// Past them the streams concerned are inexact, and their connections do
// not move (they drain with 1012 as without a hand-off).
const (
	MaxCutPublishers = 64
	maxBufferBytes   = 64 << 20
	maxBufferMsgs    = 1 << 16
)

// exact is a Hub's hand-off bookkeeping: the broadcasts' stream, each
// worker subject's (under Hub.adoptMu), and the modes: tracking on the
// worker handing off, receiving and buffering on the one receiving.
type exact struct {
	all       stream
	direct    map[bus.WorkerID]*stream
	tracking  atomic.Bool
	receiving atomic.Bool
	buffering atomic.Bool
	bufBytes  atomic.Int64
	bufMsgs   atomic.Int64
	// pinned are the groups the batch being received pinned (Prepare),
	// under Hub.mu; incoming are its connections' ids.
	pinned   []*group
	incoming atomic.Pointer[map[string]struct{}]
}

// stream is one subject's deliveries on this worker.
type stream struct {
	mu sync.Mutex
	// lastOffset is the last kept offset a followed group delivered (or
	// where its JetStream consumer started): everything of the room up to
	// it was delivered or predates the group.
	lastOffset uint64
	// pos is, while tracking, the last sequence per publisher delivered;
	// posOver: more publishers than MaxCutPublishers came.
	pos     Cut
	posOver bool
	// buf is, while receiving, what the stream delivered since Prepare;
	// bufOver: some was not kept (the bounds).
	buf     []buffered
	bufOver bool
	// cuts are the Cuts of the connections imported here, which filter
	// their live deliveries until the hand-off ends.
	cuts map[*gateway.Conn]Cut
}

// buffered is a message a receiving worker's stream delivered, and for a
// worker's subject the connection it was for.
type buffered struct {
	m    bus.Message
	conn string
}

// seen reports whether the old worker had delivered m before cut was
// taken: m's publisher's sequence, or for a kept message from JetStream
// its offset, is at or below the cut. Unstamped messages are never seen.
func (cut Cut) seen(m bus.Message) bool {
	if cut == nil {
		return false
	}
	// A kept message goes by its offset where the old worker followed the
	// room's history: it had delivered every offset up to the cut.
	if v, ok := cut[CutOffset]; ok && m.Offset != 0 {
		return m.Offset <= v
	}
	if m.Pub != "" {
		v, ok := cut[m.Pub]
		return ok && m.Seq <= v
	}
	return false
}

// replayable reports whether a buffered message may go to a connection
// with cut: stamped (or kept) and past it.
func (cut Cut) replayable(m bus.Message) bool {
	return (m.Pub != "" || m.Offset != 0) && !cut.seen(m)
}

// before runs before a delivery, s.mu held: a receiving worker buffers m.
func (h *Hub) beforeLocked(s *stream, m bus.Message, conn string) {
	if !h.buffering.Load() || s.bufOver {
		return
	}
	n := int64(len(m.Data) + len(conn) + 64)
	bytes, msgs := h.bufBytes.Add(n), h.bufMsgs.Add(1)
	if bytes > maxBufferBytes || msgs > maxBufferMsgs {
		h.bufBytes.Add(-n)
		h.bufMsgs.Add(-1)
		s.bufOver = true
		return
	}
	s.buf = append(s.buf, buffered{m: m, conn: conn})
}

// afterLocked runs after a delivery, s.mu held: a tracking worker records
// m's position.
func (h *Hub) afterLocked(s *stream, m bus.Message) {
	if !h.tracking.Load() || m.Pub == "" {
		return
	}
	if s.pos == nil {
		s.pos = make(Cut)
	}
	if _, ok := s.pos[m.Pub]; !ok && len(s.pos) >= MaxCutPublishers {
		s.posOver = true
		return
	}
	s.pos[m.Pub] = m.Seq
}

// skipLocked reports whether a live delivery of m to c is one the old
// worker made already, or one c's replay will make. s.mu held.
func (h *Hub) skipLocked(s *stream, c *gateway.Conn, m bus.Message, receiving bool) bool {
	if s.cuts == nil && !receiving {
		return false
	}
	cut, attached := s.cuts[c]
	if attached {
		return cut.seen(m)
	}
	// Being imported, not yet attached on this stream: the buffer has m.
	if in := h.incoming.Load(); receiving && in != nil {
		_, ok := (*in)[c.ID()]
		return ok
	}
	return false
}

// cutLocked is s's part of a connection's Cut, or false when the stream
// lost count. s.mu held.
func (s *stream) cutLocked(followed bool) (Cut, bool) {
	if s.posOver {
		return nil, false
	}
	cut := make(Cut, len(s.pos)+1)
	for p, v := range s.pos {
		cut[p] = v
	}
	if followed {
		cut[CutOffset] = s.lastOffset
	}
	return cut, true
}

// clearBufLocked drops s's buffer. s.mu held.
func (h *Hub) clearBufLocked(s *stream) {
	var n int64
	for _, b := range s.buf {
		n += int64(len(b.m.Data) + len(b.conn) + 64)
	}
	h.bufBytes.Add(-n)
	h.bufMsgs.Add(-int64(len(s.buf)))
	s.buf, s.bufOver = nil, false
}
