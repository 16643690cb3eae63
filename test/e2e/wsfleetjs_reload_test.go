package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gobwas/ws"
)

// histSender is a chat member on a Go connection that says messages one
// at a time, each after the server's copy of the one before, and survives
// the cluster closing its connection: it reconnects, rejoins since the
// last message it saw, and learns from the replay whether the message on
// its way was kept, so that it says every message exactly once.
type histSender struct {
	t    *testing.T
	addr string
	room string
	name string
	cl   *wsClient
	last *histSince
	// reconnects counts the connections after the first.
	reconnects int
}

// errNotRecovered: a rejoin since a position was not complete.
var errNotRecovered = errors.New("recovery not complete")

// connect dials (again, while the cluster is restarting) and joins since
// the last position; it returns the texts replayed.
func (s *histSender) connect() ([]string, error) {
	var cl *wsClient
	err := poll(30*time.Second, func() error {
		var err error
		cl, err = tryDialWSURL(ws.Dialer{}, "ws://"+s.addr+"/")
		return err
	})
	if err != nil {
		return nil, err
	}
	cl.t = s.t
	b, _ := json.Marshal(histMsg{Type: "join", Room: s.room, Name: s.name, Since: s.last})
	if err := cl.write(ws.OpText, b); err != nil {
		cl.close()
		return nil, err
	}
	var replayed []string
	for {
		m, err := readHist(cl, 10*time.Second)
		if err != nil {
			cl.close()
			return nil, err
		}
		switch {
		case m.Type == "said" && m.From == s.name && m.Offset != nil:
			replayed = append(replayed, m.Text)
			s.last = &histSince{Offset: *m.Offset, Epoch: m.Epoch}
		case m.Type == "joined" && m.Name == s.name:
			if s.last != nil && (m.Recovered == nil || !*m.Recovered) {
				cl.close()
				return nil, fmt.Errorf("%w: the sender's rejoin since %+v: %+v", errNotRecovered, *s.last, m)
			}
			if s.last == nil {
				s.last = &histSince{Epoch: m.Epoch}
				if m.Offset != nil {
					s.last.Offset = *m.Offset
				}
			}
			s.cl = cl
			return replayed, nil
		}
	}
}

// say says text once: it is in the room's history exactly once when say
// returns.
func (s *histSender) say(text string) error {
	for range 10 {
		if s.cl == nil {
			replayed, err := s.connect()
			if errors.Is(err, errNotRecovered) {
				return err
			}
			if err != nil {
				continue // closed again on the way (the cluster stopping): again
			}
			s.reconnects++
			if len(replayed) > 0 && replayed[len(replayed)-1] == text {
				return nil // kept before the connection closed
			}
		}
		closed, err := s.sayOnce(text)
		switch {
		case err == nil:
			return nil
		case !closed:
			return err
		}
		s.cl.close() // the cluster closed it (reload, restart): again
		s.cl = nil
	}
	return fmt.Errorf("tried to say %q ten times without an answer", text)
}

// sayOnce sends text and waits for the server's copy of it; closed says
// the connection failed on the way.
func (s *histSender) sayOnce(text string) (closed bool, err error) {
	b, _ := json.Marshal(histMsg{Type: "say", Room: s.room, Text: text})
	if err := s.cl.write(ws.OpText, b); err != nil {
		return true, err
	}
	for {
		m, err := readHist(s.cl, 10*time.Second)
		if err != nil {
			return true, err
		}
		if m.Type == "said" && m.From == s.name && m.Text == text {
			if m.Offset == nil {
				return false, fmt.Errorf("said %q without a position", text)
			}
			s.last = &histSince{Offset: *m.Offset, Epoch: m.Epoch}
			return false, nil
		}
	}
}

// readHist reads the next chat message, or fails.
func readHist(cl *wsClient, timeout time.Duration) (histMsg, error) {
	ev, err := cl.readMessage(timeout)
	if err != nil {
		return histMsg{}, err
	}
	var m histMsg
	if err := json.Unmarshal(ev.data, &m); err != nil {
		return histMsg{}, fmt.Errorf("not chat JSON: %q", ev.data)
	}
	return m, nil
}

// newBrowserTabs starts chromium with n tabs, none throttled in the
// background, for up to timeout.
func newBrowserTabs(t *testing.T, n int, timeout time.Duration) []context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("this test needs Debian's chromium at %s (apt-get install chromium fonts-noto-cjk): %v", chromiumPath, err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromiumPath), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
	)
	first, cancelFirst := chromedp.NewContext(actx)
	tctx, cancelTimeout := context.WithTimeout(first, timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelFirst()
		cancelAlloc()
	})
	// The browser starts with the first tab; the others open in it.
	if err := chromedp.Do(tctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("chromium: %v", err)
	}
	tabs := []context.Context{tctx}
	for range n - 1 {
		tab, cancel := chromedp.NewContext(tctx)
		t.Cleanup(cancel)
		tabs = append(tabs, tab)
	}
	return tabs
}

