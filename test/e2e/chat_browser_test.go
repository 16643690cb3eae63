package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chatOpen waits until the chat view's socket is open.
var chatOpen = waitJS(`document.querySelector("#status")?.dataset.state === "open" && window.chatSocket?.readyState === 1`)

// chatLine waits until the current room's log has a line of type typ whose
// data-attr is val and whose text contains text ("" for any).
func chatLine(typ, attr, val, text string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`[...document.querySelectorAll('#log > [data-type=%q]')].some(e => (%q === "" || e.dataset[%q] === %q) && e.textContent.includes(%q))`,
		typ, attr, attr, val, text))
}

// chatMembers waits until the member list shows exactly names, in order.
func chatMembers(names string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`!document.querySelector("#members-panel").hidden && [...document.querySelectorAll("#member-list > li")].map(li => li.dataset.name).join(",") === %q`, names))
}

// chatJoin types a name and a room into the chat view and joins.
func chatJoin(name, room string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.SendKeys(chromedp.CSS("#name"), name),
		chromedp.SendKeys(chromedp.CSS("#room"), room),
		chromedp.Click(chromedp.CSS("#join")),
		chatLine("joined", "name", name, name),
		waitJS(fmt.Sprintf(`document.querySelector("#room-title").textContent === "#" + %q && !document.querySelector("#say").disabled`, room)),
	)
}

