package history

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wsfleet/wsfleet/pkg/app"
)

// A follow is an ordered consumer of one subject. nats.go's ordered
// consumer starts itself again after a reconnect, from the message after
// the last it delivered; after the NATS server a worker was connected to
// died, that restart was seen to stall for good, silently
// (TestChatHistoryExternalCluster: a member on a surviving host got
// nothing more). So the store starts every follow again itself whenever
// its connection is back: a new ordered consumer from the message after
// the last one delivered, tried until the stream answers (a JetStream
// cluster may be electing its leader), and deliveries at or below that
// message are dropped, whichever consumer they come from. The library's
// own restart still runs too (it cannot be turned off), so a reconnect
// costs each follow two consumer creations instead of one; the consumer
// it made is stopped when ours replaces it.

// restartFirst and restartMax bound the wait between two tries to start a
// follow again.
const (
	restartFirst = 250 * time.Millisecond
	restartMax   = 5 * time.Second
)

// follower is one follow.
type follower struct {
	s  *Store
	k  key
	fn func(app.Kept)

	order   sync.Mutex // held while delivering: one message at a time, in order, whichever consumer it comes from
	mu      sync.Mutex // guards the fields below
	last    uint64     // the stream sequence delivered last, or the one to start after
	known   bool       // last is known (a start was given, or one message came)
	cc      jetstream.ConsumeContext
	stopped bool
}

// follow delivers k's messages from the one after offset after[0],
// or those kept from now on.
func (s *Store) follow(ctx context.Context, k key, fn func(app.Kept), after ...uint64) (stop func(), err error) {
	f := &follower{s: s, k: k, fn: fn}
	if len(after) > 0 {
		f.last, f.known = after[0], true
	}
	if err := f.start(ctx); err != nil {
		return nil, err
	}
	s.addFollower(f)
	return func() {
		f.mu.Lock()
		f.stopped = true
		cc := f.cc
		f.cc = nil
		f.mu.Unlock()
		if cc != nil {
			cc.Stop()
		}
		s.removeFollower(f)
	}, nil
}

// start makes the follow's consumer, from the message after f.last when
// known, and sets it as f.cc (stopping the one it replaces).
func (f *follower) start(ctx context.Context) error {
	f.mu.Lock()
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{f.k.subj}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if f.known {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, f.last+1
	}
	f.mu.Unlock()
	cons, err := f.s.js.OrderedConsumer(ctx, f.s.name, cfg)
	if err != nil {
		return fmt.Errorf("history: follow %q: %w", f.k.name, err)
	}
	cc, err := cons.Consume(f.deliver, jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		if ok, dropped := f.s.followed.Allow(time.Now()); ok {
			f.s.log.Info("history: follow", "subject", f.k.subj, "err", err, "dropped", dropped)
		}
	}))
	if err != nil {
		return fmt.Errorf("history: follow %q: %w", f.k.name, err)
	}
	f.mu.Lock()
	if !f.known {
		// A new consumer of DeliverNew starts after the stream's last
		// message: a restart goes on from there.
		if info := cons.CachedInfo(); info != nil && info.Delivered.Stream > 0 {
			f.last, f.known = info.Delivered.Stream, true
		}
	}
	old, stopped := f.cc, f.stopped
	f.cc = cc
	if stopped {
		f.cc = nil
	}
	f.mu.Unlock()
	if old != nil {
		old.Stop()
	}
	if stopped {
		cc.Stop()
	}
	return nil
}

// deliver hands m to the follow's function unless a message at or past
// its sequence was delivered already.
func (f *follower) deliver(m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		return
	}
	f.order.Lock()
	defer f.order.Unlock()
	seq := md.Sequence.Stream
	f.mu.Lock()
	skip := f.stopped || (f.known && seq <= f.last)
	if !skip {
		f.last, f.known = seq, true
	}
	f.mu.Unlock()
	if skip {
		return
	}
	kept := app.Kept{Message: app.Message{Data: m.Data()}, Position: app.Position{Offset: seq, Epoch: f.s.epoch}}
	kept.Binary = m.Headers().Get(headerOp) == "binary"
	f.fn(kept) // not under f.mu: fn may stop the follow
}

// followers are a store's follows, and the goroutine that starts them
// again when the connection is back: it runs while there are follows.
type followers struct {
	mu     sync.Mutex
	set    map[*follower]struct{}
	cancel context.CancelFunc // ends the watcher, and any restart it is making
	done   chan struct{}      // closed when the watcher ended
	nc     *nats.Conn
}

func (s *Store) addFollower(f *follower) {
	fs := &s.follows
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.set == nil {
		fs.set = map[*follower]struct{}{}
	}
	fs.set[f] = struct{}{}
	if len(fs.set) == 1 && fs.nc != nil {
		var ctx context.Context
		ctx, fs.cancel = context.WithCancel(context.Background())
		fs.done = make(chan struct{})
		go s.watch(ctx, fs.nc.StatusChanged(nats.CONNECTED), fs.done)
	}
}

func (s *Store) removeFollower(f *follower) {
	fs := &s.follows
	fs.mu.Lock()
	delete(fs.set, f)
	var cancel context.CancelFunc
	var done chan struct{}
	if len(fs.set) == 0 && fs.cancel != nil {
		cancel, done = fs.cancel, fs.done
		fs.cancel, fs.done = nil, nil
	}
	fs.mu.Unlock()
	if cancel != nil {
		cancel() // a restart in flight ends at once
		<-done
	}
}

// watch starts every follow again each time the connection is back, and
// tries again with back-off those that failed, until ctx ends.
func (s *Store) watch(ctx context.Context, connected chan nats.Status, done chan struct{}) {
	defer close(done)
	defer s.follows.nc.RemoveStatusListener(connected)
	var pending []*follower
	wait := restartFirst
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-connected:
			if !ok {
				return
			}
			s.follows.mu.Lock()
			pending = pending[:0]
			for f := range s.follows.set {
				pending = append(pending, f)
			}
			s.follows.mu.Unlock()
			wait = restartFirst
		case <-timer.C:
		}
		pending = s.restart(ctx, pending)
		if len(pending) > 0 {
			timer.Reset(wait)
			wait = min(2*wait, restartMax)
		}
	}
}

// restart starts each follow of fs again and returns those that failed.
func (s *Store) restart(ctx context.Context, fs []*follower) []*follower {
	failed := fs[:0]
	for _, f := range fs {
		if ctx.Err() != nil {
			return nil
		}
		f.mu.Lock()
		stopped := f.stopped
		f.mu.Unlock()
		if stopped {
			continue
		}
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := f.start(tctx)
		cancel()
		if err != nil {
			if ok, dropped := s.followed.Allow(time.Now()); ok {
				s.log.Info("history: follow not started again yet", "subject", f.k.subj, "err", err, "dropped", dropped)
			}
			failed = append(failed, f)
		}
	}
	return failed
}
