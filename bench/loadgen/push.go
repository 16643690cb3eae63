package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wsfleet/wsfleet/bench/internal/record"
)

type natsSub struct{ nc *nats.Conn }

func (s natsSub) Close() { s.nc.Close() }

// watchTicks subscribes to the cluster subject and sends the arrival time
// (unix ns) of every message on it.
func watchTicks(url, subject string) (natsSub, chan int64, error) {
	nc, err := nats.Connect(url, nats.Name("wsfleet-bench"))
	if err != nil {
		return natsSub{}, nil, fmt.Errorf("push: connect to NATS at %s: %w", url, err)
	}
	ch := make(chan int64, 64)
	if _, err := nc.Subscribe(subject, func(*nats.Msg) {
		select {
		case ch <- time.Now().UnixNano():
		default: // nobody is counting yet
		}
	}); err != nil {
		nc.Close()
		return natsSub{}, nil, fmt.Errorf("push: subscribe %s: %w", subject, err)
	}
	if err := nc.Flush(); err != nil {
		nc.Close()
		return natsSub{}, nil, fmt.Errorf("push: subscribe %s: %w", subject, err)
	}
	return natsSub{nc}, ch, nil
}

func natsPublisher(url, subject string) (func([]byte) error, func(), error) {
	nc, err := nats.Connect(url, nats.Name("wsfleet-bench"))
	if err != nil {
		return nil, nil, fmt.Errorf("broadcast: connect to NATS at %s: %w", url, err)
	}
	return func(p []byte) error {
		if err := nc.Publish(subject, p); err != nil {
			return fmt.Errorf("broadcast: publish: %w", err)
		}
		return nc.Flush()
	}, nc.Close, nil
}

// push watches -ticks ticks after a mark, then has every client process
// tally which ticks each of its connections received.
func (r *runner) push(ctx context.Context, ticks chan int64) (*record.Push, error) {
	for len(ticks) > 0 {
		<-ticks // before the mark
	}
	f := r.fleet
	if err := f.send(command{Cmd: "mark"}); err != nil {
		return nil, err
	}
	mark := time.Now().UnixNano()
	spids, cpids := procTree(r.o.serverPID), f.pids()
	s0, c0, m0 := cpuSeconds(spids), cpuSeconds(cpids), machineBusySeconds()
	var seen []int64
	var reload *record.Reload
	bound := time.Duration(r.o.ticks+2)*r.o.pushInterval + 10*time.Second
	wait := time.NewTimer(bound)
	defer wait.Stop()
	target := r.o.ticks
	for len(seen) < target {
		select {
		case t := <-ticks:
			if t > mark {
				seen = append(seen, t)
			}
			if r.o.reloadCmd != "" && reload == nil && len(seen) == r.o.reloadAfter {
				// The subscriber keeps timing ticks meanwhile (buffered);
				// after the reload's exit, -ticks less -reload-after more.
				reload = r.runReload(ctx, len(seen))
				for len(ticks) > 0 {
					seen = append(seen, <-ticks)
				}
				target = len(seen) + r.o.ticks - r.o.reloadAfter
				wait.Reset(bound)
			}
		case <-wait.C:
			return nil, fmt.Errorf("push: saw %d of %d ticks on NATS", len(seen), r.o.ticks)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	// Wait until every connection has every tick, or two intervals.
	if err := r.awaitTicks(ctx, seen); err != nil {
		return nil, err
	}
	win := float64(time.Now().UnixNano()-mark) / 1e9
	s1, c1, m1 := cpuSeconds(spids), cpuSeconds(cpids), machineBusySeconds()
	// Our subscriber may see a tick after some clients do: anchor each tick
	// at whichever came first.
	if err := f.send(command{Cmd: "push-firsts", Ticks: seen}); err != nil {
		return nil, err
	}
	fevs, err := f.collect(ctx, "firsts")
	if err != nil {
		return nil, err
	}
	for _, e := range fevs {
		for k, t := range e.Firsts {
			if t != 0 && t < seen[k] {
				seen[k] = t
			}
		}
	}
	if err := f.send(command{Cmd: "push-stop", Ticks: seen}); err != nil {
		return nil, err
	}
	evs, err := f.collect(ctx, "push")
	if err != nil {
		return nil, err
	}
	p := &record.Push{IntervalSeconds: r.o.pushInterval.Seconds(), Ticks: make([]record.Tick, len(seen)),
		WindowSeconds: win, ServerCPUSeconds: s1 - s0, ClientCPUSeconds: c1 - c0, MachineCPUSeconds: m1 - m0}
	p.Reload = reload
	gaps, closed := newHist(), 0
	hists := make([]*Hist, len(seen))
	for i := range hists {
		hists[i] = newHist()
	}
	for _, e := range evs {
		p.MissedConns += e.Push.MissedConns
		p.Extra += e.Push.Extra
		p.ReadLate += e.Push.ReadLate
		p.Doubled += e.Push.Doubled
		closed += e.Dropped
		if e.Push.Gaps != nil {
			gaps.Merge(e.Push.Gaps)
		}
		for k, t := range e.Push.Ticks {
			p.Ticks[k].Delivered += t.Delivered
			p.Ticks[k].Conns += e.Push.Conns
			hists[k].Merge(t.Hist)
		}
	}
	for k, h := range hists {
		p.Ticks[k].P50MS, p.Ticks[k].P99MS, p.Ticks[k].MaxMS = h.QuantileMS(0.5), h.QuantileMS(0.99), h.QuantileMS(1)
	}
	p.AllDelivered = p.MissedConns == 0 && len(evs) == len(f.kids)
	var rerr error
	if reload != nil {
		rerr = reloadFigures(p, gaps, closed)
	}
	if !p.AllDelivered {
		return p, errors.Join(fmt.Errorf("push: %d connections missed a tick", p.MissedConns), rerr)
	}
	return p, rerr
}

// awaitTicks asks the clients every 200 ms how many connections have had
// every tick, until all have or two push intervals have passed.
func (r *runner) awaitTicks(ctx context.Context, ticks []int64) error {
	deadline := time.Now().Add(2 * r.o.pushInterval)
	for {
		if err := r.fleet.send(command{Cmd: "push-count", Ticks: ticks}); err != nil {
			return err
		}
		evs, err := r.fleet.collect(ctx, "count")
		if err != nil {
			return err
		}
		n := 0
		for _, e := range evs {
			n += e.Count
		}
		if n >= r.res.Connect.Opened || time.Now().After(deadline) {
			return nil
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}
