package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/bench/internal/record"
)

// The million section sits between these markers, so that
// bench/million.sh can replace it in a docs/benchmarks.md that `make bench`
// wrote, and `make bench` writes it again from the committed results.
const (
	millionBegin = "<!-- million: begin (bench/million.sh; results in bench/million/) -->"
	millionEnd   = "<!-- million: end -->"
)

// millionRun is what bench/million.sh keeps in bench/million/.
type millionRun struct {
	res     record.Result
	machine record.Machine
	setup   struct {
		Seconds int    `json:"seconds"`
		Nice    int    `json:"nice"`
		Sysctls string `json:"sysctls"`
	}
	peak string // the kernel's figures at the most sockets held
}

// loadMillion reads dir; nil, nil when the million has not been run.
func loadMillion(dir string) (*millionRun, error) {
	m := new(millionRun)
	err := readJSON(filepath.Join(dir, "wsfleet-million.json"), &m.res)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "machine.json"), &m.machine); err != nil {
		return nil, err
	}
	if err := readJSON(filepath.Join(dir, "run.json"), &m.setup); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, "peak.txt"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("report: %w", err)
	}
	m.peak = strings.TrimSpace(string(b))
	return m, nil
}

// millionSection renders the section, markers included.
func millionSection(m *millionRun) string {
	var d doc
	d.p("%s\n", millionBegin)
	d.million(m)
	d.p("%s", millionEnd)
	return d.b.String()
}

// spliceMillion puts section in place of the one in md, or before the
// problems and the method if md has none.
func spliceMillion(md, section string) string {
	if i := strings.Index(md, millionBegin); i >= 0 {
		if j := strings.Index(md[i:], millionEnd); j >= 0 {
			rest := strings.TrimPrefix(md[i+j+len(millionEnd):], "\n")
			return md[:i] + section + rest
		}
	}
	for _, h := range []string{"\n## Problems in this run\n", "\n## Method\n"} {
		if i := strings.Index(md, h); i >= 0 {
			return md[:i+1] + section + "\n" + md[i+1:]
		}
	}
	return md + "\n" + section
}

