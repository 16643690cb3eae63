// Package adminui is the admin page (issue 17): /admin/ on the master's
// admin listener, embedded in the binary. An operator signs in with the
// password of -admin-password-file and sees the whole cluster live,
// pushed over a WebSocket (/admin/live) once a second: every host and
// worker, the last 15 minutes drawn by the page. From the page they
// publish, close a connection, find where a connection or user is, and
// reload this host's master. See docs/admin.md.
//
// It is bounded against its clients: sessions (count, lifetime), wrong
// passwords (slowed per address, logged at most once a second), live
// sockets (count; a page too slow to take its snapshots is dropped),
// request bodies.
package adminui

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wsfleet/wsfleet/internal/ratelog"
)

//go:embed assets
var assets embed.FS

// cookieName is the session cookie's name.
const cookieName = "wsfleet_admin"

// csrfHeader must be on every POST: a cross-site form cannot set it, and a
// cross-site fetch that sets it needs a CORS preflight we never grant.
const csrfHeader = "X-Wsfleet-Admin"

// Options configures a Handler.
type Options struct {
	// Password is what signing in asks for. Required; SetPassword
	// replaces it.
	Password string
	// Source asks the cluster's masters for their hosts. Required.
	Source Source
	// Rooms asks for the rooms with the most members. Optional.
	Rooms RoomSource
	// API serves the actions as the HTTP API does: /api/publish and
	// /api/close, without its key (httpapi.Handler.ServeTrusted).
	// Required.
	API http.Handler
	// Reload reloads this host's master; it runs in the background, one at
	// a time. Required.
	Reload func(ctx context.Context) error
	// Search finds a connection id or user. Required.
	Search func(ctx context.Context, q string) ([]Found, error)
	// Logger receives sign-ins, refusals (rate-limited) and actions.
	Logger *slog.Logger
	// MaxSessions bounds the sessions kept (default 64); MaxLive the live
	// sockets (default 16); SessionTTL a session's life (default 12h).
	MaxSessions int
	MaxLive     int
	SessionTTL  time.Duration
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time
}

// Found is where a connection is, for the search.
type Found struct {
	Conn   string   `json:"conn"`
	Node   string   `json:"node"`
	PID    int      `json:"pid"`
	User   string   `json:"user,omitempty"`
	Remote string   `json:"remote,omitempty"`
	Since  string   `json:"since,omitempty"`
	Rooms  []string `json:"rooms,omitempty"`
}

// Handler serves /admin/.
type Handler struct {
	opts      Options
	log       *slog.Logger
	password  atomic.Pointer[string]
	sessions  *sessions
	failures  *failures
	refused   ratelog.Limiter
	col       *collector
	mux       *http.ServeMux
	live      chan struct{} // one token per live socket
	reloading atomic.Bool
	mu        sync.Mutex // guards closed, so that no goroutine starts after Close
	closed    bool
	wg        sync.WaitGroup
	stop      context.CancelFunc
	ctx       context.Context
}

