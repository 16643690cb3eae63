package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// childEnv carries a client process's childConfig, as JSON.
const childEnv = "LOADGEN_CHILD"

// childConfig is one client process's share of the connections.
type childConfig struct {
	Index       int           `json:"index"`
	URL         string        `json:"url"`
	Conns       int           `json:"conns"`
	First       int           `json:"first"`       // global index of this process's first connection
	Sources     []string      `json:"sources"`     // source addresses, by global index round-robin
	Concurrency int           `json:"concurrency"` // dials in flight
	DialTimeout time.Duration `json:"dial_timeout"`
	// Coalesce is how long the reader sleeps after a wait that found only
	// a few sockets ready (loadgen -read-coalesce); 0: none.
	Coalesce time.Duration `json:"coalesce,omitempty"`
	Echo     bool          `json:"echo"`             // run the echo loop instead of reading idly
	Payload  int           `json:"payload"`          // echo message size
	Prefix   string        `json:"prefix"`           // what the server puts before the echo
	CA       string        `json:"ca,omitempty"`     // wss://: the certificate to trust (tls.go)
	Warmup   int           `json:"warmup,omitempty"` // wss://: connections opened and closed before ready
}

// command is one line from the coordinator.
type command struct {
	Cmd   string  `json:"cmd"`
	Round int     `json:"round,omitempty"`
	Ticks []int64 `json:"ticks,omitempty"` // unix ns, for push-stop
}

// event is one line to the coordinator.
type event struct {
	Ev      string      `json:"ev"`
	Child   int         `json:"child"`
	Opened  int         `json:"opened,omitempty"`
	Resumed int         `json:"resumed,omitempty"` // wss://: TLS sessions resumed
	Failed  int         `json:"failed,omitempty"`
	Dropped int         `json:"dropped,omitempty"`
	Errors  []string    `json:"errors,omitempty"`
	Round   int         `json:"round,omitempty"`
	LatUS   []int64     `json:"lat_us,omitempty"`
	Echo    *echoReport `json:"echo,omitempty"`
	Push    *pushReport `json:"push,omitempty"`
	Firsts  []int64     `json:"firsts,omitempty"` // per tick, the earliest receipt
	Count   int         `json:"count,omitempty"`  // connections that had every tick
}

type echoReport struct {
	RoundTrips uint64 `json:"round_trips"`
	Hist       *Hist  `json:"hist"`
}

// child is a client process: it holds its connections and obeys the
// coordinator's commands, one per line on stdin, answering on stdout.
type child struct {
	cfg   childConfig
	outMu sync.Mutex
	out   *json.Encoder
	conns []*client      // echo: each with its goroutine
	rd    *reader        // idle: every connection on one epoll set
	tls   *tls.Config    // wss://, else nil
	wg    sync.WaitGroup // connection goroutines, the reader

	closing atomic.Bool
	dropped atomic.Int64
	errs    errSample

	bmu      sync.Mutex
	rounds   map[int][]int64 // broadcast round → latencies (µs)
	reported map[int]bool
	complete chan int // a round every connection has

	heldRound atomic.Int64 // the broadcast round held (see reader), timed by arrival; 0: none
	recording atomic.Bool
	pmu       sync.Mutex
	recv      [][]int64 // per connection: receive times (unix ns) while recording
	readLate  atomic.Int64

	echoStop atomic.Bool
	echoRec  atomic.Bool
	echoMu   sync.Mutex
	echoHist *Hist
	echoRTs  uint64
}