func (d *doc) million(m *millionRun) {
	d.p("## A million connections\n")
	if m == nil {
		d.p("Not measured yet: `make bench-million` (root; it takes the machine for several minutes) writes this section.\n")
		return
	}
	r, c := &m.res, m.res.Connect
	if c == nil {
		// The opening did not end within the run's time: the sampler's
		// count of TCP sockets at its peak (two per connection) is the
		// highest count held.
		d.p("The last `make bench-million` (%s, `%s`) did not finish opening its %s connections within its time limit: %s.\n",
			r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), r.Config, thousands(float64(r.Conns)), strings.Join(r.Errors, "; "))
		if n := peakSockets(m.peak); n > 0 {
			d.p("**Highest count held: about %s connections** (%s TCP sockets in the namespace, two per connection, at the sampler's peak).\n",
				thousands(float64(n/2)), thousands(float64(n)))
		}
		if m.peak != "" {
			d.p("The kernel's figures at that moment (`bench/million/peak.txt`):\n\n```\n%s\n```\n", m.peak)
		}
		return
	}
	held := c.Opened
	d.p("Written by `bench/million.sh` (`make bench-million`, not part of `make bench`) on %s, a run of %s on %d × %s with %.1f GiB, "+
		"load average %.2f at its start. Raw results: `bench/million/`.\n",
		r.StartedAt.UTC().Format("2006-01-02 15:04 UTC"), (time.Duration(m.setup.Seconds) * time.Second).String(),
		m.machine.CPUs, m.machine.CPUModel, float64(m.machine.MemBytes)/(1<<30), r.Load1)
	d.p("`%s`, in a network namespace made for the run: loopback only and no firewall rules, so no connection tracking "+
		"(the host's table holds 262,144 entries). %d client processes of the load generator, each holding its share on one epoll set "+
		"from one goroutine, dial from %d source addresses in 127.1.0.0/16 to 127.0.0.1:8080. Kernel settings: %s. "+
		"Open files stay at the machine's %s per process: hence the workers, and %d client processes. "+
		"Pings every 5 minutes rather than 25 s: at a million, 25 s is 40,000 pings and pongs a second, more than two cores "+
		"can serve with the clients beside them (bench/README.md has the measurement). `-worker-timeout 60s`: with over a hundred "+
		"busy processes on two cores, a healthy worker can leave the master's heartbeat unanswered for longer than the default 5 s, "+
		"and was killed for it in a trial at 500k. One Go P per process, server and clients (`-worker-cores 1`, GOMAXPROCS=1 for "+
		"the clients): with over a hundred processes on two cores a second P only spins looking for work. No TCP keep-alive probes "+
		"on either end (`-tcp-keepalive 0`, and the load generator's dialer): at Go's 15 s a million idle sockets would send some "+
		"66,000 probes a second each way. The namespace gets its own table of established sockets, sized for both ends "+
		"(`net.ipv4.tcp_child_ehash_entries`, read when a namespace is made): sharing the host's 262,144 buckets, the lookup that "+
		"walks a chain for every segment was 27 %% of the machine's CPU. A client process that found few sockets ready sleeps 5 ms "+
		"before it waits again (`-read-coalesce`), so that it wakes once for many ticks; a tick's times are read times, so at most "+
		"that much later.\n",
		r.Config, r.ClientProcs, r.Sources, m.setup.Sysctls, m.machine.FileLimit, r.ClientProcs)
	if m.setup.Nice != 0 {
		d.p("The server and the clients ran at nice %d, so that whatever else ran on the machine did not take the cores from them.\n", m.setup.Nice)
	}
	d.p("| | |\n| --- | --- |")
	d.p("| connections asked for | %s |", thousands(float64(r.Conns)))
	d.p("| connections held | **%s** (%s failed to open) |", thousands(float64(held)), thousands(float64(c.Failed)))
	d.p("| time to open them all | %.1f s (%s per second; all client processes at once, 64 handshakes in flight each) |", c.Seconds, thousands(c.PerSecond))
	if mem := r.Memory; mem != nil && held > 0 {
		n := float64(held)
		d.p("| server PSS per connection | %s (%d processes: %s with the connections, %s before; %s counting the fixed cost) |",
			bytesPer(mem.PerConnBytes), mem.Processes, gib(mem.Bytes), mib(mem.BaselineBytes), bytesPer(mem.TotalPerConn))
		if mem.ClientBytes > 0 {
			d.p("| load generator PSS per connection | %s (%s in all) |", bytesPer(float64(mem.ClientBytes)/n), gib(mem.ClientBytes))
		}
		if mem.SlabBytes > 0 {
			own := mem.SlabBytes - procSlab(mem.SlabCaches)
			d.p("| kernel slab per connection, both ends | %s without /proc's caches, %s per socket (slab growth %s machine-wide, %s with them: %s per connection) |",
				bytesPer(float64(own)/n), bytesPer(float64(own)/n/2), gib(own), gib(mem.SlabBytes), bytesPer(float64(mem.SlabBytes)/n))
		}
		if mem.KernelTCPBytes > 0 {
			d.p("| kernel TCP buffers per connection, idle | %s (sockstat's mem grew %s: ticks and pings not yet read) |", bytesPer(float64(mem.KernelTCPBytes)/n), mib(mem.KernelTCPBytes))
		}
	}
	if p := r.Push; p != nil {
		d.p("| ticks watched | %d, every %gs |", len(p.Ticks), p.IntervalSeconds)
		if p.WindowSeconds > 0 {
			d.p("| CPU while the ticks were watched (%.0f s) | server %.0f s, load generator %.0f s, whole machine %.0f s of the %.0f the %d cores had (the rest: other work on the machine, and interrupts) |",
				p.WindowSeconds, p.ServerCPUSeconds, p.ClientCPUSeconds, p.MachineCPUSeconds, p.WindowSeconds*float64(m.machine.CPUs), m.machine.CPUs)
		}
	}
	d.p("")
	d.millionSlabs(r.Memory, held)
	d.millionTicks(r, held)
	d.millionVerdict(m, held)
}

