package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWsfleetJSResume needs the server side of issue 14 (history and
// join "since" in the chat app): the chat page on wsfleet.js is in a room,
// loses its connection, bob says 20 messages meanwhile, and the page comes
// back: it shows all 20, once each, in order, after what it had and before
// the live ones, and its rejoin reports a complete recovery. Twice: the
// page goes to the background (onAppHide, socket closed) and comes back
// (onAppShow); and the connection is cut silently by a proxy, which the
// library notices by its heartbeat.
func TestWsfleetJSResume(t *testing.T) {
	for _, how := range []string{"background", "silent-cut"} {
		t.Run(how, func(t *testing.T) {
			c := startCluster(t, clusterOpts{count: 2, app: "chat"})
			bob := wsjsBob(t, c.addr, "lobby")
			opts := map[string]string{"heartbeat": "1000", "deadAfter": "3000", "minDelay": "200", "maxDelay": "1000"}
			var proxy *cutProxy
			if how == "silent-cut" {
				proxy = startCutProxy(t, c.addr)
				opts["socketUrl"] = "ws://" + proxy.addr + "/"
			} else {
				// Only onAppShow brings it back.
				opts["minDelay"], opts["maxDelay"] = "120000", "120000"
			}
			page := newBrowser(t, false)
			wsjsStep(t, page, "alice's page", chromedp.Navigate(wsjsURL(c.addr, "alice", "lobby", opts)),
				wsjsEvents("connected", "", 1), wsjsEvents("joined", "lobby", 1))
			bob.expectChat("joined")
			bobSays(bob, "lobby", "live 1")
			wsjsStep(t, page, "alice hears bob", wsjsSaid("live 1"),
				waitJS(`document.querySelector('#log [data-type=said]').dataset.offset !== ""`)) // the server sends positions

			if how == "background" {
				wsjsStep(t, page, "to the background",
					chromedp.Evaluate[chromedp.Void](`wxShim.hide()`),
					waitJS(`wxShim.sockets().length === 0`))
			} else {
				proxy.cut()
			}
			want := []string{"live 1"}
			for i := 1; i <= 20; i++ {
				text := fmt.Sprintf("missed %d", i)
				bobSays(bob, "lobby", text)
				want = append(want, text)
			}
			if how == "background" {
				wsjsStep(t, page, "back", chromedp.Evaluate[chromedp.Void](`wxShim.show()`))
			}
			wsjsStep(t, page, "the page resumes",
				wsjsEvents("connected", "", 2),
				wsjsEvents("joined", `"recovered":true,"resumed":true`, 1),
				wsjsSaid(want...),
			)
			bobSays(bob, "lobby", "live 2")
			want = append(want, "live 2")
			wsjsStep(t, page, "then live ones", wsjsSaid(want...),
				// Once each, offsets strictly increasing, and no gap reported.
				waitJS(`(() => { const o = [...document.querySelectorAll('#log [data-type=said]')].map(e => Number(e.dataset.offset));
					return o.every((v, i) => i === 0 || v > o[i-1]) && !document.querySelector('#log [data-type=gap]') &&
						!getCurrentPages()[0].log.some(e => e.type === "recovered"); })()`),
			)
		})
	}
}