func runChild() error {
	var cfg childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cfg); err != nil {
		return fmt.Errorf("loadgen child: bad %s: %w", childEnv, err)
	}
	ch := &child{
		cfg: cfg, out: json.NewEncoder(os.Stdout),
		rounds: make(map[int][]int64), reported: make(map[int]bool), complete: make(chan int, 16),
		recv: make([][]int64, cfg.Conns), echoHist: newHist(),
	}
	cmds := make(chan command)
	go func() { // ends with the process
		defer close(cmds)
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			var c command
			if json.Unmarshal(sc.Bytes(), &c) == nil {
				cmds <- c
			}
		}
	}()
	if isWSS(cfg.URL) {
		var err error
		if ch.tls, err = clientTLS(cfg.CA); err != nil {
			return err
		}
		if err := ch.warmUp(); err != nil {
			return err
		}
	}
	ch.emit(event{Ev: "ready"})
	for {
		select {
		case r := <-ch.complete:
			ch.reportRound(r)
		case c, ok := <-cmds:
			if !ok || c.Cmd == "close" {
				ch.closeAll()
				ch.emit(event{Ev: "closed", Dropped: int(ch.dropped.Load()), Errors: ch.errs.list()})
				return nil
			}
			ch.handle(c)
		}
	}
}

func (ch *child) emit(e event) {
	e.Child = ch.cfg.Index
	ch.outMu.Lock()
	defer ch.outMu.Unlock()
	_ = ch.out.Encode(e) // the coordinator notices a broken pipe as our exit
}

func (ch *child) handle(c command) {
	switch c.Cmd {
	case "open":
		ch.emit(ch.open())
	case "echo-start":
		for i, cl := range ch.conns {
			if cl != nil {
				ch.wg.Add(1)
				go ch.echoLoop(cl, i)
			}
		}
	case "mark":
		ch.pmu.Lock()
		for i := range ch.recv {
			ch.recv[i] = ch.recv[i][:0]
		}
		ch.pmu.Unlock()
		ch.echoMu.Lock()
		ch.echoHist, ch.echoRTs = newHist(), 0
		ch.echoMu.Unlock()
		ch.recording.Store(true)
		ch.echoRec.Store(true)
	case "echo-stop":
		ch.echoRec.Store(false)
		ch.echoStop.Store(true)
		ch.wg.Wait()
		ch.echoMu.Lock()
		rep := &echoReport{RoundTrips: ch.echoRTs, Hist: ch.echoHist}
		ch.echoMu.Unlock()
		ch.emit(event{Ev: "echo", Echo: rep, Dropped: int(ch.dropped.Load()), Errors: ch.errs.list()})
	case "hold", "release":
		if ch.rd == nil {
			ch.emit(event{Ev: "error", Errors: []string{c.Cmd + ": no idle connections"}})
			return
		}
		if c.Cmd == "hold" {
			ch.heldRound.Store(int64(c.Round))
			ch.rd.control(ctlHold)
		} else {
			ch.rd.control(ctlRelease)
		}
		ch.emit(event{Ev: c.Cmd})
	case "flush":
		ch.reportRound(c.Round)
	case "push-count":
		ch.pmu.Lock()
		n := pushCount(ch.recv, c.Ticks)
		ch.pmu.Unlock()
		ch.emit(event{Ev: "count", Count: n})
	case "push-firsts":
		ch.recording.Store(false)
		ch.pmu.Lock()
		firsts := pushFirsts(ch.recv, c.Ticks)
		ch.pmu.Unlock()
		ch.emit(event{Ev: "firsts", Firsts: firsts})
	case "push-stop":
		ch.recording.Store(false)
		ch.pmu.Lock()
		rep := pushTally(ch.recv, c.Ticks)
		rep.ReadLate = int(ch.readLate.Load())
		ch.pmu.Unlock()
		ch.emit(event{Ev: "push", Push: rep, Dropped: int(ch.dropped.Load()), Errors: ch.errs.list()})
	default:
		ch.emit(event{Ev: "error", Errors: []string{"unknown command " + c.Cmd}})
	}
}

