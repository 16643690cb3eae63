package httpapi

import (
	"context"
	"net/http"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// UserHistory keeps the messages the API publishes to users whose history
// is kept (-history rules with a leading '@', in an app that keeps users'
// history: the chat), so that a connection that comes back resumes them
// (app.Historian.BindUserSince).
type UserHistory interface {
	// KeepUser keeps m for uid when uid's messages are kept, and returns
	// its position and true; false when they are not.
	KeepUser(ctx context.Context, uid string, m app.Message) (app.Position, bool, error)
}

// publishUser publishes m to uid, kept first when uid has history; it
// answers {"ok":true}, with the message's "offset" and "epoch" when kept.
// A message that could not be kept (JetStream down) is sent live only.
func (h *Handler) publishUser(w http.ResponseWriter, r *http.Request, uid string, m bus.Message) {
	if h.opts.Users == nil {
		h.sent(w, h.opts.Bus.PublishUser(uid, m))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.QueryTimeout)
	defer cancel()
	p, kept, err := h.opts.Users.KeepUser(ctx, uid, app.Message{Data: m.Data, Binary: m.Binary})
	if err != nil {
		h.log.Warn("HTTP API: not kept, sent live only", "user", uid, "err", err)
	}
	if kept {
		m.Offset = p.Offset
	}
	err = h.opts.Bus.PublishUser(uid, m)
	if err != nil || !kept {
		h.sent(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ok": true, "offset": p.Offset, "epoch": p.Epoch})
}
