package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/internal/testcert"
)

// nginxPath is Debian's nginx, which .ci/run installs. Its absence is a
// failure: this test is how we know the shipped configuration works.
const nginxPath = "/usr/sbin/nginx"

// startNginx runs nginx in the foreground with the shipped
// scripts/nginx/wsfleet.conf, its marked lines edited as a user would,
// proxying to upstream; it returns the TLS and plain addresses.
func startNginx(t *testing.T, upstream string, pair testcert.Pair) (tlsAddr, plainAddr string) {
	t.Helper()
	if _, err := os.Stat(nginxPath); err != nil {
		t.Fatalf("this test needs Debian's nginx at %s (apt-get install nginx-light): %v", nginxPath, err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	shipped, err := os.ReadFile(filepath.Join(root, "scripts", "nginx", "wsfleet.conf"))
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr, plainAddr = freeAddr(t), freeAddr(t)
	conf := string(shipped)
	for _, edit := range [][2]string{
		{"listen 443 ssl;", "listen " + tlsAddr + " ssl;"},
		{"listen 80;", "listen " + plainAddr + ";"},
		{"server 127.0.0.1:8080;", "server " + upstream + ";"},
		{"/etc/nginx/ssl/your.domain.crt", pair.CertFile},
		{"/etc/nginx/ssl/your.domain.key", pair.KeyFile},
	} {
		if !strings.Contains(conf, edit[0]) {
			t.Fatalf("scripts/nginx/wsfleet.conf no longer contains %q", edit[0])
		}
		conf = strings.ReplaceAll(conf, edit[0], edit[1])
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "wsfleet.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	main := fmt.Sprintf(`daemon off;
user root;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
    include %[1]s/wsfleet.conf;
}
`, dir)
	if err := os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxPath, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	out, err := os.Create(filepath.Join(dir, "nginx.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("nginx: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			logs, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", logs)
		}
	})
	waitFor(t, 15*time.Second, func() error {
		select {
		case <-exited:
			logs, _ := os.ReadFile(filepath.Join(dir, "nginx.out"))
			t.Fatalf("nginx exited: %s", logs)
		default:
		}
		c, err := net.Dial("tcp", tlsAddr)
		if err != nil {
			return err
		}
		return c.Close()
	})
	return tlsAddr, plainAddr
}

// TestNginxWSS puts Debian's nginx with the shipped configuration and a
// certificate in front of a real cluster: a wss:// client gets the push
// app's answers and pushes through it, ws:// and the page work on the plain
// port, and `connections` shows the client's own address, not nginx's.
func TestNginxWSS(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "push", pushInterval: time.Second,
		extra: []string{"-trusted-proxy", "127.0.0.1", "-log-level", "debug"}})
	pair, err := testcert.Write(t.TempDir(), "your.domain.example")
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr, plainAddr := startNginx(t, c.addr, pair)

	// The client dials from 127.0.0.2; nginx reaches wsfleet from 127.0.0.1.
	d := ws.Dialer{TLSConfig: &tls.Config{RootCAs: pair.Pool}, NetDial: clientFrom("127.0.0.2")}
	conn, _ := dialRaw(t, d, "wss://"+tlsAddr+"/")
	roundTripText(t, conn, "你好", "服務器已經收到了你的消息")
	roundTripText(t, conn, "again", "你好!") // a push arrives within a second
	cs := c.connections()
	if len(cs.Connections) != 1 || !strings.HasPrefix(cs.Connections[0].Remote, "127.0.0.2") {
		t.Fatalf("connections through nginx: %+v; want one from 127.0.0.2", cs.Connections)
	}
	// And the worker's log names the client, not nginx.
	waitFor(t, 10*time.Second, func() error {
		out, _ := os.ReadFile(c.fgOut)
		if !strings.Contains(string(out), "conn="+cs.Connections[0].ID+" remote=127.0.0.2") {
			return fmt.Errorf("no log line for the connection from 127.0.0.2")
		}
		return nil
	})

	plain, _ := dialRaw(t, ws.Dialer{}, "ws://"+plainAddr+"/")
	roundTripText(t, plain, "x", "服務器已經收到了你的消息")
	resp, err := http.Get("http://" + plainAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "wx.js") {
		t.Fatalf("the demo page through nginx: %d %.80q", resp.StatusCode, body)
	}
}