// open dials every connection of this process, Concurrency at a time, each
// up to three times.
func (ch *child) open() event {
	cfg := ch.cfg
	dialers := make(map[string]func() (*client, error), len(cfg.Sources))
	for _, s := range cfg.Sources {
		d := ch.dialer(s)
		dialers[s] = func() (*client, error) { return dialClient(context.Background(), d, cfg.URL) }
	}
	ch.conns = make([]*client, cfg.Conns)
	if !cfg.Echo && ch.tls == nil { // wss:// connections are held unread
		// Read each connection from the moment it is open.
		if err := ch.startReader(); err != nil {
			return event{Ev: "opened", Failed: cfg.Conns, Errors: []string{err.Error()}}
		}
	}
	var failed, resumed atomic.Int64
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range max(cfg.Concurrency, 1) {
		wg.Go(func() {
			for i := range jobs {
				dial := dialers[cfg.Sources[(cfg.First+i)%len(cfg.Sources)]]
				var err error
				for attempt := range 3 {
					if attempt > 0 {
						time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
					}
					if ch.conns[i], err = dial(); err == nil {
						break
					}
				}
				if err == nil && didResume(ch.conns[i]) {
					resumed.Add(1)
				}
				if err == nil && ch.rd != nil {
					if err = ch.rd.enqueue(i, ch.conns[i]); err != nil {
						ch.conns[i].abort()
					}
					ch.conns[i] = nil
				}
				if err != nil {
					failed.Add(1)
					ch.errs.add(err)
				}
			}
		})
	}
	for i := range cfg.Conns {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return event{Ev: "opened", Opened: cfg.Conns - int(failed.Load()), Failed: int(failed.Load()),
		Resumed: int(resumed.Load()), Errors: ch.errs.list()}
}

// startReader starts the reader of the idle connections, which open hands
// it one by one.
func (ch *child) startReader() error {
	last := make([]int, len(ch.conns)) // per connection, the last round seen
	for i := range last {
		last[i] = -1
	}
	rd, err := newReader(func(i int, p []byte, rx int64) { ch.received(i, p, rx, &last[i]) }, ch.lost)
	if err != nil {
		return err
	}
	rd.coalesce = ch.cfg.Coalesce
	ch.rd = rd
	ch.wg.Go(rd.run)
	return nil
}

// received records a push that connection i got, and times a broadcast:
// by when it was read, or, in the held round, by when the kernel received
// it (rx).
func (ch *child) received(i int, p []byte, rx int64, last *int) {
	now := time.Now().UnixNano()
	if ch.recording.Load() {
		ch.pmu.Lock()
		ch.recv[i] = append(ch.recv[i], now)
		ch.pmu.Unlock()
		if rx != 0 && now-rx > int64(time.Second) {
			ch.readLate.Add(1) // late on our side, not the server's
		}
	}
	r, stamp, ok := parseStamp(p)
	if !ok || r == *last {
		return
	}
	*last = r
	at := now
	if int64(r) == ch.heldRound.Load() {
		if rx == 0 {
			ch.errs.add(errors.New("a held round's message came without a receive timestamp"))
		} else {
			at = rx
		}
	}
	ch.recordRound(r, (at-stamp)/1000)
}

func (ch *child) lost(err error) {
	if !ch.closing.Load() {
		ch.dropped.Add(1)
		ch.errs.add(fmt.Errorf("connection lost: %w", err))
	}
}

func (ch *child) recordRound(r int, us int64) {
	ch.bmu.Lock()
	defer ch.bmu.Unlock()
	ch.rounds[r] = append(ch.rounds[r], max(us, 0))
	if len(ch.rounds[r]) == ch.cfg.Conns {
		ch.complete <- r
	}
}

func (ch *child) reportRound(r int) {
	ch.bmu.Lock()
	if ch.reported[r] {
		ch.bmu.Unlock()
		return
	}
	ch.reported[r] = true
	lat := append([]int64(nil), ch.rounds[r]...)
	delete(ch.rounds, r)
	ch.bmu.Unlock()
	ch.emit(event{Ev: "round", Round: r, LatUS: lat})
}

func (ch *child) closeAll() {
	ch.closing.Store(true)
	ch.echoStop.Store(true)
	for _, c := range ch.conns {
		if c != nil {
			c.abort()
		}
	}
	if ch.rd != nil {
		ch.rd.stop()
	}
	ch.wg.Wait()
}
