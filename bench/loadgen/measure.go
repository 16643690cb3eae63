package main

import (
	"context"
	"fmt"
	"math"
	"net"
	"time"

	"github.com/gobwas/ws"
	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// memory waits for the server's PSS to settle (three samples 0.5 s apart
// within 1 %, at most -settle), then reports it.
func (r *runner) memory(ctx context.Context, base, kern0 int64) (*record.Memory, error) {
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
	m := &record.Memory{Processes: len(pids), BaselineBytes: base, Bytes: last[len(last)-1],
		SettleSeconds: time.Since(t0).Seconds(), KernelTCPBytes: tcpKernelBytes() - kern0}
	n := float64(r.res.Connect.Opened)
	m.PerConnBytes = float64(m.Bytes-m.BaselineBytes) / n
	m.TotalPerConn = float64(m.Bytes) / n
	for _, pid := range pids {
		v, _ := pssBytes([]int{pid}) // gone since: counts 0
		m.PerProcess = append(m.PerProcess, v)
	}
	m.SlabBytes = slabBytes() - r.slab0
	m.SlabCaches = slabGrowth(r.slabs0, readSlabs(), 8)
	m.ClientBytes, _ = pssBytes(r.fleet.pids())
	return m, nil
}

func within(v []int64, frac float64) bool {
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	return float64(hi-lo) <= frac*float64(hi)
}

func (r *runner) echo(ctx context.Context) (*record.Echo, error) {
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
	e := &record.Echo{Clients: r.o.conns, PayloadBytes: r.o.payload, Seconds: t1.Sub(t0).Seconds(),
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

// tally adds up the rounds of one kind into out.
type tally struct {
	out                  *record.Rounds
	p50, p99, p100       []float64
	delivered            int
	serverCPU, clientCPU float64
}

func (t *tally) add(s record.Spread, serverCPU, clientCPU float64) {
	rs := t.out
	rs.Rounds = append(rs.Rounds, s)
	t.delivered += s.Delivered
	if s.Delivered == s.Connections {
		rs.FullyDelivered++
	}
	t.p50, t.p99, t.p100 = append(t.p50, s.P50MS), append(t.p99, s.P99MS), append(t.p100, s.P100MS)
	t.serverCPU += serverCPU
	t.clientCPU += clientCPU
}

// finish fills in the medians and the CPU per delivery.
func (t *tally) finish() {
	rs := t.out
	rs.P50MS, rs.P99MS, rs.P100MS = median(t.p50), median(t.p99), median(t.p100)
	if t.delivered > 0 {
		rs.ServerCPUUS = t.serverCPU * 1e6 / float64(t.delivered)
		rs.ClientCPUUS = t.clientCPU * 1e6 / float64(t.delivered)
	}
	for i, s := range rs.Rounds {
		if s.P99MS == rs.P99MS {
			rs.MedianRound = i
		}
	}
}

func (r *runner) broadcast(ctx context.Context) (*record.Broadcast, error) {
	publish, done, err := r.trigger(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	b := &record.Broadcast{Trigger: r.o.trigger}
	kinds := []*tally{{out: &b.Rounds}}
	if r.o.hold > 0 {
		b.HoldMS = float64(r.o.hold) / float64(time.Millisecond)
		b.Held = &record.Rounds{}
		kinds = append(kinds, &tally{out: b.Held})
	}
	round := 0
	for range r.o.rounds {
		for _, t := range kinds {
			round++
			if err := r.broadcastRound(ctx, publish, round, t, t.out == b.Held); err != nil {
				return nil, err
			}
			if err := sleep(ctx, 300*time.Millisecond); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range kinds {
		t.finish()
	}
	return b, nil
}

// broadcastRound publishes one broadcast and adds its spread to t. A held
// round parks every client's reader first, naming the round, whose
// messages the clients then time by arrival, and releases the readers
// r.o.hold after the publish.
func (r *runner) broadcastRound(ctx context.Context, publish func([]byte) error, round int, t *tally, held bool) error {
	f := r.fleet
	if held {
		if err := f.send(command{Cmd: "hold", Round: round}); err != nil {
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
	t.add(spreadOf(lat, r.res.Connect.Opened), s1-s0, c1-c0)
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
