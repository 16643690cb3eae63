package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/gateway"
	"github.com/wsfleet/wsfleet/pkg/hub"
)

// routes mounts the calls: mutations take POST only, questions GET (their
// fields in the query string) or POST.
func (h *Handler) routes() {
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("/api/publish", post(h.publish))
	h.mux.HandleFunc("/api/close", post(h.close))
	h.mux.HandleFunc("/api/join", post(h.join))
	h.mux.HandleFunc("/api/leave", post(h.command(func(q target) bus.Command { return bus.Command{Leave: q.Room} }, "room")))
	h.mux.HandleFunc("/api/bind", post(h.command(func(q target) bus.Command { return bus.Command{Bind: q.User} }, "user")))
	h.mux.HandleFunc("/api/unbind", post(h.command(func(target) bus.Command { return bus.Command{Unbind: true} }, "")))
	h.mux.HandleFunc("/api/online", h.query(h.online))
	h.mux.HandleFunc("/api/count", h.query(h.count))
	h.mux.HandleFunc("/api/members", h.query(h.members))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such call: "+r.URL.Path)
	})
}

// target is the fields of every call but publish's and close's: a
// connection and a room or user; a GET's come from its query string.
type target struct {
	Conn string `json:"conn"`
	Room string `json:"room"`
	User string `json:"user"`
}

func post(fn http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+": use POST")
			return
		}
		fn(w, r)
	}
}

// query serves a question: its target from a GET's query string or a
// POST's body.
func (h *Handler) query(fn func(w http.ResponseWriter, r *http.Request, q target)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q target
		switch r.Method {
		case http.MethodGet:
			v := r.URL.Query()
			q = target{Conn: v.Get("conn"), Room: v.Get("room"), User: v.Get("user")}
		case http.MethodPost:
			if !h.decode(w, r, &q) {
				return
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, r.Method+" "+r.URL.Path+": use GET or POST")
			return
		}
		fn(w, r, q)
	}
}

// publishReq is POST /api/publish's body.
type publishReq struct {
	Data    string `json:"data"`
	Binary  bool   `json:"binary"`
	Room    string `json:"room"`
	User    string `json:"user"`
	Conn    string `json:"conn"`
	Exclude string `json:"exclude"`
}

func (h *Handler) publish(w http.ResponseWriter, r *http.Request) {
	var q publishReq
	if !h.decode(w, r, &q) {
		return
	}
	m := bus.Message{Binary: q.Binary, Data: []byte(q.Data), Exclude: q.Exclude}
	if q.Binary {
		b, err := base64.StdEncoding.DecodeString(q.Data)
		if err != nil {
			writeError(w, http.StatusBadRequest, "binary: data is not base64: "+err.Error())
			return
		}
		m.Data = b
	}
	n := 0
	for _, s := range []string{q.Room, q.User, q.Conn} {
		if s != "" {
			n++
		}
	}
	if n > 1 {
		writeError(w, http.StatusBadRequest, "give at most one of room, user and conn")
		return
	}
	if q.Exclude != "" && !h.connOK(w, "exclude", q.Exclude) {
		return
	}
	var err error
	switch {
	case q.Room != "":
		if !nameOK(w, "room", q.Room) {
			return
		}
		err = h.opts.Bus.PublishRoom(q.Room, m)
	case q.User != "":
		if !nameOK(w, "user", q.User) {
			return
		}
		h.publishUser(w, r, q.User, m)
		return
	case q.Conn != "":
		if !h.connOK(w, "conn", q.Conn) {
			return
		}
		m.Exclude = ""
		err = h.opts.Bus.PublishConn(q.Conn, m)
	default:
		err = h.opts.Bus.PublishAll(m)
	}
	h.sent(w, err)
}

