package history

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsfleet/wsfleet/pkg/app"
)

// MaxReplayBytes bounds a replay: the newest kept messages after the
// position that fit in it are sent, and a replay that had more is not
// complete. Half the default -send-buffer.
const MaxReplayBytes = 512 << 10

// Since reads room's kept messages after since, in order, and says
// whether they are all there were. With another epoch it reads nothing;
// with the same epoch but a gap it returns what is kept after since (at
// most the rule's count, none older than its age) with Recovered false.
// The returned position is the room's last kept message when the read
// began: a live message with a larger offset was not replayed.
func (s *Store) Since(ctx context.Context, room string, since app.Position) ([]app.Kept, app.Recovery, error) {
	return s.since(ctx, s.room(room), since)
}

// SinceUser is Since for the messages to user uid.
func (s *Store) SinceUser(ctx context.Context, uid string, since app.Position) ([]app.Kept, app.Recovery, error) {
	return s.since(ctx, s.user(uid), since)
}

func (s *Store) since(ctx context.Context, k key, since app.Position) ([]app.Kept, app.Recovery, error) {
	if !k.ok {
		return nil, app.Recovery{}, nil
	}
	rule, room := k.rule, k.name
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return nil, app.Recovery{}, fmt.Errorf("history: too many replays at once: %w", ctx.Err())
	}
	cur, err := s.current(ctx, k)
	if err != nil {
		return nil, app.Recovery{}, err
	}
	rec := app.Recovery{Position: cur}
	if since.Epoch != s.epoch || since.Offset > cur.Offset {
		return nil, rec, nil // another history, or a position it never had
	}
	subj := k.subj
	var kept []timed
	bytes, cut := 0, false
	for seq := since.Offset + 1; seq <= cur.Offset && len(kept) <= s.perSubj; {
		m, err := s.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, app.Recovery{}, fmt.Errorf("history: replay %q: %w", room, err)
		}
		if m.Sequence > cur.Offset {
			break
		}
		k := app.Kept{Message: app.Message{Data: m.Data}, Position: app.Position{Offset: m.Sequence, Epoch: s.epoch}}
		k.Binary = m.Header.Get(headerOp) == "binary"
		kept = append(kept, timed{k, m.Time})
		seq = m.Sequence + 1
		// The newest MaxReplayBytes only: a replay must fit the
		// connection's send buffer, and the worker's memory.
		for bytes += len(m.Data); bytes > MaxReplayBytes; cut = true {
			bytes -= len(kept[0].k.Data)
			kept = kept[1:]
		}
	}
	in := gapCheck{since: since.Offset, count: len(kept), perSubj: s.perSubj}
	if since.Offset > 0 {
		first, err := s.stream.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(subj))
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return nil, app.Recovery{}, fmt.Errorf("history: %q: %w", room, err)
		}
		in.keptBefore = err == nil && first.Sequence <= since.Offset
	}
	info, err := s.stream.Info(ctx)
	if err != nil {
		return nil, app.Recovery{}, fmt.Errorf("history: %q: %w", room, err)
	}
	in.streamFirst = info.State.FirstSeq
	out, trimmed := trim(kept, rule, time.Now())
	rec.Recovered = in.complete() && !trimmed && !cut
	return out, rec, nil
}

// timed is a kept message and when it was kept.
type timed struct {
	k  app.Kept
	at time.Time
}

// trim applies room's rule to what the stream kept (the stream's limits are
// the largest of all rules): the last rule.Count messages, none older than
// rule.Age. It says whether it left any out.
func trim(kept []timed, rule Rule, now time.Time) ([]app.Kept, bool) {
	from := max(0, len(kept)-rule.Count)
	for from < len(kept) && now.Sub(kept[from].at) > rule.Age {
		from++
	}
	out := make([]app.Kept, 0, len(kept)-from)
	for _, t := range kept[from:] {
		out = append(out, t.k)
	}
	return out, from > 0
}

// gapCheck decides whether a replay since an offset is complete.
type gapCheck struct {
	since       uint64 // the offset replayed after
	count       int    // the room's messages kept after it
	perSubj     int    // the stream's per-room limit
	keptBefore  bool   // a message of the room at or before since is still kept
	streamFirst uint64 // the stream's first kept sequence
}

// complete: the stream drops a room's messages oldest first, both for its
// per-room count and for its age. So nothing after since was dropped when
// a message of the room at or before since is still there; else only when
// the stream dropped nothing after since (its first sequence is at most
// since+1: no age drop) and the room has fewer than its limit after since
// (no count drop, which would leave exactly the limit).
func (g gapCheck) complete() bool {
	if g.keptBefore {
		return true
	}
	return g.streamFirst <= g.since+1 && g.count < g.perSubj
}
