package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/gobwas/ws"
)

// MemoryResult is the server's memory with every connection open and idle.
type MemoryResult struct {
	Processes     int     `json:"processes"`
	BaselineBytes int64   `json:"baseline_bytes"` // PSS before the connections
	Bytes         int64   `json:"bytes"`          // PSS with them
	PerConnBytes  float64 `json:"per_conn_bytes"` // (Bytes - BaselineBytes) / connections
	TotalPerConn  float64 `json:"total_per_conn_bytes"`
	PerProcess    []int64 `json:"per_process_bytes"`
	SettleSeconds float64 `json:"settle_seconds"`
	// KernelTCPBytes is the growth of the kernel's TCP buffer memory,
	// machine-wide, both ends of every connection (/proc/net/sockstat). The
	// socket structures themselves are in neither figure.
	KernelTCPBytes int64 `json:"kernel_tcp_bytes"`
}

// memory waits for the server's PSS to settle (three samples 0.5 s apart
// within 1 %, at most -settle), then reports it.
func (r *runner) memory(ctx context.Context, base, kern0 int64) (*MemoryResult, error) {
	t0 := time.Now()
	var last []int64
	var pids []int
	for {
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
		pids = procTree(r.o.serverPID)
		v, err := pssBytes(pids)
		if err != nil {
			return nil, err
		}
		last = append(last, v)
		if n := len(last); n >= 3 && within(last[n-3:], 0.01) || time.Since(t0) >= r.o.settle {
			break
		}
	}
	m := &MemoryResult{Processes: len(pids), BaselineBytes: base, Bytes: last[len(last)-1],
		SettleSeconds: time.Since(t0).Seconds(), KernelTCPBytes: tcpKernelBytes() - kern0}
	n := float64(r.res.Connect.Opened)
	m.PerConnBytes = float64(m.Bytes-m.BaselineBytes) / n
	m.TotalPerConn = float64(m.Bytes) / n
	for _, pid := range pids {
		v, _ := pssBytes([]int{pid}) // gone since: counts 0
		m.PerProcess = append(m.PerProcess, v)
	}
	return m, nil
}

func within(v []int64, frac float64) bool {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return float64(hi-lo) <= frac*float64(hi)
}

