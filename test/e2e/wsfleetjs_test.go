package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The mini-program chat page (examples/miniprogram/pages/chat) on the wx
// shim, built on web/wsfleet.js; page is its Page instance in the tab.
const wsjsPageJS = `getCurrentPages()[0]`

// wsjsURL is the demo page showing the chat page as name in room, with the
// library's options (heartbeat, deadAfter, minDelay, maxDelay, socketUrl).
func wsjsURL(addr, name, room string, opts map[string]string) string {
	q := url.Values{"page": {"pages/chat/chat"}, "name": {name}, "room": {room}}
	for k, v := range opts {
		q.Set(k, v)
	}
	return "http://" + addr + "/?" + q.Encode()
}

// wsjsEvents waits until the page's library has logged n events of type typ
// whose detail, as JSON, contains detail ("" for any).
func wsjsEvents(typ, detail string, n int) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`(%s?.log || []).filter(e => e.type === %q && JSON.stringify(e.detail || "").includes(%q)).length >= %d`,
		wsjsPageJS, typ, detail, n))
}

// wsjsSaid waits until the texts of the said lines in the page's log
// (rendered, #log) are exactly want, in order.
func wsjsSaid(want ...string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`[...document.querySelectorAll('#log [data-type=said] .text')].map(e => e.textContent).join("\n") === %q`,
		strings.Join(want, "\n")))
}

