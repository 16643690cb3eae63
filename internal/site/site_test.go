package site

import (
	"bytes"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestRoutes(t *testing.T) {
	h := Handler(os.DirFS("../..")) // the files wsfleet.Assets embeds, from the checkout
	for _, tc := range []struct {
		method, path string
		status       int
		contains     string
	}{
		{"GET", "/", 200, "wx.js"},
		{"HEAD", "/", 200, ""},
		{"GET", "/wx.js", 200, "connectSocket"},
		{"GET", "/miniprogram/pages/index/index.wxml", 200, "bindtap"},
		{"GET", "/miniprogram/app.js", 200, "socketUrl"},
		{"GET", "/wsfleet.js", 200, "deadAfter"},
		{"GET", "/miniprogram/wsfleet.js", 200, "deadAfter"},
		{"GET", "/nope", 404, ""},
		{"GET", "/miniprogram/pages", 404, ""},
		{"GET", "/../go.mod", 404, ""},
		{"POST", "/", 405, ""},
		{"DELETE", "/wx.js", 405, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("%s %s = %d (%d bytes), want %d containing %q", tc.method, tc.path, rec.Code, rec.Body.Len(), tc.status, tc.contains)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/wx.js", nil))
	if ct := rec.Header().Get("Content-Type"); ct != "text/javascript; charset=utf-8" {
		t.Errorf("wx.js content type %q", ct)
	}
}

// TestWsfleetJSCopy: the mini-program example keeps a copy of the client
// library next to its app.js, as a mini-program must; it is web/wsfleet.js.
func TestWsfleetJSCopy(t *testing.T) {
	a, err := os.ReadFile("../../web/wsfleet.js")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../../examples/miniprogram/wsfleet.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Fatal("examples/miniprogram/wsfleet.js differs from web/wsfleet.js: cp web/wsfleet.js examples/miniprogram/")
	}
}
