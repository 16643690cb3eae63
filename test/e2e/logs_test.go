package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMessageContentOnlyAtDebug: the push app logs each message, but its
// content only at debug level; at info the line has the size alone.
func TestMessageContentOnlyAtDebug(t *testing.T) {
	for _, level := range []string{"info", "debug"} {
		t.Run(level, func(t *testing.T) {
			c := startCluster(t, clusterOpts{count: 1, app: "push", pushInterval: time.Hour,
				extra: []string{"-log-level", level}})
			secret := fmt.Sprintf("card-number-%d", time.Now().UnixNano())
			cl := c.dial()
			cl.send(secret)
			cl.nextMessage(10 * time.Second) // the push app's acknowledgement
			want := fmt.Sprintf("bytes=%d", len(secret))
			var log string
			waitFor(t, 10*time.Second, func() error {
				b, _ := os.ReadFile(c.fgOut)
				log = string(b)
				if !strings.Contains(log, "msg=message") || !strings.Contains(log, want) {
					return fmt.Errorf("no message line with %s in the log yet", want)
				}
				return nil
			})
			has := strings.Contains(log, secret)
			if level == "info" && has {
				t.Fatalf("at info the log holds the message's content:\n%s", log)
			}
			if level == "debug" && !has {
				t.Fatalf("at debug the log lacks the message's content:\n%s", log)
			}
		})
	}
}

// TestLogFormatJSON: with -log-format json every line the master and its
// workers write is a JSON object, the workers' included (the master copies
// their output).
func TestLogFormatJSON(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "push", pushInterval: time.Hour,
		extra: []string{"-log-format", "json", "-log-level", "debug"}})
	cl := c.dial()
	cl.send("hello json")
	cl.nextMessage(10 * time.Second)
	c.mustCLI("reload")
	c.waitRunning(readyTimeout)
	c.mustCLI("stop")
	c.waitFgExit(30 * time.Second)
	b, err := os.ReadFile(c.fgOut)
	if err != nil {
		t.Fatal(err)
	}
	var fromMaster, fromWorker, message int
	for i, line := range strings.Split(strings.TrimRight(string(b), "\n"), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("line %d is not JSON (%v): %q", i+1, err, line)
		}
		for _, k := range []string{"time", "level", "msg"} {
			if _, ok := rec[k]; !ok {
				t.Fatalf("line %d has no %q: %q", i+1, k, line)
			}
		}
		if _, ok := rec["worker"]; ok {
			fromWorker++
		} else if _, ok := rec["master"]; ok {
			fromMaster++
		}
		if rec["msg"] == "message" && rec["text"] == "hello json" {
			message++
		}
	}
	if fromMaster == 0 || fromWorker == 0 || message != 1 {
		t.Fatalf("%d master lines, %d worker lines, %d message lines (want >0, >0, 1):\n%s", fromMaster, fromWorker, message, b)
	}
}

// TestReopenLogs: a daemon's log file moved away (as logrotate does), then
// reopen-logs: the master's and the workers' new lines land in a fresh
// file at the original path, and the moved file gets no more.
func TestReopenLogs(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 2, app: "push", pushInterval: time.Hour, daemon: true})
	logPath := filepath.Join(c.dir, "master.log")
	rotated := logPath + ".1"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	out := c.mustCLI("reopen-logs")
	if !strings.Contains(out, logPath) {
		t.Fatalf("reopen-logs said %q, want the path %s", out, logPath)
	}
	old, err := os.ReadFile(rotated)
	if err != nil {
		t.Fatal(err)
	}
	// New lines from a worker (the push app logs each message's size)
	// and from the master (a reload).
	msg := strings.Repeat("z", 777)
	cl := c.dial()
	cl.send(msg)
	cl.nextMessage(10 * time.Second)
	c.mustCLI("reload")
	c.waitRunning(readyTimeout)
	waitFor(t, 15*time.Second, func() error {
		b, err := os.ReadFile(logPath)
		if err != nil {
			return err
		}
		for _, want := range []string{"log file reopened", "bytes=777", "msg=reload", "worker ready"} {
			if !strings.Contains(string(b), want) {
				return fmt.Errorf("the new %s lacks %q:\n%s", logPath, want, b)
			}
		}
		return nil
	})
	if now, _ := os.ReadFile(rotated); len(now) != len(old) {
		t.Fatalf("the moved log grew after reopen-logs:\n%s", now[len(old):])
	}
	if st, err := os.Stat(logPath); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("the new log file: %v %v, want mode 0600", st, err)
	}

	// A foreground master has no log file of its own to reopen.
	fg := startCluster(t, clusterOpts{count: 1})
	_, errOut, code := fg.cli("reopen-logs")
	if code != 1 || !strings.Contains(errOut, "not a daemon") {
		t.Fatalf("reopen-logs on a foreground master: exit %d, %q", code, errOut)
	}
}
