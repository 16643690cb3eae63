package adminui

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxActionBody bounds an action's request body.
const maxActionBody = 64 << 10

// action forwards the request body to the HTTP API's call at path (the
// same checks, the same bus subjects), logging who did it and its answer.
func (h *Handler) action(path string) func(http.ResponseWriter, *http.Request, session) {
	return func(w http.ResponseWriter, r *http.Request, s session) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxActionBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "body over "+itoa(maxActionBody)+" bytes")
			return
		}
		req := r.Clone(r.Context())
		req.URL.Path, req.RequestURI = path, ""
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
		req.Header.Set("Content-Type", "application/json")
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		h.opts.API.ServeHTTP(sw, req)
		var what map[string]any
		_ = json.Unmarshal(body, &what) // logged as given; the API said whether it was good
		if d, ok := what["data"].(string); ok && len(d) > 80 {
			what["data"] = d[:80] + "…"
		}
		h.log.Info("admin page: action", "session", s.ID, "action", strings.TrimPrefix(path, "/api/"),
			"request", what, "status", sw.code)
	}
}

// statusWriter remembers the status answered, for the log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// reload reloads this host's master.
func (h *Handler) reload(w http.ResponseWriter, _ *http.Request, s session) {
	if !h.reloading.CompareAndSwap(false, true) {
		writeError(w, http.StatusConflict, "a reload from the page is running")
		return
	}
	h.log.Info("admin page: action", "session", s.ID, "action", "reload")
	started := h.spawn(func() {
		defer h.reloading.Store(false)
		if err := h.opts.Reload(h.ctx); err != nil {
			h.log.Warn("admin page: reload failed", "session", s.ID, "err", err)
			return
		}
		h.log.Info("admin page: reload done", "session", s.ID)
	})
	if !started {
		h.reloading.Store(false)
		writeError(w, http.StatusServiceUnavailable, "stopping")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

// search finds a connection id or a user.
func (h *Handler) search(w http.ResponseWriter, r *http.Request, _ session) {
	q := r.URL.Query().Get("q")
	if q == "" || len(q) > 256 {
		writeError(w, http.StatusBadRequest, "q: want 1 to 256 bytes")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	found, err := h.opts.Search(ctx, q)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, "search: "+err.Error())
		return
	}
	if found == nil {
		found = []Found{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"found": found})
}

func itoa(n int) string { return strconv.Itoa(n) }

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
