package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// member is one connection of the chat phase, joined to the room. Its
// reader goroutine owns everything but delivered, which the coordinator
// polls.
type member struct {
	name      string
	c         *client
	delivered atomic.Uint64 // measured messages received
	hist      *Hist
	positions uint64   // said messages with an "offset"
	bare      uint64   // said messages without one
	last      []int64  // per sender, the last sequence number received
	faults    []string // the reader's
	sayErr    error    // the sender's
}

// chatMsg is what the members read of the server's messages.
type chatMsg struct {
	Type   string          `json:"type"`
	Room   string          `json:"room"`
	Name   string          `json:"name"`
	Text   string          `json:"text"`
	Offset json.RawMessage `json:"offset"`
	Error  string          `json:"error"`
}

// chatText is a said message's text: the phase ('w' warmup, 'm'
// measured), the sender, its sequence number and the send time.
func chatText(phase byte, sender int, seq int64, at time.Time) string {
	return fmt.Sprintf("%c %d %d %d", phase, sender, seq, at.UnixNano())
}

func parseChatText(s string) (phase byte, sender int, seq, unixNS int64, ok bool) {
	var p string
	if n, err := fmt.Sscanf(s, "%s %d %d %d", &p, &sender, &seq, &unixNS); err != nil || n != 4 || len(p) != 1 {
		return 0, 0, 0, 0, false
	}
	return p[0], sender, seq, unixNS, true
}

// chat runs the chat phase: join every member, measure the idle server,
// then say messages at the fixed rate, warm up, and measure a window.
func (r *runner) chat(ctx context.Context) (*record.Chat, error) {
	o := r.o
	res := &record.Chat{Room: o.room, Members: o.conns, Senders: o.senders, RatePerSecond: o.rate}
	var readers, senders sync.WaitGroup
	sctx, stop := context.WithCancel(ctx)
	ms, err := r.joinAll(ctx)
	defer func() { // on every path: the senders end, then the connections, which ends the readers
		stop()
		senders.Wait()
		for _, m := range ms {
			if m != nil {
				m.c.abort()
			}
		}
		readers.Wait()
	}()
	if err != nil {
		return res, err
	}
	for _, m := range ms {
		readers.Add(1)
		go func() { defer readers.Done(); m.read(o.senders) }()
	}

	spids, self := procTree(o.serverPID), []int{os.Getpid()}
	i0, it0 := cpuSeconds(spids), time.Now()
	if err := sleep(ctx, o.idle); err != nil {
		return res, err
	}
	res.IdleCPUPerSecond = (cpuSeconds(spids) - i0) / time.Since(it0).Seconds()

	var phase atomic.Int32 // 0 warmup, 1 measured, 2 stop
	var said atomic.Int64
	every := time.Duration(float64(o.senders) / o.rate * float64(time.Second))
	for i := range o.senders {
		senders.Add(1)
		go func() {
			defer senders.Done()
			if err := ms[i].say(sctx, o.room, i, every, time.Duration(i)*every/time.Duration(o.senders), &phase, &said); err != nil && sctx.Err() == nil {
				ms[i].sayErr = err
			}
		}()
	}
	if err := sleep(ctx, o.warmup); err != nil {
		return res, err
	}
	s0, c0, m0, t0 := cpuSeconds(spids), cpuSeconds(self), machineBusySeconds(), time.Now()
	phase.Store(1)
	werr := sleep(ctx, o.duration)
	phase.Store(2)
	stop()
	senders.Wait()
	if werr != nil {
		return res, werr
	}
	res.Said = int(said.Load())
	res.Expected = uint64(res.Said) * uint64(len(ms))
	deadline := time.Now().Add(o.roundTimeout)
	for res.Delivered = total(ms); res.Delivered < res.Expected && time.Now().Before(deadline); res.Delivered = total(ms) {
		if err := sleep(ctx, 2*time.Millisecond); err != nil {
			return res, err
		}
	}
	s1, c1, m1, t1 := cpuSeconds(spids), cpuSeconds(self), machineBusySeconds(), time.Now()
	res.Seconds = t1.Sub(t0).Seconds()
	res.ServerCPUSeconds, res.ClientCPUSeconds = s1-s0, c1-c0
	res.OtherCPUSeconds = math.Max(0, m1-m0-res.ServerCPUSeconds-res.ClientCPUSeconds)
	if res.Said > 0 {
		res.CPUUSPerSaid = res.ServerCPUSeconds / float64(res.Said) * 1e6
	}
	if res.Delivered > 0 {
		res.CPUUSPerDelivery = res.ServerCPUSeconds / float64(res.Delivered) * 1e6
	}
	for _, m := range ms {
		m.c.abort()
	}
	readers.Wait()
	return res, r.chatTally(res, ms)
}

func total(ms []*member) uint64 {
	var n uint64
	for _, m := range ms {
		n += m.delivered.Load()
	}
	return n
}

