package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gobwas/ws"
)

// Issue 17: the admin page, in chromium, against two hosts in network
// namespaces. The browser runs in the test's namespace and reaches host
// 1's admin listener through a TCP relay on 127.0.0.1 that dials into
// host 1's namespace.

// relayInto listens on 127.0.0.1 and relays every connection to addr in
// host i's namespace, until the test ends.
func relayInto(t *testing.T, h *netHosts, i int, addr string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dial := h.dialFrom(i)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []net.Conn
	track := func(c net.Conn) {
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
	}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			track(c)
			wg.Go(func() {
				defer c.Close()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				up, err := dial(ctx, "tcp", addr)
				cancel()
				if err != nil {
					return
				}
				track(up)
				defer up.Close()
				var pipes sync.WaitGroup
				pipes.Go(func() { io.Copy(up, c); up.(*net.TCPConn).CloseWrite() })
				io.Copy(c, up)
				pipes.Wait()
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range open {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// writeSecret writes a 0600 file holding s.
func writeSecret(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// hostConnID finds, in host master's connections, the one whose remote
// is cl's local address.
func hostConnID(t *testing.T, m *hostMaster, cl *wsClient) string {
	t.Helper()
	var id string
	waitFor(t, 15*time.Second, func() error {
		cs, err := queryConnections(m.pidFile)
		if err != nil {
			return err
		}
		for _, c := range cs.Connections {
			if c.Remote == cl.local {
				id = c.ID
				return nil
			}
		}
		return fmt.Errorf("%s not among %d connections", cl.local, len(cs.Connections))
	})
	return id
}

// TestAdminPage: a wrong password is refused; signed in, the page shows
// both hosts; 300 clients connect and the page's count and chart follow
// within two seconds; a publish from the page reaches clients of both
// hosts; a close from the page closes a connection with the chosen code;
// the search finds it first; host 2 stops and the page shows it gone.
// With WSFLEET_E2E_SCREENSHOTS=DIR it saves DIR/admin-{login,live,gone}.png.
func TestAdminPage(t *testing.T) {
	h := newNetHosts(t, 2)
	pw := writeSecret(t, "  correct horse\n")
	m1 := h.start(1, "chat", "-admin-listen", h.ip(1)+":9090", "-admin-password-file", pw, "-grace", "1s")
	m2 := h.start(2, "chat", "-admin-listen", h.ip(2)+":9090", "-admin-password-file", pw)
	page := "http://" + relayInto(t, h, 1, h.ip(1)+":9090") + "/admin/"

	ctx := newBrowser(t, false)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			body, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.querySelector("#state").textContent + "\n" + document.body.innerText`))
			t.Fatalf("%s: %v\npage: %.3000s", what, err, body)
		}
	}
	shoot := func(name string) {
		dir := os.Getenv("WSFLEET_E2E_SCREENSHOTS")
		if dir == "" {
			return
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.activeElement?.blur(), window.scrollTo(0, 0), true`)); err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(dir, "admin-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	within := func(d time.Duration, expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d))
	}

	step("open the page",
		chromedp.EmulateViewport(1280, 1500),
		chromedp.Navigate(page),
		waitJS(`!document.querySelector("#login-view").hidden`))
	step("a wrong password",
		chromedp.SendKeys(chromedp.CSS("#password"), "wrong horse"),
		chromedp.Click(chromedp.CSS("#signin")),
		waitText("#login-error", "wrong password"))
	shoot("login")
	step("sign in",
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse"),
		chromedp.Click(chromedp.CSS("#signin")),
		waitJS(`!document.querySelector("#main-view").hidden`),
		waitJS(`document.querySelectorAll("#hosts tbody tr:not(.gone)").length === 2 &&
			document.querySelector("#total-conns").textContent === "0" &&
			document.querySelectorAll("#workers tbody tr").length === 4`))

	// 300 clients, half on each host; the page follows within 2s of the last.
	var clients []*wsClient
	for i := range 300 {
		host := i%2 + 1
		clients = append(clients, h.dialWS(host, host))
	}
	step("the page counts 300 within 2s",
		within(2*time.Second, `document.querySelector("#total-conns").textContent === "300" &&
			document.querySelector("#chart-conns").dataset.last === "300"`))
	step("every worker row, and the chart drawn",
		waitJS(`[...document.querySelectorAll("#workers tbody tr")].reduce((n, tr) => n + Number(tr.children[3].textContent), 0) === 300 &&
			document.querySelector("#chart-conns path.line")?.getAttribute("d").length > 10`))

	// Rooms: ten clients (both hosts) in lobby, three in ops.
	for i, cl := range clients[:13] {
		room := "lobby"
		if i >= 10 {
			room = "ops"
		}
		cl.sendChat(chatMsg{Type: "join", Room: room, Name: fmt.Sprintf("u%d", i)})
		cl.expectChat("joined")
	}
	step("the largest rooms",
		waitJS(`[...document.querySelectorAll("#rooms tbody tr")].map(tr => tr.textContent).join(",") === "lobby10,ops3"`))

	// Publish to a room from the page: its members on both hosts get it.
	a, b := clients[0], clients[1] // on host 1 and host 2
	step("publish",
		chromedp.SetValue(chromedp.CSS("#pub-kind"), "room"),
		chromedp.SendKeys(chromedp.CSS("#pub-name"), "lobby"),
		chromedp.SendKeys(chromedp.CSS("#pub-text"), "hello from the admin page"),
		chromedp.Click(chromedp.CSS("#pub-send")),
		waitText("#pub-result", "published to room lobby"))
	waitMessage(t, a, "hello from the admin page")
	waitMessage(t, b, "hello from the admin page")
	shoot("live")

	// Search, then close, a connection of host 2 from host 1's page.
	id := hostConnID(t, m2, b)
	step("search",
		chromedp.SendKeys(chromedp.CSS("#search-q"), id),
		chromedp.Click(chromedp.CSS("#search-go")),
		waitText("#search-results", "host h2, worker "),
		waitText("#search-results", b.local),
		waitText("#search-results", "rooms lobby"))
	step("close",
		chromedp.SetValue(chromedp.CSS("#close-conn"), id),
		chromedp.SetValue(chromedp.CSS("#close-code"), "4001"),
		chromedp.SetValue(chromedp.CSS("#close-reason"), "from the page"),
		chromedp.Click(chromedp.CSS("#close-send")),
		waitText("#close-result", "closed "+id+" with 4001"))
	if ev := b.expectClose(10*time.Second, ws.StatusCode(4001)); ev.reason != "from the page" {
		t.Fatalf("close reason %q, want %q", ev.reason, "from the page")
	}
	// Host 1's log names the wrong password and each action's session.
	sid, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#who").textContent.replace("session ", "")`))
	if err != nil || len(sid) != 8 {
		t.Fatalf("session id on the page: %q, %v", sid, err)
	}
	waitFor(t, 5*time.Second, func() error {
		b, err := os.ReadFile(m1.out)
		if err != nil {
			return err
		}
		log := string(b)
		for _, want := range []string{"admin page: wrong password", "admin page: signed in",
			"session=" + sid + " action=publish", "session=" + sid + " action=close"} {
			if !strings.Contains(log, want) {
				return fmt.Errorf("host 1's log lacks %q", want)
			}
		}
		return nil
	})
	step("the close drawn", waitText("#closes-legend", "close 4xxx"),
		waitJS(`document.querySelectorAll("#chart-closes path").length === 2`))

	// Host 2 dies: the page shows it gone within a few seconds.
	m2.kill(t)
	step("host 2 gone",
		within(5*time.Second, `document.querySelector('#hosts tr[data-node="h2"]')?.classList.contains("gone") &&
			document.querySelector('#hosts tr[data-node="h2"] td.state').textContent === "gone" &&
			document.querySelector("#total-conns").textContent === "150"`))
	shoot("gone")

	// Reload host 1 from the page, confirmed: its workers are replaced,
	// and the page shows the new ones.
	before, err := queryStatus(m1.pidFile)
	if err != nil {
		t.Fatal(err)
	}
	old := map[int]bool{}
	for _, w := range before.Workers {
		old[w.PID] = true
	}
	step("ask to reload",
		chromedp.Click(chromedp.CSS("#reload")),
		waitJS(`!document.querySelector("#reload-confirm-box").hidden`))
	step("confirm",
		chromedp.Click(chromedp.CSS("#reload-confirm")),
		waitText("#reload-result", "reload started"))
	var fresh []string
	waitFor(t, 30*time.Second, func() error {
		st, err := queryStatus(m1.pidFile)
		if err != nil {
			return err
		}
		fresh = fresh[:0]
		for _, w := range st.Workers {
			if old[w.PID] || w.State != "running" {
				return fmt.Errorf("worker %d (%s) not replaced yet", w.PID, w.State)
			}
			fresh = append(fresh, strconv.Itoa(w.PID))
		}
		return nil
	})
	step("the new workers shown, ready",
		waitJS(fmt.Sprintf(`[...document.querySelectorAll("#workers tbody tr")].map(tr => tr.dataset.pid).sort().join(",") === %q`,
			strings.Join(slices.Sorted(slices.Values(fresh)), ","))),
		waitJS(`[...document.querySelectorAll("#workers tbody tr")].every(tr => tr.children[2].textContent === "ready")`))
	if _, err := queryStatus(m1.pidFile); err != nil {
		t.Fatalf("host 1 after host 2 died: %v", err)
	}
}

// TestAdminPageOff: without -admin-password-file there is no admin page;
// with it, the page loads but nothing behind the sign-in answers without a
// session, and a POST without the page's header is refused.
func TestAdminPageOff(t *testing.T) {
	off, on := freeAddr(t), freeAddr(t)
	startCluster(t, clusterOpts{count: 1, extra: []string{"-admin-listen", off}})
	if code, body := adminGet(t, off, "/admin/"); code != http.StatusNotFound {
		t.Fatalf("/admin/ without -admin-password-file: %d %s, want 404", code, body)
	}
	startCluster(t, clusterOpts{count: 1, extra: []string{"-admin-listen", on, "-admin-password-file", writeSecret(t, "pw\n")}})
	code, body := adminGet(t, on, "/admin/")
	if code != http.StatusOK || !strings.Contains(body, "<title>wsfleet admin</title>") {
		t.Fatalf("/admin/: %d %.200s", code, body)
	}
	for _, p := range []string{"/admin/session", "/admin/live", "/admin/search?q=x"} {
		if code, body := adminGet(t, on, p); code != http.StatusUnauthorized {
			t.Fatalf("%s without a session: %d %s, want 401", p, code, body)
		}
	}
	res, err := http.Post("http://"+on+"/admin/login", "application/x-www-form-urlencoded", strings.NewReader("password=pw"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
		t.Fatalf("a sign-in without the X-Wsfleet-Admin header (a cross-site form): %d, cookies %v; want 403 and none", res.StatusCode, res.Cookies())
	}
}
