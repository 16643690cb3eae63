package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMakeRun runs the README's first command as a newcomer would, on free
// ports: `make run` builds and starts the cluster in the foreground, whose
// workers answer as the push app, and Ctrl-C (SIGINT to the foreground
// process group) stops it, workers and all.
func TestMakeRun(t *testing.T) {
	t.Parallel()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	addr, runDir := freeAddr(t), t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "run", "LISTEN="+addr, "NATS_LISTEN=127.0.0.1:0", "COUNT=2")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+runDir) // its own default pid file
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	started := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), `msg="cluster started"`) {
				close(started)
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	select {
	case <-started:
	case err := <-exited:
		t.Fatalf("make run exited before the cluster started: %v\n%s", err, log.String())
	case <-time.After(2 * time.Minute): // it builds first
		t.Fatalf("make run: no \"cluster started\" within 2 minutes")
	}

	st, err := queryStatus(filepath.Join(runDir, "wsfleet", "master.pid"))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Workers) != 2 || st.Master.App != "push" {
		t.Fatalf("make run COUNT=2 started %d workers of app %q", len(st.Workers), st.Master.App)
	}
	cl := dialWS(t, addr)
	cl.send("你好")
	cl.expect("服務器已經收到了你的消息")

	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C in its terminal
	select {
	case <-exited:
	case <-time.After(45 * time.Second):
		t.Fatalf("make run still running 45 s after Ctrl-C")
	}
	if !strings.Contains(log.String(), `msg=stopped`) {
		t.Errorf("the master did not log its stop:\n%s", log.String())
	}
	for _, pid := range append([]int{st.Master.PID}, workerPIDs(st)...) {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("process %d still runs after make run ended", pid)
		}
	}
}

func workerPIDs(st *statusJSON) []int {
	var out []int
	for _, w := range st.Workers {
		out = append(out, w.PID)
	}
	return out
}
