package main

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/gobwas/ws"
)

// echoLoop sends a message, waits for the reply and checks it, until
// echo-stop; the round trips between mark and echo-stop are recorded.
func (ch *child) echoLoop(c *client, i int) {
	defer ch.wg.Done()
	msg := bytes.Repeat([]byte{'x'}, ch.cfg.Payload)
	copy(msg, strconv.Itoa(ch.cfg.First+i))
	frame := maskedFrame(ws.OpText, msg)
	want := append([]byte(ch.cfg.Prefix), msg...)
	h := newHist()
	var n uint64
	defer func() {
		ch.echoMu.Lock()
		ch.echoHist.Merge(h)
		ch.echoRTs += n
		ch.echoMu.Unlock()
	}()
	for !ch.echoStop.Load() {
		t0 := time.Now()
		if err := writeFrame(c.nc, frame); err != nil {
			ch.lost(err)
			return
		}
		_, p, err := c.next()
		if err != nil {
			ch.lost(err)
			return
		}
		if !bytes.Equal(p, want) {
			ch.errs.add(fmt.Errorf("echo: got %q, want %q", p, want))
			ch.dropped.Add(1)
			return
		}
		if ch.echoRec.Load() {
			h.Add(time.Since(t0))
			n++
		}
	}
}
