package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// runner is one run's state.
type runner struct {
	o     options
	res   *record.Result
	fleet *fleet
	// the kernel's slab memory before the connections (meminfo, slabinfo)
	slab0  int64
	slabs0 slabSnap
}

func run(ctx context.Context, o options) *record.Result {
	start := time.Now()
	res := &record.Result{Server: o.server, Label: o.label, Config: o.config, StartedAt: start, Conns: o.conns, Load1: machineInfo().Load1}
	for _, m := range modeNames {
		if o.modes[m] {
			res.Modes = append(res.Modes, m)
		}
	}
	r := &runner{o: o, res: res}
	if err := r.run(ctx); err != nil {
		res.Errors = append(res.Errors, err.Error())
	}
	if r.fleet != nil {
		for _, e := range r.fleet.close() {
			res.Dropped += e.Dropped
			for _, s := range e.Errors {
				if len(res.Errors) < 10 {
					res.Errors = append(res.Errors, fmt.Sprintf("client %d: %s", e.Child, s))
				}
			}
		}
	}
	if res.Dropped > 0 {
		res.Errors = append(res.Errors, fmt.Sprintf("%d connections failed (lost, or a wrong answer) during the run", res.Dropped))
	}
	res.Seconds = time.Since(start).Seconds()
	res.OK = len(res.Errors) == 0
	return res
}

func (r *runner) run(ctx context.Context) error {
	o := r.o
	if o.modes["chat"] { // its own connections, in this process
		var err error
		r.res.Chat, err = r.chat(ctx)
		return err
	}
	base, err := pssBytes(procTree(o.serverPID))
	if err != nil {
		return err
	}
	kern0 := tcpKernelBytes()
	r.slab0, r.slabs0 = slabBytes(), readSlabs()
	var ticks chan int64
	if o.modes["push"] {
		sub, ch, err := watchTicks(o.natsURL, o.subject)
		if err != nil {
			return err
		}
		defer sub.Close()
		ticks = ch
	}
	plan := fleetPlan{
		URL: o.url, Conns: o.conns, PerProc: o.perProc, PerSource: o.perSource,
		FirstSource: net.ParseIP(o.src), Concurrency: o.concurrency, DialTimeout: o.dialTimeout, Coalesce: o.coalesce,
		Echo: o.modes["echo"], Payload: o.payload, Prefix: o.prefix,
	}
	if isWSS(o.url) {
		plan.CA, plan.Warmup = o.ca, o.tlsWarmup
	}
	srcs, err := plan.sources()
	if err != nil {
		return err
	}
	r.res.Sources = len(srcs)
	if r.fleet, err = startFleet(ctx, plan); err != nil {
		return err
	}
	r.res.ClientProcs = len(r.fleet.kids)
	if err := r.open(ctx); err != nil {
		return err
	}
	if o.modes["idle"] {
		if r.res.Memory, err = r.memory(ctx, base, kern0); err != nil {
			return err
		}
	}
	if o.modes["broadcast"] {
		if r.res.Broadcast, err = r.broadcast(ctx); err != nil {
			return err
		}
	}
	if o.modes["echo"] {
		if r.res.Echo, err = r.echo(ctx); err != nil {
			return err
		}
	}
	if o.modes["push"] {
		if r.res.Push, err = r.push(ctx, ticks); err != nil {
			return err
		}
	}
	return nil
}

// open opens every connection and times it, on the wall clock and in the
// CPU time of the server's whole process tree (a wsfleet master, its
// embedded NATS and its workers) and of the clients.
func (r *runner) open(ctx context.Context) error {
	spids, cpids := procTree(r.o.serverPID), r.fleet.pids()
	s0, c0 := cpuSeconds(spids), cpuSeconds(cpids)
	t0 := time.Now()
	if err := r.fleet.send(command{Cmd: "open"}); err != nil {
		return err
	}
	evs, err := r.fleet.collect(ctx, "opened")
	if err != nil {
		return err
	}
	d := time.Since(t0).Seconds()
	// The tree is read again: a server may start processes on demand.
	s1, c1 := cpuSeconds(procTree(r.o.serverPID)), cpuSeconds(cpids)
	c := &record.Connect{Seconds: d, ServerCPUSeconds: s1 - s0, ClientCPUSeconds: c1 - c0}
	var errs []string
	for _, e := range evs {
		c.Opened += e.Opened
		c.Failed += e.Failed
		c.Resumed += e.Resumed
		errs = append(errs, e.Errors...)
	}
	c.PerSecond = float64(c.Opened) / d
	if isWSS(r.o.url) {
		c.TLS, c.Warmup = "TLS 1.3", r.o.tlsWarmup // the clients' MinVersion (tls.go)
	}
	if c.ServerCPUSeconds > 0 {
		c.PerCPUSecond = float64(c.Opened) / c.ServerCPUSeconds
	}
	r.res.Connect = c
	if c.Failed > 0 && r.o.allowFailed {
		c.Errors = errs[:min(len(errs), 10)]
		return nil
	}
	if c.Failed > 0 {
		return fmt.Errorf("%d of %d connections could not be opened: %v", c.Failed, r.o.conns, errs[:min(len(errs), 3)])
	}
	return nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// median of the values; 0 for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
