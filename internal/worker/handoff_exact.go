package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// Exactly once across a hand-off (pkg/hub/stream.go): before each batch
// the old worker names what the batch's connections get messages on, the
// new one subscribes and starts buffering (prepareNote), and answers with
// how far its followed rooms had delivered (prepareAnswer); the old worker
// then waits until it delivered that far and has handled everything the
// NATS server sent it so far (Settle), and only then takes each
// connection's snapshot with its positions (hub.Freeze).

// prepareNote asks the new worker to prepare a batch.
type prepareNote struct {
	V     int      `json:"v"`
	Rooms []string `json:"rooms,omitempty"`
	Users []string `json:"users,omitempty"`
	Conns []string `json:"conns"`
}

// prepareAnswer is the new worker's answer: the kept offset per followed
// group's stream name, or why it could not prepare.
type prepareAnswer struct {
	V      int               `json:"v"`
	Floors map[string]uint64 `json:"floors,omitempty"`
	Error  string            `json:"error,omitempty"`
}

// noteVersion is the version of both; a receiver refuses any other.
const noteVersion = 1

// offsetWait bounds how long the old worker waits for its followed rooms
// to deliver as far as the new worker's; a room still behind keeps its
// connections here (they drain with 1012).
const offsetWait = 2 * time.Second

// maxNoteNames bounds a prepare note's names (what the new worker
// subscribes to): a batch's connections' rooms and users.
const maxNoteNames = gateway.HandoffBatch * (hub.DefaultMaxRooms + 1)

// prepareBatch sends the note for hcs (the batch's states) and returns
// the rooms and users whose positions are not known (late), or an error
// that ends the hand-off.
func (s *sender) prepareBatch(ctx context.Context, cs []*gateway.Conn, hcs []handedConn) (map[string]bool, error) {
	note := prepareNote{V: noteVersion}
	seen := make(map[string]bool)
	for i, hc := range hcs {
		note.Conns = append(note.Conns, cs[i].ID())
		if hc.User != "" && !seen[hub.UserStream(hc.User)] {
			seen[hub.UserStream(hc.User)] = true
			note.Users = append(note.Users, hc.User)
		}
		for _, r := range hc.Rooms {
			if !seen[hub.RoomStream(r)] {
				seen[hub.RoomStream(r)] = true
				note.Rooms = append(note.Rooms, r)
			}
		}
	}
	b, err := json.Marshal(note)
	if err != nil {
		return nil, fmt.Errorf("worker: hand-off note: %w", err)
	}
	if err := gateway.SendHandoffNote(s.uc, b); err != nil {
		return nil, err
	}
	b, err = gateway.RecvHandoffNote(s.uc)
	if err != nil {
		return nil, err
	}
	var ans prepareAnswer
	if err := json.Unmarshal(b, &ans); err != nil || ans.V != noteVersion {
		return nil, fmt.Errorf("worker: hand-off answer: version %d, %v", ans.V, err)
	}
	if ans.Error != "" {
		return nil, fmt.Errorf("worker: the new worker could not prepare: %s", ans.Error)
	}
	wctx, cancel := context.WithTimeout(ctx, offsetWait)
	late := s.w.hub.WaitOffsets(wctx, ans.Floors)
	cancel()
	if err := s.w.hub.Settle(ctx); err != nil {
		return nil, err
	}
	return late, nil
}

// anyLate reports whether hc gets messages on a stream in late.
func anyLate(hc handedConn, late map[string]bool) bool {
	if len(late) == 0 {
		return false
	}
	if hc.User != "" && late[hub.UserStream(hc.User)] {
		return true
	}
	for _, r := range hc.Rooms {
		if late[hub.RoomStream(r)] {
			return true
		}
	}
	return false
}

// answerPrepare is the new worker's side of a prepare note.
func (w *Worker) answerPrepare(ctx context.Context, uc *net.UnixConn, b []byte) error {
	ans := prepareAnswer{V: noteVersion}
	var note prepareNote
	switch err := json.Unmarshal(b, &note); {
	case err != nil:
		ans.Error = err.Error()
	case note.V != noteVersion:
		ans.Error = fmt.Sprintf("note version %d", note.V)
	case len(note.Rooms)+len(note.Users) > maxNoteNames || len(note.Conns) > gateway.HandoffBatch:
		ans.Error = "note too large"
	default:
		var err error
		if ans.Floors, err = w.hub.Prepare(ctx, note.Rooms, note.Users, note.Conns); err != nil {
			ans.Error = err.Error()
		}
	}
	out, err := json.Marshal(ans)
	if err != nil {
		return fmt.Errorf("worker: hand-off answer: %w", err)
	}
	if err := gateway.SendHandoffNote(uc, out); err != nil {
		return err
	}
	if ans.Error != "" {
		return errors.New("worker: hand-off: " + ans.Error)
	}
	return nil
}