// EchoResult is the closed-loop echo: each client sends a message, waits
// for the answer, and sends the next.
type EchoResult struct {
	Clients          int     `json:"clients"`
	PayloadBytes     int     `json:"payload_bytes"`
	Seconds          float64 `json:"seconds"`
	RoundTrips       uint64  `json:"round_trips"`
	PerSecond        float64 `json:"per_second"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	PerCPUSecond     float64 `json:"per_server_cpu_second"`
	ClientCPUSeconds float64 `json:"client_cpu_seconds"`
	// OtherCPUSeconds is what the rest of the machine used in the window:
	// other processes (other engineers' tests, if any) and interrupts not
	// served in the server's or the clients' context. CPU time is sampled
	// in 10 ms ticks, so small values are noise.
	OtherCPUSeconds float64 `json:"other_cpu_seconds"`
	P50MS           float64 `json:"p50_ms"`
	P99MS           float64 `json:"p99_ms"`
	P999MS          float64 `json:"p999_ms"`
	MaxMS           float64 `json:"max_ms"`
}

func (r *runner) echo(ctx context.Context) (*EchoResult, error) {
	f := r.fleet
	if err := f.send(command{Cmd: "echo-start"}); err != nil {
		return nil, err
	}
	if err := sleep(ctx, r.o.warmup); err != nil {
		return nil, err
	}
	spids, cpids := procTree(r.o.serverPID), f.pids()
	s0, c0, m0, t0 := cpuSeconds(spids), cpuSeconds(cpids), machineBusySeconds(), time.Now()
	if err := f.send(command{Cmd: "mark"}); err != nil {
		return nil, err
	}
	if err := sleep(ctx, r.o.duration); err != nil {
		return nil, err
	}
	if err := f.send(command{Cmd: "echo-stop"}); err != nil {
		return nil, err
	}
	s1, c1, m1, t1 := cpuSeconds(spids), cpuSeconds(cpids), machineBusySeconds(), time.Now()
	evs, err := f.collect(ctx, "echo")
	if err != nil {
		return nil, err
	}
	h := newHist()
	e := &EchoResult{Clients: r.o.conns, PayloadBytes: r.o.payload, Seconds: t1.Sub(t0).Seconds(),
		ServerCPUSeconds: s1 - s0, ClientCPUSeconds: c1 - c0}
	e.OtherCPUSeconds = math.Max(0, m1-m0-e.ServerCPUSeconds-e.ClientCPUSeconds)
	for _, ev := range evs {
		e.RoundTrips += ev.Echo.RoundTrips
		h.Merge(ev.Echo.Hist)
	}
	if e.RoundTrips == 0 {
		return e, fmt.Errorf("echo: no round trip completed")
	}
	e.PerSecond = float64(e.RoundTrips) / e.Seconds
	if e.ServerCPUSeconds > 0 {
		e.PerCPUSecond = float64(e.RoundTrips) / e.ServerCPUSeconds
	}
	e.P50MS, e.P99MS, e.P999MS, e.MaxMS = h.QuantileMS(0.5), h.QuantileMS(0.99), h.QuantileMS(0.999), h.QuantileMS(1)
	return e, nil
}

// BroadcastResult is several broadcasts to every connection, one after the
// other. Live rounds are timed by when each client read the message; held
// rounds (with -hold) by when the kernel received it, the clients reading
// nothing until the hold ends. The two kinds alternate, live first.
type BroadcastResult struct {
	Trigger string `json:"trigger"`
	Rounds         // live; inline, as before held rounds existed
	// HoldMS is how long the clients read nothing after a held round's
	// publish; 0 without held rounds.
	HoldMS float64 `json:"hold_ms,omitempty"`
	Held   *Rounds `json:"held,omitempty"`
}

// Rounds is the broadcasts of one kind; the summary figures are medians
// over them.
type Rounds struct {
	Rounds         []Spread `json:"rounds"`
	FullyDelivered int      `json:"fully_delivered_rounds"`
	P50MS          float64  `json:"p50_ms"`
	P99MS          float64  `json:"p99_ms"`
	P100MS         float64  `json:"p100_ms"`
	// MedianRound is the index of the round with the median p99, the one to
	// plot.
	MedianRound int `json:"median_round"`
	// ServerCPUUS and ClientCPUUS are the CPU time the server's and the
	// clients' processes spent per delivered message, in µs: in a live
	// round from the publish until every client process reported, where
	// the time of a broadcast goes on a machine the two share; in a held
	// round from the publish to the end of the hold.
	ServerCPUUS float64 `json:"server_cpu_us_per_delivery"`
	ClientCPUUS float64 `json:"client_cpu_us_per_delivery"`

	p50, p99, p100       []float64
	delivered            int
	serverCPU, clientCPU float64
}

func (rs *Rounds) add(s Spread, serverCPU, clientCPU float64) {
	rs.Rounds = append(rs.Rounds, s)
	rs.delivered += s.Delivered
	if s.Delivered == s.Connections {
		rs.FullyDelivered++
	}
	rs.p50, rs.p99, rs.p100 = append(rs.p50, s.P50MS), append(rs.p99, s.P99MS), append(rs.p100, s.P100MS)
	rs.serverCPU += serverCPU
	rs.clientCPU += clientCPU
}

func (rs *Rounds) finish() {
	rs.P50MS, rs.P99MS, rs.P100MS = median(rs.p50), median(rs.p99), median(rs.p100)
	if rs.delivered > 0 {
		rs.ServerCPUUS = rs.serverCPU * 1e6 / float64(rs.delivered)
		rs.ClientCPUUS = rs.clientCPU * 1e6 / float64(rs.delivered)
	}
	for i, s := range rs.Rounds {
		if s.P99MS == rs.P99MS {
			rs.MedianRound = i
		}
	}
}

func (r *runner) broadcast(ctx context.Context) (*BroadcastResult, error) {
	publish, done, err := r.trigger(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	b := &BroadcastResult{Trigger: r.o.trigger}
	kinds := []*Rounds{&b.Rounds}
	if r.o.hold > 0 {
		b.HoldMS = float64(r.o.hold) / float64(time.Millisecond)
		b.Held = &Rounds{}
		kinds = append(kinds, b.Held)
	}
	round := 0
	for range r.o.rounds {
		for _, rs := range kinds {
			round++
			if err := r.broadcastRound(ctx, publish, round, rs, rs == b.Held); err != nil {
				return nil, err
			}
			if err := sleep(ctx, 300*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	for _, rs := range kinds {
		rs.finish()
	}
	return b, nil
}

// broadcastRound publishes one broadcast and adds its spread to rs. A held
// round parks every client's reader first and releases it r.o.hold after
// the publish.
func (r *runner) broadcastRound(ctx context.Context, publish func([]byte) error, round int, rs *Rounds, held bool) error {
	f := r.fleet
	if held {
		if err := f.send(command{Cmd: "hold"}); err != nil {
			return err
		}
		if _, err := f.collect(ctx, "hold"); err != nil {
			return err
		}
	}
	spids, cpids := procTree(r.o.serverPID), f.pids()
	s0, c0 := cpuSeconds(spids), cpuSeconds(cpids)
	if err := publish(stampPayload(round, time.Now())); err != nil {
		return err
	}
	var s1, c1 float64
	if held {
		if err := sleep(ctx, r.o.hold); err != nil {
			return err
		}
		s1, c1 = cpuSeconds(spids), cpuSeconds(cpids)
		if err := f.send(command{Cmd: "release"}); err != nil {
			return err
		}
	}
	isRound := func(e event) bool { return e.Ev == "round" && e.Round == round }
	rctx, cancel := context.WithTimeout(ctx, r.o.roundTimeout)
	got, err := f.collectFrom(rctx, "round", isRound, nil)
	cancel()
	if err != nil && ctx.Err() == nil && rctx.Err() != nil {
		// Not everyone has it in time: take what arrived.
		if err := f.send(command{Cmd: "flush", Round: round}); err != nil {
			return err
		}
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		got, err = f.collectFrom(fctx, "round", isRound, got)
		cancel()
	}
	if err != nil {
		return fmt.Errorf("broadcast round %d: %w", round, err)
	}
	if !held {
		s1, c1 = cpuSeconds(spids), cpuSeconds(cpids)
	}
	var lat []int64
	for _, e := range got {
		lat = append(lat, e.LatUS...)
	}
	rs.add(spreadOf(lat, r.res.Connect.Opened), s1-s0, c1-c0)
	if held {
		if err := f.send(command{Cmd: "live"}); err != nil {
			return err
		}
		if _, err := f.collect(ctx, "live"); err != nil {
			return err
		}
	}
	return nil
}

// trigger returns how to start one broadcast: a NATS publish on the
// cluster subject, or "BROADCAST <payload>" on a control connection.
func (r *runner) trigger(ctx context.Context) (publish func([]byte) error, done func(), err error) {
	if r.o.trigger == "nats" {
		return natsPublisher(r.o.natsURL, r.o.subject)
	}
	c, err := dialClient(ctx, dialer(net.IPv4(127, 0, 0, 1), r.o.dialTimeout), r.o.url)
	if err != nil {
		return nil, nil, fmt.Errorf("broadcast: control connection: %w", err)
	}
	return func(p []byte) error {
		return c.write(ws.OpText, append([]byte("BROADCAST "), p...))
	}, c.abort, nil
}
