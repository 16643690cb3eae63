package e2e

import (
	"fmt"
	"os"
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
