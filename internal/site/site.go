// Package site serves the demo page on the WebSocket port: the tutorial's
// mini-program page running on the wx shim, from files embedded in the
// binary. Only GET and HEAD of the known files are served; every other path
// is 404 and every other method 405.
package site

import (
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// Handler serves the demo page from assets, which holds web/ and
// examples/miniprogram/ (wsfleet.Assets).
func Handler(assets fs.FS) http.Handler {
	return handler{assets}
}

type handler struct{ fs fs.FS }

func (h handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := h.file(r.URL.Path)
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, err := fs.ReadFile(h.fs, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", contentType(name))
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(b)
}

// file maps a URL path to an embedded file: / is the demo page, /wx.js and
// friends are web/ (/wsfleet.js the client library), /miniprogram/... is
// examples/miniprogram/...
func (h handler) file(p string) (string, bool) {
	p = path.Clean("/" + p)
	switch {
	case p == "/":
		return "web/index.html", true
	case strings.HasPrefix(p, "/miniprogram/"):
		name := "examples" + p
		st, err := fs.Stat(h.fs, name)
		return name, err == nil && !st.IsDir()
	}
	name := "web" + p
	st, err := fs.Stat(h.fs, name)
	return name, err == nil && !st.IsDir()
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".wxml", ".wxss", ".md":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
