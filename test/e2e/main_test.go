// Package e2e checks the real wsfleet binaries as a user would: it builds
// cmd/master and cmd/worker once, starts real clusters on loopback ports,
// talks to them with real WebSocket clients and a real NATS client, and drives
// them through the `master` command line.
//
// Nothing here sleeps to synchronise: every wait polls a condition or waits
// for an event with a deadline (see waitFor), as nats-server's checkFor does.
//
// Set WSFLEET_E2E_RACE=1 to build the binaries with the race detector.
package e2e

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Paths of the binaries built by TestMain.
var (
	binDir    string // the temporary folder holding both binaries
	masterBin string // binDir/master
	workerBin string // binDir/worker
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

// runMain builds the binaries, runs the tests, then kills any process of ours
// a failed test left behind, so that a red run does not leak daemons.
func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "wsfleet-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	masterBin = filepath.Join(dir, "master")
	workerBin = filepath.Join(dir, "worker")
	if err := buildBinaries(dir); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	code := m.Run()
	killLeftovers()
	return code
}

// buildBinaries builds ./cmd/master and ./cmd/worker of this module into dir,
// with -race when WSFLEET_E2E_RACE=1.
func buildBinaries(dir string) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	for _, name := range []string{"master", "worker"} {
		args := []string{"build"}
		if os.Getenv("WSFLEET_E2E_RACE") == "1" {
			args = append(args, "-race")
		}
		args = append(args, "-o", filepath.Join(dir, name), "./cmd/"+name)
		cmd := exec.Command("go", args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// moduleRoot returns the folder of this module's go.mod, asking the go
// command first and walking up from the working directory otherwise.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(out)); err == nil && gomod != "" && gomod != os.DevNull {
		return filepath.Dir(gomod), nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the test folder")
		}
		dir = parent
	}
}

// waitFor calls check every 20 ms until it returns nil, and fails the test
// with check's last error when timeout passes first. It is nats-server's
// checkFor: the only way these tests wait for a state.
func waitFor(t testing.TB, timeout time.Duration, check func() error) {
	t.Helper()
	if err := poll(timeout, check); err != nil {
		t.Fatalf("condition not met within %s: %v", timeout, err)
	}
}

// poll is waitFor without the test: it returns check's last error when
// timeout passes, or nil once check succeeds.
func poll(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond) // the polling period, not a synchronisation
	}
}

// waitChan waits for ch to be closed or to deliver, up to timeout.
func waitChan[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		t.Fatalf("%s: nothing within %s", what, timeout)
		var zero T
		return zero
	}
}

// tail returns the last 16 KiB of a file.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	const max = 16 << 10
	if len(b) > max {
		b = append([]byte("...\n"), b[len(b)-max:]...)
	}
	return string(b)
}