// closeReq is POST /api/close's body.
type closeReq struct {
	Conn   string `json:"conn"`
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func (h *Handler) close(w http.ResponseWriter, r *http.Request) {
	var q closeReq
	if !h.decode(w, r, &q) || !h.connOK(w, "conn", q.Conn) {
		return
	}
	if q.Code == 0 {
		q.Code = 1000
	}
	if !gateway.Sendable(gateway.StatusCode(q.Code)) {
		writeError(w, http.StatusBadRequest, "code "+strconv.Itoa(q.Code)+" may not be sent: want 1000-1003, 1007-1014 or 3000-4999")
		return
	}
	h.sent(w, h.opts.Bus.PublishCommand(q.Conn, bus.Command{Close: true, Code: q.Code, Reason: q.Reason}))
}

// command serves join, leave, bind and unbind: cmd makes the command from
// the request, whose field name (room, user, or "" for none) must be a
// valid name.
func (h *Handler) command(cmd func(target) bus.Command, name string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var q target
		if !h.decode(w, r, &q) || !h.connOK(w, "conn", q.Conn) {
			return
		}
		switch name {
		case "room":
			if !nameOK(w, name, q.Room) {
				return
			}
		case "user":
			if !nameOK(w, name, q.User) {
				return
			}
		}
		h.sent(w, h.opts.Bus.PublishCommand(q.Conn, cmd(q)))
	}
}

// sent answers a publish: {"ok":true}, or why the bus refused it.
func (h *Handler) sent(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case errors.Is(err, nats.ErrMaxPayload):
		writeError(w, http.StatusRequestEntityTooLarge, "message larger than the bus's max_payload")
	default:
		h.log.Warn("HTTP API: publish", "err", err)
		writeError(w, http.StatusServiceUnavailable, "bus unavailable: "+err.Error())
	}
}

func (h *Handler) online(w http.ResponseWriter, r *http.Request, q target) {
	if !nameOK(w, "user", q.User) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.QueryTimeout)
	defer cancel()
	conns, err := h.opts.Presence.UserConns(ctx, q.User)
	if conns == nil {
		conns = []string{}
	}
	if h.asked(w, err) {
		writeJSON(w, http.StatusOK, map[string]any{"online": len(conns) > 0, "conns": conns})
	}
}

func (h *Handler) count(w http.ResponseWriter, r *http.Request, q target) {
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.QueryTimeout)
	defer cancel()
	var n int
	var err error
	if q.Room == "" {
		n, err = h.opts.Presence.ConnectionCount(ctx)
	} else {
		if !nameOK(w, "room", q.Room) {
			return
		}
		n, err = h.opts.Presence.RoomCount(ctx, q.Room)
	}
	if h.asked(w, err) {
		writeJSON(w, http.StatusOK, map[string]int{"count": n})
	}
}

// memberJSON is one member in /api/members's answer.
type memberJSON struct {
	Conn string `json:"conn"`
	User string `json:"user,omitempty"`
}

func (h *Handler) members(w http.ResponseWriter, r *http.Request, q target) {
	if !nameOK(w, "room", q.Room) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.QueryTimeout)
	defer cancel()
	ms, err := h.opts.Presence.RoomMembers(ctx, q.Room)
	if !h.asked(w, err) {
		return
	}
	out := make([]memberJSON, len(ms))
	for i, m := range ms {
		out[i] = memberJSON{Conn: m.ConnID, User: m.UID}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(out), "members": out})
}

// asked answers a failed question with 503 and reports whether err is nil.
func (h *Handler) asked(w http.ResponseWriter, err error) bool {
	if err != nil {
		h.log.Warn("HTTP API: presence", "err", err)
		writeError(w, http.StatusServiceUnavailable, "presence query failed: "+err.Error())
		return false
	}
	return true
}

// nameOK checks a room or user name as the workers do (1 to hub.MaxName
// bytes), answering 400 when it is not.
func nameOK(w http.ResponseWriter, field, v string) bool {
	if v == "" || len(v) > hub.MaxName {
		writeError(w, http.StatusBadRequest, field+": want 1 to "+strconv.Itoa(hub.MaxName)+" bytes")
		return false
	}
	return true
}

// connOK checks a connection id, answering 400 when it is not one.
func (h *Handler) connOK(w http.ResponseWriter, field, v string) bool {
	if _, err := bus.ParseConnID(v); err != nil {
		writeError(w, http.StatusBadRequest, field+": "+strconv.Quote(v)+" is not a connection id (<node>-<pid>-<seq>)")
		return false
	}
	return true
}
