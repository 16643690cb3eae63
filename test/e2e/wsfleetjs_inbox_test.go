package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// wsjsWhispers waits until the texts of the whisper lines in the page's
// log are exactly want, in order.
func wsjsWhispers(want ...string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`[...document.querySelectorAll('#log [data-type=whisper] .text')].map(e => e.textContent).join("\n") === %q`,
		strings.Join(want, "\n")))
}

// bobWhispers has bob whisper text to name, and waits for the answer to a
// whoami after it: no error came (a whisper kept for an offline name is
// none).
func bobWhispers(bob *wsClient, to, text string) {
	bob.t.Helper()
	bob.sendChat(chatMsg{Type: "whisper", To: to, Text: text})
	bob.sendChat(chatMsg{Type: "whoami"})
	bob.expectChat("you", "joined", "left", "said")
}

// TestWsfleetJSInbox: the chat page on wsfleet.js tracks the whispers to
// its name as it tracks a room (the library's inbox): it goes to the
// background (onAppHide, socket closed), bob whispers 10 things to it
// meanwhile, and it comes back (onAppShow): its naming join resumes the
// inbox, it shows all 10 once each, in order, after what it had and
// before the live ones, and the inbox answer says recovered.
func TestWsfleetJSInbox(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	bob := wsjsBob(t, c.addr, "lobby")
	opts := map[string]string{"heartbeat": "1000", "deadAfter": "3000", "minDelay": "120000", "maxDelay": "120000"}
	page := newBrowser(t, false)
	wsjsStep(t, page, "alice's page", chromedp.Navigate(wsjsURL(c.addr, "alice", "lobby", opts)),
		wsjsEvents("connected", "", 1), wsjsEvents("joined", "lobby", 1),
		wsjsEvents("inbox", `"recovered":false,"resumed":false`, 1))
	bob.expectChat("joined")
	bobWhispers(bob, "alice", "live 1")
	wsjsStep(t, page, "alice gets bob's whisper", wsjsWhispers("live 1"),
		waitJS(`document.querySelector('#log [data-type=whisper]').dataset.offset !== ""`))

	wsjsStep(t, page, "to the background",
		chromedp.Evaluate[chromedp.Void](`wxShim.hide()`),
		waitJS(`wxShim.sockets().length === 0`))
	want := []string{"live 1"}
	for i := 1; i <= 10; i++ {
		text := fmt.Sprintf("missed %d", i)
		bobWhispers(bob, "alice", text)
		want = append(want, text)
	}
	wsjsStep(t, page, "back", chromedp.Evaluate[chromedp.Void](`wxShim.show()`))
	wsjsStep(t, page, "the page resumes its inbox",
		wsjsEvents("connected", "", 2),
		wsjsEvents("inbox", `"recovered":true,"resumed":true`, 1),
		wsjsWhispers(want...),
	)
	bobWhispers(bob, "alice", "live 2")
	want = append(want, "live 2")
	wsjsStep(t, page, "then live ones", wsjsWhispers(want...),
		waitJS(`(() => { const o = [...document.querySelectorAll('#log [data-type=whisper]')].map(e => Number(e.dataset.offset));
			return o.every((v, i) => i === 0 || v > o[i-1]) && !document.querySelector('#log [data-type=gap]') &&
				!getCurrentPages()[0].log.some(e => e.type === "recovered"); })()`),
	)
}