// chatDump describes a chat view's state for a failure message: its status
// and every line of the current room's log.
func chatDump(ctx context.Context) string {
	// A fresh context: ctx may be the one that just timed out.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(dctx, chromedp.Evaluate[string](`document.querySelector("#status").textContent + "\n" +
		[...document.querySelectorAll("#log > *")].map(e => JSON.stringify(Object.assign({}, e.dataset)) + " " + e.textContent).join("\n")`))
	if err != nil {
		return "(cannot read the page: " + err.Error() + ")"
	}
	return s
}

// TestChatBrowser drives the chat view (/chat.html) in two chromium tabs
// against a four-worker -app chat cluster, with alice and bob on different
// workers: join, say, whisper, members, leave, and a bad message that gets an
// error line while the connection stays open; then Reconnect, which joins
// the rooms again, and the status when the cluster stops.
//
// With WSFLEET_E2E_SCREENSHOTS=DIR set, it saves both tabs mid-conversation and
// at the end as DIR/chat-{alice,bob}-{chatting,end}.png.
func TestChatBrowser(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 4, app: "chat"})
	url := "http://" + c.addr + "/chat.html"

	var alice, bob context.Context
	// step runs actions in one tab; a failure shows both pages.
	step := func(ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			msg := fmt.Sprintf("%s: %v", what, err)
			for name, page := range map[string]context.Context{"alice": alice, "bob": bob} {
				if page != nil {
					msg += fmt.Sprintf("\n%s's page: %s", name, chatDump(page))
				}
			}
			t.Fatal(msg)
		}
	}

	// shoot saves both tabs as DIR/chat-<name>-<when>.png if WSFLEET_E2E_SCREENSHOTS=DIR.
	shoot := func(when string) {
		dir := os.Getenv("WSFLEET_E2E_SCREENSHOTS")
		if dir == "" {
			return
		}
		for name, ctx := range map[string]context.Context{"alice": alice, "bob": bob} {
			png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			if err := os.WriteFile(filepath.Join(dir, "chat-"+name+"-"+when+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}

	alice = newBrowser(t, false)
	step(alice, "alice's tab", chromedp.EmulateViewport(1100, 720), chromedp.Navigate(url), chatOpen)
	// A second tab of the same browser, in its own window so that it gets
	// animation frames (the polls wait on them).
	bobTab, cancelBob := chromedp.NewContext(alice)
	t.Cleanup(cancelBob)
	step(bobTab, "bob's tab", chromedp.EmulateViewport(1100, 720), chromedp.Navigate(url), chatOpen)
	bob = bobTab

	// Put the two pages on different workers, so that the room spans
	// workers: while they share one, bob reconnects (SO_REUSEPORT picks a
	// worker per connection).
	ids := func() map[string]int {
		var cs []connJSON
		waitFor(t, 15*time.Second, func() error {
			cs = c.connections().Connections
			if len(cs) != 2 {
				return fmt.Errorf("%d connections listed, want the 2 pages'", len(cs))
			}
			return nil
		})
		out := map[string]int{}
		for _, cj := range cs {
			out[cj.ID] = cj.WorkerPID
		}
		return out
	}
	conns := ids()
	reconnects := 0
	for ; ; reconnects++ {
		workers := map[int]bool{}
		for _, pid := range conns {
			workers[pid] = true
		}
		if len(workers) == 2 {
			break
		}
		if reconnects == 30 {
			t.Fatalf("after %d reconnects both pages are still on one worker: %v", reconnects, conns)
		}
		step(bob, "bob reconnects", chromedp.Click(chromedp.CSS("#reconnect")), chatOpen)
		old := conns
		waitFor(t, 15*time.Second, func() error {
			conns = ids()
			for id := range conns {
				if _, ok := old[id]; !ok {
					return nil
				}
			}
			return fmt.Errorf("still the old connections %v", conns)
		})
	}
	t.Logf("the pages' connections (id: worker pid) after %d reconnects: %v", reconnects, conns)

	// Both join the lobby; each sees the other's join.
	step(alice, "alice joins", chatJoin("alice", "lobby"))
	step(bob, "bob joins", chatJoin("bob", "lobby"))
	step(alice, "alice sees bob join", chatLine("joined", "name", "bob", "bob"))

	// Alice says something: both logs show it, from alice, marked as hers
	// in her own log only.
	const hello = "hello from alice, 你好"
	step(alice, "alice says",
		chromedp.SendKeys(chromedp.CSS("#text"), hello),
		chromedp.Click(chromedp.CSS("#say")),
		chatLine("said", "from", "alice", hello),
		waitJS(`document.querySelector('#log > [data-type=said][data-from=alice]').dataset.mine === "true" && document.querySelector("#text").value === ""`),
	)
	step(bob, "bob hears alice",
		chatLine("said", "from", "alice", hello),
		waitJS(`!document.querySelector('#log > [data-type=said][data-from=alice]').dataset.mine`),
	)

	// Bob whispers to alice: she sees it as a whisper from bob.
	const psst = "psst, alice"
	step(bob, "bob whispers",
		chromedp.SendKeys(chromedp.CSS("#whisper-to"), "alice"),
		chromedp.SendKeys(chromedp.CSS("#whisper-text"), psst),
		chromedp.Click(chromedp.CSS("#whisper")),
		chatLine("whisper", "dir", "out", psst),
	)
	step(alice, "alice gets the whisper",
		chatLine("whisper", "peer", "bob", psst),
		waitJS(`document.querySelector('#log > [data-type=whisper][data-peer=bob]').dataset.dir === "in"`),
	)

	// Members shows both, whichever worker each is on.
	step(alice, "members",
		chromedp.Click(chromedp.CSS("#members")),
		chatMembers("alice,bob"),
		chatLine("members", "room", "lobby", "alice, bob"),
	)

	shoot("chatting")

	// Bob leaves: both see it, and the list no longer has him.
	step(bob, "bob leaves",
		chromedp.Click(chromedp.CSS("#leave")),
		waitJS(`document.querySelector('#log > [data-type=left][data-name=bob]')?.dataset.self === "true" && document.querySelector("#say").disabled`),
	)
	step(alice, "alice sees bob leave",
		chatLine("left", "name", "bob", "bob"),
		chromedp.Click(chromedp.CSS("#members")),
		chatMembers("alice"),
	)

	// A message the server cannot parse, straight through the page's
	// socket: an error line and the banner, and the connection stays open
	// and usable.
	step(alice, "a bad message",
		chromedp.Evaluate[chromedp.Void](`window.chatSocket.send("not json")`),
		chatLine("error", "", "", "bad JSON"),
		waitJS(`!document.querySelector("#error").hidden && document.querySelector("#error").textContent.includes("bad JSON")`),
		chromedp.SendKeys(chromedp.CSS("#text"), "still here"),
		chromedp.Click(chromedp.CSS("#say")),
		chatLine("said", "from", "alice", "still here"),
		chatOpen,
	)
	if n := len(c.connections().Connections); n != 2 {
		t.Fatalf("%d connections after the bad message, want both pages' 2", n)
	}

	// Bob comes back to the lobby, then reconnects: the page joins his
	// rooms again on the new connection, and alice sees him go and come.
	count := func(sel string, n int) chromedp.Action[chromedp.Void] {
		return waitJS(fmt.Sprintf(`document.querySelectorAll(%q).length === %d`, sel, n))
	}
	step(bob, "bob joins again",
		chromedp.SendKeys(chromedp.CSS("#room"), "lobby"),
		chromedp.Click(chromedp.CSS("#join")),
		count(`#log > [data-type=joined][data-self=true]`, 2),
	)
	step(alice, "alice sees bob again", count(`#log > [data-type=joined][data-name=bob]`, 2))
	step(bob, "bob reconnects",
		chromedp.Click(chromedp.CSS("#reconnect")),
		chatOpen,
		count(`#log > [data-type=joined][data-self=true]`, 3),
		chromedp.SendKeys(chromedp.CSS("#text"), "back"),
		chromedp.Click(chromedp.CSS("#say")),
		chatLine("said", "from", "bob", "back"),
	)
	step(alice, "alice sees bob reconnect",
		count(`#log > [data-type=left][data-name=bob]`, 2), // his leave, then his old connection's close
		count(`#log > [data-type=joined][data-name=bob]`, 3),
		chatLine("said", "from", "bob", "back"),
	)
	shoot("end")

	// The cluster stops: both pages say closed, with the server's 1001.
	c.mustCLI("stop")
	closed := waitJS(`document.querySelector("#status").dataset.state === "closed" && document.querySelector("#status").dataset.code === "1001" && document.querySelector("#status").textContent.includes("1001")`)
	step(alice, "alice's page after the stop", closed, waitJS(`document.querySelector("#say").disabled`))
	step(bob, "bob's page after the stop", closed)
}
