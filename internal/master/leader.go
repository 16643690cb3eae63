package master

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"time"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// Leadership of the cluster's timers. Every master announces itself on
// <prefix>.hb.masters (bus.Masters: a beat every 250 ms, gone after 1 s of
// silence); the live master with the smallest node name (then pid) leads.
// A master that may have peers (routes or an external NATS) waits one TTL
// after it starts before it leads, so that it has heard the others first.
// Leadership needs no store: two masters that both believe they lead for a
// moment send the same tick twice, and every worker drops the second copy
// (bus.HeaderTick). See docs/architecture.md.
type leadership struct {
	self    bus.WorkerID
	peers   *bus.Peers
	alone   bool // standalone embedded NATS: no other master can exist
	started time.Time
}

func (m *Master) startLeadership(ctx context.Context) error {
	self := bus.WorkerID{Node: m.opts.Node, PID: os.Getpid()}
	peers, err := m.bus.TrackPeers(bus.Masters, self)
	if err != nil {
		return err
	}
	if err := m.bus.Hello(bus.Masters, self); err != nil {
		peers.Stop()
		return err
	}
	m.lead = &leadership{
		self: self, peers: peers, started: time.Now(),
		alone: m.nats != nil && m.opts.ClusterListen == "",
	}
	m.wg.Go(func() { m.bus.RunHeartbeat(ctx, bus.Masters, self) })
	return nil
}

// leads reports whether this master leads the cluster now.
func (l *leadership) leads() bool {
	if l.alone {
		return true
	}
	if time.Since(l.started) < bus.Masters.TTL {
		return false
	}
	for _, p := range l.peers.Live() {
		if p != l.self && less(p, l.self) {
			return false
		}
	}
	return true
}

func less(a, b bus.WorkerID) bool {
	return cmp.Or(cmp.Compare(a.Node, b.Node), cmp.Compare(a.PID, b.PID)) < 0
}

// tick is one firing of a cluster timer, for app.Tick.
type tick struct {
	m     *Master
	timer int
	seq   uint64
}

func (t tick) Seq() uint64 { return t.seq }

func (t tick) Broadcast(msg app.Message) error {
	return t.m.bus.PublishAll(bus.Message{
		Binary: msg.Binary, Data: msg.Data,
		Tick: &bus.Tick{Timer: t.timer, Seq: t.seq},
	})
}

// every runs fn at wall-clock multiples of d while this master leads.
func (m *Master) every(timer int, d time.Duration, fn func(context.Context, app.Tick)) {
	ctx := m.timersCtx
	m.wg.Go(func() {
		t := time.NewTimer(time.Until(nextMultiple(time.Now(), d)))
		defer t.Stop()
		led := false
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C:
				at := nextMultiple(now.Add(-d/2), d) // the multiple this wake-up is for
				leads := m.lead.leads()
				if leads != led { // a failover is read from these lines
					m.log.Info("cluster timer", "timer", timer, "leads", leads, "tick", at.Format(time.RFC3339Nano))
					led = leads
				}
				if leads {
					fn(ctx, tick{m: m, timer: timer, seq: uint64(at.UnixNano() / int64(d))})
				}
				t.Reset(time.Until(nextMultiple(time.Now(), d)))
			}
		}
	})
}

// nextMultiple is the first multiple of d (since the Unix epoch) after t.
func nextMultiple(t time.Time, d time.Duration) time.Time {
	n := t.UnixNano()/int64(d) + 1
	return time.Unix(0, n*int64(d))
}

func (l *leadership) String() string { return fmt.Sprintf("%s leads=%v", l.self, l.leads()) }