// chatTally merges the members' latencies and checks what they got: every
// message once, each sender's in order, positions as -chat-history says.
func (r *runner) chatTally(res *record.Chat, ms []*member) error {
	h := newHist()
	var positions, bare uint64
	var faults []string
	for _, m := range ms {
		h.Merge(m.hist)
		positions += m.positions
		bare += m.bare
		if m.sayErr != nil {
			m.faults = append(m.faults, m.sayErr.Error())
		}
		for _, f := range m.faults {
			if len(faults) < 5 {
				faults = append(faults, m.name+": "+f)
			}
		}
	}
	res.P50MS, res.P99MS, res.MaxMS = h.QuantileMS(0.5), h.QuantileMS(0.99), h.QuantileMS(1)
	res.History = positions > 0
	var errs []error
	if len(faults) > 0 {
		errs = append(errs, fmt.Errorf("chat: %v", faults))
	}
	if res.Said == 0 {
		errs = append(errs, errors.New("chat: nothing was said in the window"))
	}
	if res.Delivered != res.Expected {
		errs = append(errs, fmt.Errorf("chat: %d of %d deliveries within %s of the window's end", res.Delivered, res.Expected, r.o.roundTimeout))
	}
	switch {
	case r.o.chatHistory == "on" && bare > 0:
		errs = append(errs, fmt.Errorf("chat: -chat-history on, but %d said messages came without a position", bare))
	case r.o.chatHistory == "off" && positions > 0:
		errs = append(errs, fmt.Errorf("chat: -chat-history off, but %d said messages came with a position", positions))
	}
	return errors.Join(errs...)
}

// joinAll dials every member and joins it to the room, waiting for its own
// "joined".
func (r *runner) joinAll(ctx context.Context) ([]*member, error) {
	o := r.o
	d := dialer(net.ParseIP(o.src), o.dialTimeout)
	ms := make([]*member, o.conns)
	errs := make([]error, o.conns)
	slots := make(chan struct{}, o.concurrency)
	var wg sync.WaitGroup
	for i := range ms {
		wg.Add(1)
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; wg.Done() }()
			c, err := dialClient(ctx, d, o.url)
			if err != nil {
				errs[i] = fmt.Errorf("chat: member %d: %w", i, err)
				return
			}
			m := &member{name: fmt.Sprintf("m%d", i), c: c, hist: newHist(), last: make([]int64, o.senders)}
			ms[i] = m
			errs[i] = m.join(ctx, o.room, o.dialTimeout)
		}()
	}
	wg.Wait()
	return ms, firstErrs(errs, 3)
}

// firstErrs joins the first n errors that are not nil.
func firstErrs(errs []error, n int) error {
	var out []error
	for _, e := range errs {
		if e != nil && len(out) < n {
			out = append(out, e)
		}
	}
	return errors.Join(out...)
}

func (m *member) join(ctx context.Context, room string, timeout time.Duration) error {
	b, _ := json.Marshal(map[string]string{"type": "join", "room": room, "name": m.name})
	if err := m.c.write(ws.OpText, b); err != nil {
		return fmt.Errorf("chat: %s: join: %w", m.name, err)
	}
	dl, ok := ctx.Deadline()
	if !ok || time.Until(dl) > timeout {
		dl = time.Now().Add(timeout)
	}
	_ = m.c.nc.SetReadDeadline(dl)
	defer m.c.nc.SetReadDeadline(time.Time{})
	for {
		_, p, err := m.c.next()
		if err != nil {
			return fmt.Errorf("chat: %s: waiting for joined: %w", m.name, err)
		}
		var msg chatMsg
		if err := json.Unmarshal(p, &msg); err != nil {
			return fmt.Errorf("chat: %s: %w", m.name, err)
		}
		switch {
		case msg.Type == "error":
			return fmt.Errorf("chat: %s: join: %s", m.name, msg.Error)
		case msg.Type == "joined" && msg.Name == m.name:
			return nil
		}
	}
}

// read receives until the connection ends, timing and checking the said
// messages.
func (m *member) read(senders int) {
	for {
		_, p, err := m.c.next()
		if err != nil {
			return
		}
		at := time.Now()
		var msg chatMsg
		if err := json.Unmarshal(p, &msg); err != nil || msg.Type != "said" {
			continue
		}
		ph, s, seq, ns, ok := parseChatText(msg.Text)
		if !ok || s < 0 || s >= senders {
			m.fault(fmt.Sprintf("said %q: not the benchmark's", msg.Text))
			continue
		}
		if seq <= m.last[s] {
			m.fault(fmt.Sprintf("sender %d's message %d after its %d (repeated or out of order)", s, seq, m.last[s]))
		}
		m.last[s] = seq
		if len(msg.Offset) > 0 {
			m.positions++
		} else {
			m.bare++
		}
		if ph == 'm' {
			m.hist.Add(at.Sub(time.Unix(0, ns)))
			m.delivered.Add(1)
		}
	}
}

func (m *member) fault(s string) {
	if len(m.faults) < 3 {
		m.faults = append(m.faults, s)
	}
}

// say sends one message every `every`, after `offset`, tagged with the
// phase, until ctx ends or the phase is 2; said counts the measured ones.
func (m *member) say(ctx context.Context, roomName string, sender int, every, offset time.Duration, phase *atomic.Int32, said *atomic.Int64) error {
	if err := sleep(ctx, offset); err != nil {
		return err
	}
	t := time.NewTicker(every)
	defer t.Stop()
	room, _ := json.Marshal(roomName)
	for seq := int64(1); ; seq++ {
		p := phase.Load()
		if p == 2 {
			return nil
		}
		tag := byte('w')
		if p == 1 {
			tag = 'm'
		}
		text, _ := json.Marshal(chatText(tag, sender, seq, time.Now()))
		if err := m.c.write(ws.OpText, fmt.Appendf(nil, `{"type":"say","room":%s,"text":%s}`, room, text)); err != nil {
			return fmt.Errorf("say: %w", err)
		}
		if p == 1 {
			said.Add(1)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
