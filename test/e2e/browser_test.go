package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wsfleet/wsfleet/internal/testcert"
)

// chromiumPath is Debian's chromium, which .ci/run installs. Its absence is
// a failure, not a skip: the browser test is how we know the page works.
const chromiumPath = "/usr/bin/chromium"

// newBrowser starts headless chromium for one test and returns a tab.
func newBrowser(t *testing.T, insecureTLS bool) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("this test needs Debian's chromium at %s (apt-get install chromium fonts-noto-cjk): %v", chromiumPath, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	if insecureTLS {
		// The test's own self-signed certificate.
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		cancelTimeout()
		cancelCtx()
		cancelAlloc()
	})
	return ctx
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return waitJS(fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").includes(%q)`, sel, want))
}

// waitJS waits until the expression is truthy.
func waitJS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(30*time.Second))
}

// TestBrowserDemoPage opens the demo page that a real cluster serves, in
// chromium, and does what the tutorial's user does: connect, send 你好, see
// the answer and the toasts, receive the push, close. Over ws:// and wss://.
func TestBrowserDemoPage(t *testing.T) {
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			// debug: the push app logs a message's content only at debug.
			extra := []string{"-log-level", "debug"}
			if scheme == "https" {
				pair, err := testcert.Write(t.TempDir(), "wsfleet-test")
				if err != nil {
					t.Fatal(err)
				}
				extra = append(extra, "-tls-cert", pair.CertFile, "-tls-key", pair.KeyFile)
			}
			c := startCluster(t, clusterOpts{count: 2, app: "push", pushInterval: time.Second, extra: extra})
			ctx := newBrowser(t, scheme == "https")
			err := chromedp.Do(ctx,
				chromedp.Navigate(scheme+"://"+c.addr+"/"),
				chromedp.WaitVisible(chromedp.CSS(`body[data-wx-ready="true"]`)),
				waitText("#status", "連接服務器狀態"),
				chromedp.Click(chromedp.CSS("#connect")),
				waitText("#status", "websocket連接服務器成功"),
				chromedp.SendKeys(chromedp.CSS("#input"), "你好"),
				chromedp.Click(chromedp.CSS("#send")), // blurs the input first, as on a phone
				waitText("#message", "服務器已經收到了你的消息"),
				waitJS(`wxShim.toasts.some(t => t.title === "已發送") && wxShim.toasts.some(t => t.title === "你收到來自服務器的消息")`),
				waitText("#message", "你好!"), // the push, within a second
			)
			if err != nil {
				t.Fatalf("page: %v", err)
			}
			// The server saw the page's connection and logged its message.
			cs := c.connections()
			if len(cs.Connections) != 1 {
				t.Fatalf("connections while the page is connected: %d", len(cs.Connections))
			}
			waitFor(t, 10*time.Second, func() error {
				if out, _ := os.ReadFile(c.fgOut); !strings.Contains(string(out), "text=你好") {
					return fmt.Errorf("the worker log has no text=你好")
				}
				return nil
			})
			err = chromedp.Do(ctx,
				chromedp.Click(chromedp.CSS("#close")),
				waitText("#status", "websocket服務器已經斷開"),
			)
			if err != nil {
				t.Fatalf("close: %v", err)
			}
			waitFor(t, 10*time.Second, func() error {
				if n := len(c.connections().Connections); n != 0 {
					return fmt.Errorf("%d connections after the page closed", n)
				}
				return nil
			})
		})
	}
}

// TestDemoPageRoutes: plain HTTP on the WebSocket port serves the page and
// its files, 404 elsewhere, 405 for other methods.
func TestDemoPageRoutes(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 1})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/", 200}, {"GET", "/wx.js", 200}, {"GET", "/miniprogram/pages/index/index.js", 200},
		{"GET", "/nope", 404}, {"POST", "/", 405}, {"PUT", "/wx.js", 405},
	} {
		req, err := http.NewRequest(tc.method, "http://"+c.addr+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
		}
	}
}

