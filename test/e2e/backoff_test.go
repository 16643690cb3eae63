package e2e

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRestartBackoff: a worker that keeps dying young is restarted after a
// back-off that doubles (250 ms, 500 ms, 1 s), each death logged with its
// exit status, and the slot serves again afterwards.
func TestRestartBackoff(t *testing.T) {
	t.Parallel()
	c := startCluster(t, clusterOpts{count: 1, app: "echo"})
	want := []string{"restart_in=250ms", "restart_in=500ms", "restart_in=1s"}
	pid := c.status().Workers[0].PID
	for i := range want {
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 20*time.Second, func() error {
			st, err := c.tryStatus()
			if err != nil {
				return err
			}
			w := st.Workers[0]
			if w.PID == pid || w.State != "running" || w.Restarts != i+1 {
				return fmt.Errorf("worker pid %d state %s restarts %d", w.PID, w.State, w.Restarts)
			}
			pid = w.PID
			return nil
		})
	}
	out, err := os.ReadFile(c.fgOut)
	if err != nil {
		t.Fatal(err)
	}
	var deaths []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, `msg="worker died"`) {
			deaths = append(deaths, line)
		}
	}
	if len(deaths) != len(want) {
		t.Fatalf("%d deaths logged, want %d:\n%s", len(deaths), len(want), strings.Join(deaths, "\n"))
	}
	for i, line := range deaths {
		if !strings.Contains(line, want[i]) || !strings.Contains(line, "killed by signal 9") {
			t.Errorf("death %d: %s; want %s and the signal", i+1, line, want[i])
		}
	}
	cl := c.dial()
	if err := cl.roundTrip("again"); err != nil {
		t.Fatal(err)
	}
}