// New returns a Handler; Start begins collecting, Close ends it.
func New(opts Options) (*Handler, error) {
	if opts.Password == "" || opts.Source == nil || opts.API == nil || opts.Reload == nil || opts.Search == nil {
		return nil, errors.New("adminui: missing a required option")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxSessions <= 0 {
		opts.MaxSessions = 64
	}
	if opts.MaxLive <= 0 {
		opts.MaxLive = 16
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	h := &Handler{
		opts: opts, log: opts.Logger,
		sessions: newSessions(opts.MaxSessions, opts.SessionTTL, opts.Now),
		failures: newFailures(4096, opts.Now),
		col:      newCollector(opts.Source, opts.Rooms, opts.Now),
		live:     make(chan struct{}, opts.MaxLive),
	}
	h.ctx, h.stop = context.WithCancel(context.Background())
	h.SetPassword(opts.Password)
	h.routes()
	return h, nil
}

// Start begins asking the cluster for its snapshot once a second.
func (h *Handler) Start() { h.spawn(func() { h.col.run(h.ctx) }) }

// Close stops collecting and closes the live sockets, and waits for them.
func (h *Handler) Close() {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.stop()
	h.wg.Wait()
}

// spawn runs fn on a goroutine that Close waits for; after Close it does
// not run fn and returns false.
func (h *Handler) spawn(fn func()) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Go(fn)
	return true
}

// SetPassword replaces the password (on reload); "" is ignored.
func (h *Handler) SetPassword(p string) {
	if p != "" {
		h.password.Store(&p)
	}
}

func (h *Handler) routes() {
	static, _ := fs.Sub(assets, "assets") // the directory is embedded: cannot fail
	files := http.FileServerFS(static)
	h.mux = http.NewServeMux()
	h.mux.Handle("GET /admin/", http.StripPrefix("/admin/", noStore(files)))
	h.mux.HandleFunc("POST /admin/login", h.login)
	h.mux.HandleFunc("POST /admin/logout", h.logout)
	h.mux.HandleFunc("GET /admin/session", h.signedIn(func(w http.ResponseWriter, _ *http.Request, s session) {
		writeJSON(w, http.StatusOK, map[string]string{"session": s.ID})
	}))
	h.mux.HandleFunc("GET /admin/live", h.signedIn(h.serveLive))
	h.mux.HandleFunc("GET /admin/search", h.signedIn(h.search))
	h.mux.HandleFunc("POST /admin/publish", h.signedIn(h.action("/api/publish")))
	h.mux.HandleFunc("POST /admin/close", h.signedIn(h.action("/api/close")))
	h.mux.HandleFunc("POST /admin/reload", h.signedIn(h.reload))
}

// ServeHTTP serves /admin/... .
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
	w.Header().Set("Referrer-Policy", "no-referrer")
	if r.Method == http.MethodPost && r.Header.Get(csrfHeader) != "1" {
		writeError(w, http.StatusForbidden, "missing "+csrfHeader+" header")
		return
	}
	h.mux.ServeHTTP(w, r)
}

func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// clientAddr is the request's client address, without the port.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// passwordOK compares in constant time, both hashed first so that the
// time says nothing of the length either.
func (h *Handler) passwordOK(got string) bool {
	g, w := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(*h.password.Load()))
	return subtle.ConstantTimeCompare(g[:], w[:]) == 1
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	addr := clientAddr(r)
	if d := h.failures.wait(addr); d > 0 {
		secs := int(d.Round(time.Second) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
		writeError(w, http.StatusTooManyRequests, "too many wrong passwords: wait "+strconv.Itoa(max(1, secs))+"s")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		writeError(w, http.StatusBadRequest, "bad form")
		return
	}
	if !h.passwordOK(r.PostForm.Get("password")) {
		n := h.failures.fail(addr)
		if ok, dropped := h.refused.Allow(h.opts.Now()); ok {
			h.log.Warn("admin page: wrong password", "remote", addr, "failures", n, "suppressed", dropped)
		}
		writeError(w, http.StatusUnauthorized, "wrong password")
		return
	}
	h.failures.succeed(addr)
	token, s := h.sessions.create()
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: token, Path: "/admin/", MaxAge: int(h.opts.SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	h.log.Info("admin page: signed in", "session", s.ID, "remote", addr)
	writeJSON(w, http.StatusOK, map[string]string{"session": s.ID})
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		if s, ok := h.sessions.get(c.Value); ok {
			h.log.Info("admin page: signed out", "session", s.ID)
		}
		h.sessions.remove(c.Value)
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Path: "/admin/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// signedIn serves fn for a request with a live session, 401 otherwise.
func (h *Handler) signedIn(fn func(http.ResponseWriter, *http.Request, session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			writeError(w, http.StatusUnauthorized, "not signed in")
			return
		}
		s, ok := h.sessions.get(c.Value)
		if !ok {
			writeError(w, http.StatusUnauthorized, "not signed in")
			return
		}
		fn(w, r, s)
	}
}