// shimRules exercises the wx shim's socket rules in the page against the
// real server (-app echo), and resolves to a report the test checks.
const shimRules = `(async () => {
  const out = {};
  const wait = (cond, ms = 10000) => new Promise((ok, no) => {
    const t0 = Date.now();
    const tick = () => cond() ? ok() : (Date.now() - t0 > ms ? no(new Error("timeout")) : setTimeout(tick, 20));
    tick();
  });
  // Sending before any socket is open fails through fail, with errMsg.
  await new Promise(done => wx.sendSocketMessage({data: "early",
    success: () => { out.earlySend = "ok"; }, fail: r => { out.earlySend = r.errMsg; }, complete: done}));
  // Handlers registered before connectSocket still fire for it.
  const got = [];
  wx.onSocketOpen(() => { out.globalOpen = true; });
  wx.onSocketMessage(r => got.push(r.data));
  wx.onSocketClose(r => { out.globalClose = r.code; });
  wx.connectSocket({url: "wss://your.domain.example"});
  await wait(() => out.globalOpen);
  wx.sendSocketMessage({data: "你好"});
  await wait(() => got.length > 0);
  out.globalEcho = got[0];
  wx.closeSocket({code: 4000, reason: "bye"});
  await wait(() => out.globalClose !== undefined);
  // SocketTask with an ArrayBuffer round trip and close codes.
  const task = wx.connectSocket({url: "wss://your.domain.example"});
  let bin, closed;
  task.onMessage(r => { bin = r.data; });
  task.onClose(r => { closed = r; });
  await new Promise(ok => task.onOpen(ok));
  task.send({data: new Uint8Array([1, 2, 3]).buffer});
  await wait(() => bin !== undefined);
  out.binary = bin instanceof ArrayBuffer ? Array.from(new Uint8Array(bin)) : String(bin);
  // Five sockets at most: the sixth connect fails.
  const tasks = [];
  for (let i = 0; i < 4; i++) tasks.push(wx.connectSocket({url: "wss://your.domain.example"}));
  await new Promise(done => wx.connectSocket({url: "wss://your.domain.example",
    success: () => { out.sixth = "ok"; }, fail: r => { out.sixth = r.errMsg; }, complete: done}));
  tasks.forEach(t => t.close({}));
  task.close({code: 4001, reason: "done"});
  await wait(() => closed !== undefined);
  out.taskClose = closed.code;
  return out;
})()`

// TestShimSocketRules runs the wx shim's socket rules against a real
// cluster in chromium: the global API, SocketTask, binary messages, close
// codes and the five-socket limit.
func TestShimSocketRules(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "echo"})
	ctx := newBrowser(t, false)
	if err := chromedp.Do(ctx,
		chromedp.Navigate("http://"+c.addr+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-wx-ready="true"]`)),
	); err != nil {
		t.Fatal(err)
	}
	type report struct {
		EarlySend   string `json:"earlySend"`
		GlobalOpen  bool   `json:"globalOpen"`
		GlobalEcho  string `json:"globalEcho"`
		GlobalClose int    `json:"globalClose"`
		Binary      []int  `json:"binary"`
		Sixth       string `json:"sixth"`
		TaskClose   int    `json:"taskClose"`
	}
	r, err := chromedp.Run(ctx, chromedp.Evaluate[report](shimRules, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	want := []int{'h', 'e', 'l', 'l', 'o', ' ', 1, 2, 3}
	if !strings.HasPrefix(r.EarlySend, "sendSocketMessage:fail") || !r.GlobalOpen || r.GlobalEcho != "hello 你好" ||
		r.GlobalClose != 4000 || fmt.Sprint(r.Binary) != fmt.Sprint(want) ||
		!strings.HasPrefix(r.Sixth, "connectSocket:fail") || r.TaskClose != 4001 {
		t.Fatalf("shim report %+v", r)
	}
}
