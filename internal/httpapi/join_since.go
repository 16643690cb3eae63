package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// Requester is the part of the bus a join since a position waits with (a
// *bus.Client): the command goes as a request, and the connection's worker
// answers once the replay was queued to the connection.
type Requester interface {
	RequestCommand(ctx context.Context, conn string, cmd bus.Command) ([]byte, error)
}

// joinWait bounds the wait for a worker's answer to a join since a
// position: its replay reads JetStream for at most 5 s (hub.replayTimeout).
const joinWait = 10 * time.Second

// joinReq is POST /api/join's body.
type joinReq struct {
	Conn  string    `json:"conn"`
	Room  string    `json:"room"`
	Since *sinceReq `json:"since"`
}

// sinceReq is a position in a room's history, as a client saw it last.
type sinceReq struct {
	Offset uint64 `json:"offset"`
	Epoch  string `json:"epoch"`
}

// joinAnswer is the worker's answer to a join since a position.
type joinAnswer struct {
	Recovered *bool   `json:"recovered"`
	Offset    *uint64 `json:"offset"`
	Epoch     string  `json:"epoch"`
	Error     string  `json:"error"`
}

// join joins a connection to a room: at once, answering {"ok":true} when
// the command was sent; or, with since, after the connection's worker
// replayed the room's kept messages after that position, answering
// {"ok":true,"recovered":bool,"offset":N,"epoch":"E"}.
func (h *Handler) join(w http.ResponseWriter, r *http.Request) {
	var q joinReq
	if !h.decode(w, r, &q) || !h.connOK(w, "conn", q.Conn) || !nameOK(w, "room", q.Room) {
		return
	}
	if q.Since == nil {
		h.sent(w, h.opts.Bus.PublishCommand(q.Conn, bus.Command{Join: q.Room}))
		return
	}
	if q.Since.Epoch == "" || len(q.Since.Epoch) > 64 {
		writeError(w, http.StatusBadRequest, "since: want {\"offset\":N,\"epoch\":\"E\"}, the epoch 1 to 64 bytes")
		return
	}
	rq, ok := h.opts.Bus.(Requester)
	if !ok {
		writeError(w, http.StatusNotImplemented, "since: this bus cannot wait for an answer")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), joinWait)
	defer cancel()
	since := strconv.FormatUint(q.Since.Offset, 10) + ":" + q.Since.Epoch
	b, err := rq.RequestCommand(ctx, q.Conn, bus.Command{Join: q.Room, Since: since})
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, "no answer from the connection's worker within "+joinWait.String())
		return
	case err != nil:
		h.sent(w, err)
		return
	}
	var a joinAnswer
	if err := json.Unmarshal(b, &a); err != nil || (a.Error == "" && a.Recovered == nil) {
		writeError(w, http.StatusBadGateway, "the worker's answer is not one: "+strconv.Quote(string(b)))
		return
	}
	if a.Error != "" {
		writeError(w, http.StatusUnprocessableEntity, "join: "+a.Error)
		return
	}
	out := map[string]any{"ok": true, "recovered": *a.Recovered, "offset": uint64(0), "epoch": a.Epoch}
	if a.Offset != nil {
		out["offset"] = *a.Offset
	}
	writeJSON(w, http.StatusOK, out)
}