// wsjsSay types text into the page and taps Send.
func wsjsSay(text string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(p => { p.setData({text: %q}); p.say(); })(%s)`, text, wsjsPageJS))
}

// wsjsDump describes the page for a failure message: the library's events
// and the log's lines.
func wsjsDump(ctx context.Context) string {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5e9)
	defer cancel()
	s, err := chromedp.Run(dctx, chromedp.Evaluate[string](`JSON.stringify(getCurrentPages()[0]?.log) + "\n" +
		[...document.querySelectorAll("#log > *")].map(e => JSON.stringify(Object.assign({}, e.dataset)) + " " + e.textContent).join("\n")`))
	if err != nil {
		return "(cannot read the page: " + err.Error() + ")"
	}
	return s
}

// wsjsStep runs actions in the page; a failure shows the page.
func wsjsStep(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v\nthe page:\n%s", what, err, wsjsDump(ctx))
	}
}

// wsjsBob is a member of room on a plain WebSocket connection.
func wsjsBob(t *testing.T, addr, room string) *wsClient {
	bob := dialWS(t, addr)
	bob.sendChat(chatMsg{Type: "join", Room: room, Name: "bob"})
	bob.expectChat("joined")
	return bob
}

// bobSays has bob say text and waits for his own copy.
func bobSays(bob *wsClient, room, text string) {
	bob.t.Helper()
	bob.sendChat(chatMsg{Type: "say", Room: room, Text: text})
	for {
		m := bob.expectChat("said", "joined", "left")
		if m.From == "bob" && m.Text == text {
			return
		}
	}
}

// TestWsfleetJSReconnect: the chat page on wsfleet.js in a mini-program
// (the wx shim) goes to the background (onAppHide, its socket closed, as
// WeChat does) and says three things meanwhile, which the library queues;
// it comes back (onAppShow) and reconnects at once (its back-off is set to
// 60-120 s, so only onAppShow can explain a prompt reconnect), joins the room
// again, and sends the queued messages, in order, after the join: bob
// hears them in order, and then the page gets live messages again.
func TestWsfleetJSReconnect(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	bob := wsjsBob(t, c.addr, "lobby")
	page := newBrowser(t, false)
	wsjsStep(t, page, "alice's page", chromedp.Navigate(wsjsURL(c.addr, "alice", "lobby",
		map[string]string{"minDelay": "120000", "maxDelay": "120000"})),
		wsjsEvents("connected", "", 1), wsjsEvents("joined", "lobby", 1))
	bob.expectChat("joined") // alice's
	bobSays(bob, "lobby", "live 1")
	wsjsStep(t, page, "alice hears bob", wsjsSaid("live 1"))

	wsjsStep(t, page, "to the background",
		chromedp.Evaluate[chromedp.Void](`wxShim.hide()`),
		wsjsEvents("disconnected", "", 1),
		waitJS(`wxShim.sockets().length === 0 && getCurrentPages()[0].client.state !== "open"`),
		wsjsSay("queued 1"), wsjsSay("queued 2"), wsjsSay("queued 3"),
		waitJS(`getCurrentPages()[0].client.queue.length === 3`),
	)
	bob.expectChat("left") // alice's connection closed
	wsjsStep(t, page, "back to the foreground",
		chromedp.Evaluate[chromedp.Void](`wxShim.show()`),
		wsjsEvents("connected", "", 2),
		wsjsEvents("joined", "lobby", 2),
	)
	// The queued messages go once the rejoin is answered: after it.
	if m := bob.expectChat("joined", "left"); m.Name != "alice" {
		t.Fatalf("bob got %+v, want alice's join first", m)
	}
	for _, want := range []string{"queued 1", "queued 2", "queued 3"} {
		if m := bob.expectChat("said"); m.From != "alice" || m.Text != want {
			t.Fatalf("bob got %+v, want alice's %q", m, want)
		}
	}
	bobSays(bob, "lobby", "live 2")
	wsjsStep(t, page, "alice's log after", wsjsSaid("live 1", "queued 1", "queued 2", "queued 3", "live 2"),
		waitJS(`getCurrentPages()[0].client.queue.length === 0 && wxShim.sockets().length === 1`))
}

// TestWsfleetJSDeadConnection: the page reaches the cluster through a proxy
// that then stops forwarding without closing anything. The library (its
// heartbeat set to 1 s, deadAfter to 3 s) notices, says so (disconnected,
// dead), connects again through the proxy, joins the room again, and live
// messages flow.
func TestWsfleetJSDeadConnection(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	proxy := startCutProxy(t, c.addr)
	bob := wsjsBob(t, c.addr, "lobby")
	page := newBrowser(t, false)
	wsjsStep(t, page, "alice's page", chromedp.Navigate(wsjsURL(c.addr, "alice", "lobby", map[string]string{
		"socketUrl": "ws://" + proxy.addr + "/", "heartbeat": "1000", "deadAfter": "3000", "minDelay": "200", "maxDelay": "1000"})),
		wsjsEvents("connected", "", 1), wsjsEvents("joined", "lobby", 1))
	bob.expectChat("joined")
	bobSays(bob, "lobby", "live 1")
	wsjsStep(t, page, "alice hears bob", wsjsSaid("live 1"))

	proxy.cut()
	wsjsStep(t, page, "the library notices",
		wsjsEvents("disconnected", `"dead":true`, 1),
		wsjsEvents("connected", "", 2),
		wsjsEvents("joined", "lobby", 2),
	)
	if n := proxy.connections(); n != 2 {
		t.Fatalf("the proxy accepted %d connections, want 2 (the cut one and the new one)", n)
	}
	bobSays(bob, "lobby", "live 2")
	wsjsStep(t, page, "alice hears bob again", wsjsSaid("live 1", "live 2"))
}

// TestWsfleetJSBrowser: the same library in a plain browser page
// (<script src="/wsfleet.js">, over WebSocket): connect, join, hear; after
// the socket is closed under it, reconnect at once when the browser comes
// back online, join again, hear again; and the send queue's bounds.
func TestWsfleetJSBrowser(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	bob := wsjsBob(t, c.addr, "lobby")
	page := newBrowser(t, false)
	const setup = `(() => {
		window.said = []; window.events = [];
		const c = wsfleet.connect("ws://" + location.host + "/", { name: "carol", minDelay: 120000, maxDelay: 120000 });
		for (const e of ["connecting", "connected", "disconnected", "joined", "recovered", "error"]) c.on(e, d => events.push(e));
		c.on("message", m => { if (m.type === "said") said.push(m.text); });
		c.join("lobby");
		window.client = c;
	})()`
	wsjsStep(t, page, "a page with the library",
		chromedp.Navigate("http://"+c.addr+"/wsfleet.js"), // same origin, any page will do
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.createElement("script"); s.src = "/wsfleet.js"; document.head.appendChild(s); })()`),
		waitJS(`typeof wsfleet === "object" && typeof wx === "undefined"`),
		chromedp.Evaluate[chromedp.Void](setup),
		waitJS(`events.filter(e => e === "joined").length === 1`),
	)
	bob.expectChat("joined")
	bobSays(bob, "lobby", "hi carol")
	wsjsStep(t, page, "carol hears bob", waitJS(`said.join() === "hi carol"`),
		chromedp.Evaluate[chromedp.Void](`client._t.close(4001, "test")`),
		waitJS(`events.includes("disconnected") && client.state === "waiting"`),
		// Its back-off is 60-120 s: only the online event explains a prompt reconnect.
		chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event("online"))`),
		waitJS(`events.filter(e => e === "joined").length === 2`),
	)
	bobSays(bob, "lobby", "again")
	wsjsStep(t, page, "carol hears bob again", waitJS(`said.join() === "hi carol,again"`))

	// The queue's bounds, on a client that cannot connect (port 1):
	// two messages (36 bytes each) queue, the third throws, and so does one
	// past the bytes.
	got, err := chromedp.Run(page, chromedp.Evaluate[string](`(() => {
		const c = wsfleet.connect("ws://127.0.0.1:1/", { maxQueue: 2, maxQueueBytes: 100, minDelay: 60000, maxDelay: 60000 });
		const out = [c.send({ type: "say", room: "x", text: "1" }), c.send({ type: "say", room: "x", text: "2" })];
		try { c.send("3"); out.push("no error"); } catch (e) { out.push(e.message); }
		const d = wsfleet.connect("ws://127.0.0.1:1/", { maxQueue: 2, maxQueueBytes: 100, minDelay: 60000, maxDelay: 60000 });
		try { d.send("x".repeat(101)); out.push("no error"); } catch (e) { out.push(e.message); }
		out.push(c.queue.length, d.queue.length);
		c.close(); d.close();
		return JSON.stringify(out);
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	const wantQ = `[false,false,"wsfleet: send queue full while disconnected (at most 2 messages and 100 bytes; 2 messages, 72 bytes queued)","wsfleet: send queue full while disconnected (at most 2 messages and 100 bytes; 0 messages, 0 bytes queued)",2,0]`
	if got != wantQ {
		t.Fatalf("the queue's bounds:\n got %s\nwant %s", got, wantQ)
	}
}
