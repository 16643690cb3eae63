package main

import (
	"fmt"
	"strings"
)

// chatVariants are the history phase's rooms, in table order: the label
// bench/history.sh gives each and what it is.
var chatVariants = []struct{ label, what string }{
	{"chat-history", "with history (the chat app's default, `*=100,1h`)"},
	{"chat-nohistory", "without history (`-history off`)"},
	{"chat-nomatch", "without history, JetStream on (`-history 'lobby*=100,1h'`, a rule the room does not match)"},
}

func us(v float64) string { return fmt.Sprintf("%.0f", v) }

// history is the section of issue 14: what a message kept in history
// costs, against the same room without.
func (d *doc) history() {
	on, off := d.run.get("wsfleet", "chat-history"), d.run.get("wsfleet", "chat-nohistory")
	if on == nil || on.Chat == nil {
		return
	}
	c := on.Chat
	d.p("## Room history: the cost of a kept message\n")
	d.p("The chat app, %d members in one room (every one a connection, spread by the kernel over the workers), "+
		"%d of them saying %g messages a second in all at a fixed rate; every member gets every message, the sender included. "+
		"Each row is a freshly started cluster with an empty JetStream; `said` counts the messages of the measured window, "+
		"each delivered %d times.\n", c.Members, c.Senders, c.RatePerSecond, c.Members)
	d.p("| room | started as | said | delivered | server CPU-s | µs per message said | µs per delivery | idle server CPU-s per s | p50 ms | p99 ms | max ms | rest of machine CPU-s |")
	d.p("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	var labels []string
	for _, v := range chatVariants {
		r := d.run.get("wsfleet", v.label)
		if r == nil || r.Chat == nil {
			continue
		}
		labels = append(labels, v.label)
		c := r.Chat
		d.p("| %s | `%s` | %s | %s of %s | %.2f | %s | %.1f | %.3f | %s | %s | %s | %.2f |", v.what, r.Config,
			thousands(float64(c.Said)), thousands(float64(c.Delivered)), thousands(float64(c.Expected)), c.ServerCPUSeconds,
			us(c.CPUUSPerSaid), c.CPUUSPerDelivery, c.IdleCPUPerSecond, ms(c.P50MS), ms(c.P99MS), ms(c.MaxMS), c.OtherCPUSeconds)
	}
	d.p("")
	d.trialList(labels, func(r *result) bool { return r.Chat != nil }, us, "server CPU µs per message said")
	if off != nil && off.Chat != nil {
		a, b := on.Chat, off.Chat
		d.p("With history against without: server CPU per message said %s, per delivery %s; "+
			"latency p50 %s, p99 %s, max %s.\n",
			ratio(a.CPUUSPerSaid, b.CPUUSPerSaid), ratio(a.CPUUSPerDelivery, b.CPUUSPerDelivery),
			ratio(a.P50MS, b.P50MS), ratio(a.P99MS, b.P99MS), ratio(a.MaxMS, b.MaxMS))
	}
	d.p("**How.** The load generator's `chat` mode (one process, a goroutine per member) dials the members, has each " +
		"join the room and waits for its own `joined`, then measures the server's CPU with no one talking " +
		"(the idle column: what the server spends with the room quiet, which the per message figures include; it is measured " +
		"just after the joins, so the end of their work can fall in it), then starts the senders: each says `{\"type\":\"say\"}` on a ticker, staggered so the " +
		"room gets one message every 1/rate s, with its phase, its sequence number and the send time in the text. After a warm-up, " +
		"the window opens: the server's CPU (utime + stime of the master, which runs the embedded NATS and its JetStream, " +
		"and of every worker, from `/proc/PID/stat`) is read, the senders say messages for the window's length and stop, and the " +
		"window closes when every member has every message said in it (or after 10 s, which fails the run). **Server CPU per " +
		"message said** is that CPU divided by the messages said in the window; **per delivery**, divided by the deliveries " +
		"(said × members). **Latency** is from just before the sender's write to the member's read of the message, over every " +
		"delivery of the window, all in one process on one clock. Every member must get every message once and each sender's " +
		"in order, and the said messages must carry a position (`offset`, `epoch`) exactly in the room with history: " +
		"otherwise the run fails.\n")
	var notes []string
	for _, l := range labels {
		if r := d.run.get("wsfleet", l); r.Chat.Seconds > 0 {
			if share := r.Chat.OtherCPUSeconds / (r.Chat.Seconds * float64(d.run.start.CPUs)); share > 0.1 {
				notes = append(notes, fmt.Sprintf("%s (%.0f %%)", l, 100*share))
			}
		}
	}
	if len(notes) > 0 {
		d.p("The rest of the machine took more than 10 %% of its CPU during: %s; those rows' latencies are depressed by it.\n", strings.Join(notes, ", "))
	}
}

// historyProblems: the history phase must have measured the room with and
// without history.
func (r *run) historyProblems() []string {
	var p []string
	for _, l := range []string{"chat-history", "chat-nohistory"} {
		if x := r.get("wsfleet", l); x == nil || x.Chat == nil {
			p = append(p, fmt.Sprintf("wsfleet %s: no result", l))
		}
	}
	return p
}