// TestWsfleetJSAcrossReloadRestart: three chat pages on web/wsfleet.js
// (the mini-program chat page through the wx shim, one tab each) in a
// room, while a Go member says 300 messages, each after the server's copy
// of the one before; a `reload` after the 100th and a `restart` after the
// 200th close every connection while messages keep coming (the 250th waits
// for the old master to be gone). At the end each
// page's message handler got the 300 messages exactly once, in order, and
// no page heard of an incomplete recovery.
func TestWsfleetJSAcrossReloadRestart(t *testing.T) {
	const total = 300
	c := startCluster(t, clusterOpts{count: 2, app: "chat", grace: 2 * time.Second,
		extra: []string{"-history", "lobby=1000,1h;*=100,1h", "-handoff=false"}}) // clients that reconnect
	opts := map[string]string{"heartbeat": "2000", "deadAfter": "5000", "minDelay": "200", "maxDelay": "1000"}
	names := []string{"p1", "p2", "p3"}
	tabs := newBrowserTabs(t, len(names), 5*time.Minute)
	for i, tab := range tabs {
		wsjsStep(t, tab, names[i]+"'s page", chromedp.Navigate(wsjsURL(c.addr, names[i], "lobby", opts)),
			wsjsEvents("connected", "", 1), wsjsEvents("joined", "lobby", 1),
			// The page's message handler, as the library calls it: record the said texts.
			waitJS(`(p => { if (p.got) return true; p.got = []; const on = p.onChat.bind(p);
				p.onChat = m => { if (m && m.type === "said") p.got.push(m.text); on(m); }; return true; })(getCurrentPages()[0])`))
	}

	s := &histSender{t: t, addr: c.addr, room: "lobby", name: "sender"}
	if _, err := s.connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cl != nil {
			s.cl.close()
		}
	})
	var want []string
	var reload *bgProc
	before := c.status()
	for k := 1; k <= total; k++ {
		text := fmt.Sprintf("s%d", k)
		if err := s.say(text); err != nil {
			t.Fatalf("message %d: %v", k, err)
		}
		want = append(want, text)
		switch k {
		case 100:
			reload = c.runBackground("reload", "-pid-file", c.pidFile)
		case 200:
			// One after the other, as an operator would.
			if code, err := reload.wait(60 * time.Second); code != 0 || err != nil {
				t.Fatalf("reload: exit %d, %v", code, err)
			}
			// reload returns once the new workers run; the old ones
			// close their connections after -grace. The restart must
			// find the pages on the new workers, or it closes nothing
			// of theirs.
			for i, tab := range tabs {
				wsjsStep(t, tab, names[i]+" reconnected after the reload", wsjsEvents("joined", `"resumed":true`, 1))
			}
			c.runBackground("restart", "-pid-file", c.pidFile)
		case 250:
			// The restart closes the sender's connection before the
			// last messages, however slow it is to begin: on CI's
			// loaded machine the sender once said all 300 before it did.
			if code := c.waitFgExit(60 * time.Second); code != 0 {
				t.Errorf("the old foreground master exited %d on restart, want 0", code)
			}
		}
	}
	waitFor(t, readyTimeout, func() error {
		st, err := c.tryStatus()
		if err != nil {
			return err
		}
		if st.Master.PID == before.Master.PID {
			return fmt.Errorf("master pid still %d", st.Master.PID)
		}
		return nil
	})
	if s.reconnects < 2 {
		t.Fatalf("the sender reconnected %d times, want at least 2 (reload, restart)", s.reconnects)
	}
	wantJS, _ := json.Marshal(want)
	for i, tab := range tabs {
		if err := chromedp.Do(tab, waitJS(fmt.Sprintf(`JSON.stringify(getCurrentPages()[0].got) === %q`, wantJS))); err != nil {
			raw, _ := chromedp.Run(tab, chromedp.Evaluate[string](`JSON.stringify(getCurrentPages()[0].got)`))
			var got []string
			json.Unmarshal([]byte(raw), &got)
			t.Fatalf("%s's handler: %s", names[i], describeDiff(got, want))
		}
		wsjsStep(t, tab, names[i]+" has every message once, in order",
			waitJS(fmt.Sprintf(`JSON.stringify(getCurrentPages()[0].got) === %q`, wantJS)),
			// Reconnected twice at least, resumed each time, never incomplete.
			wsjsEvents("connected", "", 3), wsjsEvents("joined", `"resumed":true`, 2),
			waitJS(`!getCurrentPages()[0].log.some(e => e.type === "recovered") && !document.querySelector('#log [data-type=gap]')`))
	}
}

// describeDiff says where got, a list of texts, departs from want.
func describeDiff(got, want []string) string {
	seen := map[string]int{}
	var dups []string
	for _, g := range got {
		if seen[g]++; seen[g] == 2 {
			dups = append(dups, g)
		}
	}
	var missing []string
	for _, w := range want {
		if seen[w] == 0 {
			missing = append(missing, w)
		}
	}
	first := -1
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			first = i
			break
		}
	}
	return fmt.Sprintf("%d messages, want %d; repeated %v; missing %v; first out of place at %d", len(got), len(want), dups, missing, first)
}

// TestStopDuringReload: a stop that comes while a reload's new worker is
// starting ends the cluster cleanly (the master once panicked there: the
// failed start's nil process was adopted and stopped). The stop is sent as
// soon as the master logs the reload, inside the first start's window.
func TestStopDuringReload(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "chat"})
	// Not runBackground: the stop cuts this reload short, its exit is 1.
	reload := exec.Command(masterBin, "reload", "-pid-file", c.pidFile)
	if err := reload.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reload.Wait() })
	waitFor(t, 10*time.Second, func() error {
		b, _ := os.ReadFile(c.fgOut)
		if !strings.Contains(string(b), "msg=reload") {
			return fmt.Errorf("no reload yet")
		}
		return nil
	})
	c.runBackground("stop", "-pid-file", c.pidFile)
	code := c.waitFgExit(60 * time.Second)
	out, _ := os.ReadFile(c.fgOut)
	if code != 0 || strings.Contains(string(out), "panic") {
		t.Fatalf("the master exited %d after a stop during a reload:\n%s", code, out)
	}
}
