package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// fleet is the coordinator's set of client processes. One process holds at
// most perProc connections: the file limit (20,000 here, not raisable) is
// per process, so 50k connections need several.
type fleet struct {
	kids   []*kid
	events chan event // from every child
	wg     sync.WaitGroup
}

type kid struct {
	cfg   childConfig
	cmd   *exec.Cmd
	in    io.WriteCloser
	inEnc *json.Encoder
}

// fleetPlan splits conns over processes and source addresses.
type fleetPlan struct {
	URL         string
	Conns       int
	PerProc     int
	PerSource   int
	FirstSource net.IP
	Concurrency int
	DialTimeout time.Duration
	Coalesce    time.Duration // childConfig.Coalesce
	Echo        bool
	Payload     int
	Prefix      string
	CA          string // wss://
	Warmup      int    // wss://
}

// sources lists the source addresses: FirstSource and the ones after it,
// enough that none carries more than PerSource connections to the one
// destination (each source address has one ephemeral port range).
func (p fleetPlan) sources() ([]string, error) {
	ip := p.FirstSource.To4()
	if ip == nil || ip[0] != 127 {
		return nil, fmt.Errorf("loadgen: -src %s: want an IPv4 loopback address (127.0.0.0/8)", p.FirstSource)
	}
	n := (p.Conns + p.PerSource - 1) / p.PerSource
	out := make([]string, 0, n)
	v := uint32(ip[0])<<24 | uint32(ip[1])<<16 | uint32(ip[2])<<8 | uint32(ip[3])
	for i := range max(n, 1) {
		a := v + uint32(i)
		if a>>24 != 127 {
			return nil, fmt.Errorf("loadgen: %d source addresses from %s leave 127.0.0.0/8", n, p.FirstSource)
		}
		out = append(out, net.IPv4(byte(a>>24), byte(a>>16), byte(a>>8), byte(a)).String())
	}
	return out, nil
}

// startFleet starts the client processes and waits until each is ready.
func startFleet(ctx context.Context, p fleetPlan) (*fleet, error) {
	srcs, err := p.sources()
	if err != nil {
		return nil, err
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("loadgen: find own executable: %w", err)
	}
	nproc := max((p.Conns+p.PerProc-1)/p.PerProc, 1)
	f := &fleet{events: make(chan event, 4*nproc)}
	first := 0
	for i := range nproc {
		share := p.Conns / nproc
		if i < p.Conns%nproc {
			share++
		}
		cfg := childConfig{
			Index: i, URL: p.URL, Conns: share, First: first, Sources: srcs,
			Concurrency: p.Concurrency, DialTimeout: p.DialTimeout, Coalesce: p.Coalesce,
			Echo: p.Echo, Payload: p.Payload, Prefix: p.Prefix, CA: p.CA, Warmup: p.Warmup,
		}
		first += share
		if err := f.spawn(exe, cfg); err != nil {
			f.stop()
			return nil, err
		}
	}
	if _, err := f.collect(ctx, "ready"); err != nil {
		f.stop()
		return nil, err
	}
	return f, nil
}

func (f *fleet) spawn(exe string, cfg childConfig) error {
	js, _ := json.Marshal(cfg) // plain data: cannot fail
	cmd := exec.Command(exe, "child")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.Stderr = os.Stderr
	// A child dies with the coordinator, however the coordinator ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	in, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("loadgen: child %d: %w", cfg.Index, err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("loadgen: child %d: %w", cfg.Index, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("loadgen: start child %d: %w", cfg.Index, err)
	}
	k := &kid{cfg: cfg, cmd: cmd, in: in, inEnc: json.NewEncoder(in)}
	f.kids = append(f.kids, k)
	f.wg.Go(func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 64<<20) // round reports carry every latency
		for sc.Scan() {
			var e event
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				e = event{Ev: "error", Errors: []string{"bad line: " + err.Error()}}
			}
			e.Child = cfg.Index
			f.events <- e
		}
		err := cmd.Wait()
		f.events <- event{Ev: "exit", Child: cfg.Index, Errors: []string{fmt.Sprintf("exited: %v", err)}}
	})
	return nil
}

// send gives every child the command.
func (f *fleet) send(c command) error {
	var errs []error
	for _, k := range f.kids {
		if err := k.inEnc.Encode(c); err != nil {
			errs = append(errs, fmt.Errorf("loadgen: tell child %d %q: %w", k.cfg.Index, c.Cmd, err))
		}
	}
	return errors.Join(errs...)
}

// collect waits for one event named ev from every child. An error event or
// a child's exit fails it.
func (f *fleet) collect(ctx context.Context, ev string) ([]event, error) {
	got, err := f.collectFrom(ctx, ev, func(e event) bool { return e.Ev == ev }, nil)
	return partial(got), err
}

// collectFrom waits until every child not in have has sent an event that
// match accepts; other events are dropped.
func (f *fleet) collectFrom(ctx context.Context, ev string, match func(event) bool, have map[int]event) (map[int]event, error) {
	got := make(map[int]event, len(f.kids))
	for i, e := range have {
		got[i] = e
	}
	for len(got) < len(f.kids) {
		select {
		case e := <-f.events:
			switch {
			case match(e):
				got[e.Child] = e
			case e.Ev == "error" || e.Ev == "exit":
				return got, fmt.Errorf("loadgen: child %d: %s %v", e.Child, e.Ev, e.Errors)
			}
		case <-ctx.Done():
			return got, fmt.Errorf("loadgen: waiting for %q from %d of %d children: %w",
				ev, len(f.kids)-len(got), len(f.kids), ctx.Err())
		}
	}
	return got, nil
}

func partial(got map[int]event) []event {
	out := make([]event, 0, len(got))
	for _, e := range got {
		out = append(out, e)
	}
	return out
}

// close asks every child to close its connections and exit, and waits (at
// most 20 s) before killing the rest. It returns the children's last words.
func (f *fleet) close() []event {
	_ = f.send(command{Cmd: "close"}) // a dead child is reaped below
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	evs, _ := f.collect(ctx, "closed")
	f.stop()
	return evs
}

// stop kills what is left and waits for the readers.
func (f *fleet) stop() {
	for _, k := range f.kids {
		k.in.Close()
		_ = k.cmd.Process.Kill() // fails harmlessly when it already exited
	}
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	for {
		select {
		case <-f.events: // unblock readers
		case <-done:
			return
		}
	}
}

func (f *fleet) pids() []int {
	out := []int{os.Getpid()}
	for _, k := range f.kids {
		out = append(out, k.cmd.Process.Pid)
	}
	return out
}
