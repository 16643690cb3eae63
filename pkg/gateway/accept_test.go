package gateway

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestOutOfFilesRefusesFast fills the test process's file table (its soft
// RLIMIT_NOFILE, lowered for the test) and dials: the server spends its
// reserve descriptor to answer 503 at once instead of leaving the client
// in the listen backlog, and does it again for the next client.
func TestOutOfFilesRefusesFast(t *testing.T) {
	s, url := startServer(t, Options{}, &echo{})
	addr := addrOf(url)
	waitFor(t, func() bool { // Serve has its reserve
		s.mu.Lock()
		defer s.mu.Unlock()
		return len(s.lns) == 1
	})
	fill := exhaustFiles(t)
	for i := range 2 {
		// One free slot, for the client's socket: the server has none.
		fill[len(fill)-1].Close()
		fill = fill[:len(fill)-1]
		nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		nc.Close()
		wantStatus(t, resp, http.StatusServiceUnavailable)
		// The client's descriptor is free again: take it back, so the
		// next round starts from a full table.
		waitFor(t, func() bool {
			f, err := os.Open(os.DevNull)
			if err != nil {
				return false
			}
			fill = append(fill, f)
			return true
		})
	}
	if r := s.Stats().Refused; r.Files != 2 {
		t.Fatalf("refused %+v, want two files", r)
	}
}

// exhaustFiles lowers the process's open-file limit to 64 above what is
// open and fills it with /dev/null, until the test ends; it returns the
// files, for a test that frees some.
func exhaustFiles(t *testing.T) []*os.File {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = uint64(len(fds) + 64)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	var fill []*os.File
	t.Cleanup(func() {
		for _, f := range fill {
			f.Close()
		}
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old)
	})
	for {
		f, err := os.Open(os.DevNull)
		if errors.Is(err, syscall.EMFILE) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fill = append(fill, f)
		if len(fill) > int(low.Cur) {
			t.Fatal("the lowered limit did not hold")
		}
	}
	return fill
}