// millionSlabs lists the slab caches that grew.
func (d *doc) millionSlabs(mem *record.Memory, held int) {
	if mem == nil || len(mem.SlabCaches) == 0 || held == 0 {
		return
	}
	d.p("Where the kernel's memory went (the slab caches that grew most between before the first connection and all of them idle; " +
		"each connection is two sockets, one per end: a `TCP` socket, its inode in `sock_inode_cache`, a `dentry` and a `filp` for its " +
		"descriptor, and an `eventpoll_epi` per epoll set watching it). `proc_inode_cache` and as many `dentry` objects are not the " +
		"connections' own cost: they are `/proc/PID/fd` entries, made when something lists processes' descriptors under `/proc` (neither " +
		"wsfleet nor the load generator does; a process on this machine does, for every socket), reclaimable, and left out of the " +
		"per-socket figure above.\n")
	d.p("| slab cache | grew by | objects | per connection |\n| --- | ---: | ---: | ---: |")
	for _, s := range mem.SlabCaches {
		d.p("| `%s` (%d B objects) | %s | %s | %s |", s.Name, s.ObjSize, mib(s.Bytes), thousands(float64(s.Objects)), bytesPer(float64(s.Bytes)/float64(held)))
	}
	d.p("")
}

func (d *doc) millionTicks(r *record.Result, held int) {
	p := r.Push
	if p == nil {
		return
	}
	d.p("Every tick as the connections got it (delays from when the benchmark's NATS subscriber saw the tick, or the first connection got it if earlier):\n")
	d.p("| tick | delivered | p50 | p99 | max |\n| ---: | ---: | ---: | ---: | ---: |")
	for i, t := range p.Ticks {
		d.p("| %d | %s of %s | %s | %s | %s |", i+1, thousands(float64(t.Delivered)), thousands(float64(held)), secs(t.P50MS), secs(t.P99MS), secs(t.MaxMS))
	}
	d.p("")
}

func (d *doc) millionVerdict(m *millionRun, held int) {
	r := &m.res
	all := r.Push != nil && r.Push.AllDelivered && r.Connect.Failed == 0
	switch {
	case held >= r.Conns && all && r.OK:
		d.p("**Held %s connections, and every one got every tick.**\n", thousands(float64(held)))
	case held >= r.Conns:
		d.p("**Held %s connections, but not every one got every tick** (%s).\n", thousands(float64(held)), strings.Join(r.Errors, "; "))
	default:
		d.p("**Highest count held: %s of %s.** Why the rest failed, as the clients saw it: %s.\n",
			thousands(float64(held)), thousands(float64(r.Conns)), strings.Join(append(r.Connect.Errors, r.Errors...), "; "))
	}
	if p := r.Push; p != nil {
		worst := 0.0
		for _, t := range p.Ticks {
			worst = math.Max(worst, t.MaxMS)
		}
		if worst > p.IntervalSeconds*1000 {
			d.p("Some connections got a tick more than an interval late (%s): ticks queued behind one another. "+
				"%s messages were read more than 1 s after the client's kernel received them (SO_TIMESTAMPING): the lateness "+
				"beyond that is the server's side.\n", secs(worst), thousands(float64(p.ReadLate)))
		}
	}
	if m.peak != "" {
		d.p("The kernel's figures at the most sockets in use during the run (fs.file-nr, the namespace's sockstat, meminfo, "+
			"kernel messages, the master's log; `bench/million/peak.txt`):\n\n```\n%s\n```\n", m.peak)
	}
}

// peakSockets is the "TCP: inuse N" of the peak snapshot, or 0.
func peakSockets(peak string) int {
	for _, line := range strings.Split(peak, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "TCP:" && f[1] == "inuse" {
			n, _ := strconv.Atoi(f[2])
			return n
		}
	}
	return 0
}

// procSlab is the slab growth of /proc's descriptor entries: the
// proc_inode_cache and one dentry for each of its objects.
func procSlab(cs []record.SlabCache) int64 {
	var dentry int64 = 192
	for _, c := range cs {
		if c.Name == "dentry" && c.ObjSize > 0 {
			dentry = c.ObjSize
		}
	}
	for _, c := range cs {
		if c.Name == "proc_inode_cache" {
			return c.Bytes + c.Objects*dentry
		}
	}
	return 0
}

func bytesPer(b float64) string {
	if math.Abs(b) >= 10*1024 {
		return kib(b)
	}
	return fmt.Sprintf("%.0f B", b)
}

func gib(b int64) string { return fmt.Sprintf("%.2f GiB", float64(b)/(1<<30)) }

func secs(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%.2f s", v/1000)
	}
	return ms(v) + " ms"
}

// writeMillionOnly replaces the million section of the Markdown at out.
func writeMillionOnly(dir, out string) error {
	m, err := loadMillion(dir)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(out)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("report: %w", err)
	}
	md := spliceMillion(string(b), millionSection(m))
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}
