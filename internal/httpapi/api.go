// Package httpapi is the HTTP server API (issue 13): a backend in any
// language publishes to connections, rooms, users or everyone, sends the
// commands of docs/backend.md (close, join, leave, bind, unbind) and asks
// who is online, with plain HTTP and JSON instead of a NATS client. Every
// call goes through the bus, the same subjects a NATS backend uses, so the
// API of any host of the cluster reaches every connection of the cluster.
//
// It is bounded against its callers: an API key (X-API-Key, compared in
// constant time), request bodies of at most Options.MaxBody bytes, at most
// Options.MaxInFlight requests at once, and a log of refused keys that
// writes at most one line a second.
package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/wsfleet/wsfleet/internal/ratelog"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// Publisher is the part of the bus the API sends with (a *bus.Client).
type Publisher interface {
	PublishAll(m bus.Message) error
	PublishRoom(room string, m bus.Message) error
	PublishUser(uid string, m bus.Message) error
	PublishConn(conn string, m bus.Message) error
	PublishCommand(conn string, cmd bus.Command) error
}

// Presence answers the API's questions for the whole cluster (a
// *hub.Querier).
type Presence interface {
	ConnectionCount(ctx context.Context) (int, error)
	RoomCount(ctx context.Context, room string) (int, error)
	UserConns(ctx context.Context, uid string) ([]string, error)
	RoomMembers(ctx context.Context, room string) ([]app.Member, error)
}

// Options configures a Handler.
type Options struct {
	// Key is the API key callers must send in X-API-Key. Required; SetKey
	// replaces it.
	Key string
	// Bus sends the messages and commands. Required.
	Bus Publisher
	// Presence answers online, count and members. Required.
	Presence Presence
	// Logger receives refused requests (rate-limited) and bus errors.
	// Default slog.Default().
	Logger *slog.Logger
	// MaxBody is the largest request body, in bytes. Default 1 MiB.
	MaxBody int64
	// MaxInFlight is the most requests served at once; more get 429.
	// Default 64.
	MaxInFlight int
	// QueryTimeout bounds one presence question, and keeping a message
	// for a user. Default 2s.
	QueryTimeout time.Duration
	// Users keeps the messages published to users with history; nil:
	// none are kept.
	Users UserHistory
}

// Handler serves /api/... . It is safe for concurrent use.
type Handler struct {
	opts     Options
	log      *slog.Logger
	key      atomic.Pointer[string]
	inFlight chan struct{}
	refused  ratelog.Limiter  // the refusals' log lines
	now      func() time.Time // the clock of refused; tests set it
	mux      *http.ServeMux
}

// New returns a Handler, or an error when a required option is missing.
func New(opts Options) (*Handler, error) {
	if opts.Key == "" {
		return nil, errors.New("httpapi: empty API key")
	}
	if opts.Bus == nil || opts.Presence == nil {
		return nil, errors.New("httpapi: no bus")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = 1 << 20
	}
	if opts.MaxInFlight <= 0 {
		opts.MaxInFlight = 64
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = 2 * time.Second
	}
	h := &Handler{
		opts: opts, log: opts.Logger,
		inFlight: make(chan struct{}, opts.MaxInFlight),
		now:      time.Now,
	}
	h.SetKey(opts.Key)
	h.routes()
	return h, nil
}

// SetKey replaces the API key; requests from then on need the new one.
// An empty key is ignored.
func (h *Handler) SetKey(key string) {
	if key != "" {
		h.key.Store(&key)
	}
}

// ServeHTTP admits a request (in-flight limit, then key), then routes it.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		writeError(w, http.StatusTooManyRequests, "too many requests in flight")
		return
	}
	if !h.keyOK(r.Header.Get("X-API-Key")) {
		if ok, n := h.refused.Allow(h.now()); ok {
			h.log.Warn("HTTP API: refused a request without the right X-API-Key",
				"remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path, "suppressed", n)
		}
		writeError(w, http.StatusUnauthorized, "missing or wrong X-API-Key")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// ServeTrusted serves a call like ServeHTTP, within the in-flight limit,
// but without asking for the key: for a caller that authenticated the
// request itself (the admin page, internal/adminui).
func (h *Handler) ServeTrusted(w http.ResponseWriter, r *http.Request) {
	select {
	case h.inFlight <- struct{}{}:
		defer func() { <-h.inFlight }()
	default:
		writeError(w, http.StatusTooManyRequests, "too many requests in flight")
		return
	}
	h.mux.ServeHTTP(w, r)
}

// keyOK compares the key sent with ours in constant time; both are hashed
// first, so that the time taken says nothing of our key's length either.
func (h *Handler) keyOK(got string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(*h.key.Load()))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

// decode reads r's JSON body into v, answering the client itself (and
// returning false) when it cannot: 415 for a content type other than
// application/json, 413 for a body over MaxBody, 400 for bad JSON or none.
func (h *Handler) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "want Content-Type: application/json")
		return false
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeError(w, http.StatusRequestEntityTooLarge, "request body over "+strconv.FormatInt(h.opts.MaxBody, 10)+" bytes")
		case errors.Is(err, io.EOF):
			writeError(w, http.StatusBadRequest, "empty body: want a JSON object")
		default:
			writeError(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		}
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body over "+strconv.FormatInt(h.opts.MaxBody, 10)+" bytes")
			return false
		}
		writeError(w, http.StatusBadRequest, "bad JSON: more than one value")
		return false
	}
	return true
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

// writeError answers code with {"error": msg}.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
