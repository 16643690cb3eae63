package main

// method explains how every figure was taken and what it leaves out.
func (d *doc) method() {
	d.b.WriteString(`## Method

` + "`bench/run.sh`" + ` builds everything (wsfleet with ` + "`make build`" + `, the peers from their own module in
` + "`bench/peers`" + `, the load generator ` + "`bench/loadgen`" + ` and this report ` + "`bench/report`" + `), then runs
the phases in order: idle + broadcast at the small size, at the large size, echo, push, reload (with hand-off; its section says how), and the history phase (the chat app's room with and without history; its section says how). Within a phase every
server is measured in turn, each freshly started on a free port of 127.0.0.1 and stopped afterwards, so that
whatever else the machine is doing falls on every server alike.

**Load generator.** One coordinator process re-executes itself as several client processes, each holding at
most 18,000 connections (the file limit, 20,000 per process, cannot be raised on this machine), and drives
them over pipes, one JSON line per command and per answer. Connections are spread round-robin over source
addresses 127.P.0.2, 127.P.0.3, … (at most 15,000 per address, each address having its own ephemeral port
range to the one destination; P is new for every phase), dialled with ` + "`IP_BIND_ADDRESS_NO_PORT`" + ` so the
port is chosen at connect time, and closed with a reset (` + "`SO_LINGER 0`" + `) so no TIME_WAIT outlives a phase.
Clients use gobwas/ws to dial and answer pings. An echo client is a goroutine; the idle connections of a client
process (memory, broadcast, push) are all read from one epoll set by one goroutine, because a goroutine per
connection on Go's netpoller cost the clients 15-20 µs of CPU per broadcast message received, taken from the
server on the shared cores (now about 12 µs, most of it the kernel's receive path). Any connection that fails
to open, is lost, or gets a wrong echo fails the run.

**Memory.** PSS (` + "`Pss:`" + ` of ` + "`/proc/PID/smaps_rollup`" + `) summed over the server's process tree
(the root process and every descendant, found through ` + "`/proc/*/stat`" + `), before the clients connect and
again once three samples 0.5 s apart agree within 1 % (at most 10 s). PSS counts a shared page once across the
processes mapping it, so the sum is what the group costs. **Kernel memory is in no RSS or PSS:** each TCP socket
also costs the kernel its socket structures (a few KiB per end, in slab caches), plus buffers while data is in
flight; ` + "`kernel_tcp_bytes`" + ` in the JSON is the machine-wide growth of TCP buffer memory
(/proc/net/sockstat) over the phase, both ends, and the socket structures are not measured at all. wsfleet's
idle and broadcast phases run the push app (its timer set to 1 h so it stays quiet, and without pings: see
Broadcast) with 4 workers; the peers
are single processes, so they cannot hold 50k connections here and their large phase is 19k.

**Connect storms.** The idle phases' open is a storm: every client process dials at once, 64 in flight each,
and the figure is the connections over the server's CPU from the command to the last handshake. The
connect-* phases run that storm alone, three trials of each server interleaved, at the small size and at the
peers' large size, with wsfleet on one worker per core (the README's sizing; the idle phases run 4 workers).

**Echo.** 32-byte text messages, closed loop per client, after an unmeasured warm-up; wsfleet runs its echo app
(which answers "hello " + the message: the clients expect that prefix) with one worker, as each peer is one
process, and again with one worker per core (rows "-count 2"). Each worker runs one epoll poller per core it
has (` + "`master start -worker-cores`" + `; by default its share of the cores, and as many Go Ps), at most one
fewer than its Ps and at least one. Latency is
kept in a histogram of 2 % buckets; the maximum is exact. Round trips per server CPU-second divide the round
trips in the window by utime + stime of all server processes over the same window. "Rest of machine" is the
machine's busy time (/proc/stat) less server and clients: other processes, and interrupt time not charged to
either.

**Broadcast.** Each round's payload is "B <round> <publish time in ns>". Two kinds of round alternate, live
first, 0.3 s apart. In a **live** round the clients read as the messages come; each notes the delay when it
reads the message, and its process reports every connection's delay once all its connections have the round
(or after 10 s). In a **held** round every client process parks its reader first (it leaves epoll_wait and
waits on a channel, so it takes no CPU and the kernel wakes no one), the broadcast is published, and the
readers are released after the hold (1 s; quick mode 0.3 s). Each delivery is then timed by the kernel's
software receive timestamp (` + "`SO_TIMESTAMPING`" + `, read with recvmsg): when the segment entered the client's TCP
receive path. That is when the message has reached the client's machine, which is what the server controls;
with clients on other machines, their reading would cost the server nothing. The receive path itself still
runs on the server's cores here (on loopback, inside the sender's write), so held figures are if anything
slower than the same server with remote clients. TCP merges a segment into an unread one before it, and the
merged segment keeps the later timestamp, so a ping arriving behind the broadcast would lend it its own
time: the broadcast phases therefore run wsfleet with ` + "`-ping-interval 0 -idle-timeout 0`" + `, as the peers, which
send no pings. The targets are judged on held rounds; live rounds show what the same machine does when it also
runs every client. The plots show, for the held round with the median p99, the share of connections that
have the message against time. CPU per delivery is utime + stime of the server's processes, and of the client
processes, divided by the messages delivered: in live rounds from each publish until every client process
reported, in held rounds from the publish to the release.

**What bounds a broadcast here.** On loopback the sender's write() also runs the receiver's half of TCP (the
segment is delivered, the socket queued and its reader woken in the writer's system call), and in live rounds
the clients share the two cores. So a live broadcast to N connections takes at least N × (server + client CPU
per delivery) ÷ 2 cores, whatever the server does; the table's last columns give both. Held rounds take the
clients' user space and their wake-ups out, leaving the server's writes and both halves of TCP. Every server
makes one write() per connection, and the floor (bare write(2) calls, nothing else) costs within a few µs of
the servers: the kernel's send and receive paths are nearly all of it, and their cost per delivery grows with
N (past a few thousand sockets per process their kernel state no longer fits the caches). A peer writes from
one goroutine; wsfleet's workers write in parallel, each to its connections in descriptor order.

**Push.** wsfleet's push app with 8 workers and its timer every 5 s, long enough for one tick to reach every
connection before the next (quick mode: 2 workers, 1 s). The load generator subscribes to ` + "`wsfleet.all`" + ` itself to know when each tick was published (a client that
got a tick before this subscriber did moves the tick's time back to its own receipt), watches the ticks it
asked for, and waits until every connection has had them all, for at most two intervals. A connection gets the
pushes in the order they were published, so its receipts since the first tick of the window are ticks 1, 2, …
in turn, however late each one is. A client process that found few sockets ready sleeps 5 ms before it waits
again (` + "`loadgen -read-coalesce`" + `, as ` + "`make bench-million`" + `'s clients do), so that it reads many ticks per wake-up: without it
the 100,000 clients spent about twice the server's CPU on the same two cores, and on a busy day ticks queued
behind one another until the window closed. Delays are read times, so at most 5 ms later.

**Limits.** Clients and servers share the same two cores, so the load generator's own CPU is in every
latency and throughput figure but the held broadcasts' (the same for every server). Loopback TCP is cheaper than a real network and has
no bandwidth limit. The comparisons the targets rest on (echo, and the broadcast at the peers' size) are measured three times, interleaved
server by server, and each row shows the run with the median figure; the other phases run once. CPU time comes in 10 ms ticks.
`)
}
