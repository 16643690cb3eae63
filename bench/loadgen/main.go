// Command loadgen is wsfleet's benchmark client. A coordinator process
// re-executes itself as several client processes ("loadgen child"), each
// holding a share of the connections from its share of loopback source
// addresses, and drives them over their stdin and stdout, one JSON line per
// command or event. It reads the server's memory and CPU from /proc and
// prints one JSON result on stdout. See docs/benchmarks.md for the method.
//
//	loadgen -server NAME -url ws://127.0.0.1:PORT/ -server-pid PID -mode idle,broadcast -conns N ...
//	loadgen -server NAME -url wss://127.0.0.1:PORT/ -ca cert.pem -mode connect-rate ...
//	loadgen freeport | waitport ADDR | jsonget PATH < file.json | sysinfo | gencert DIR
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

type options struct {
	server, label, url string
	config             string
	modes              map[string]bool
	serverPID          int
	conns              int
	perProc, perSource int
	src                string
	concurrency        int
	dialTimeout        time.Duration
	coalesce           time.Duration
	settle             time.Duration
	payload            int
	prefix             string
	warmup, duration   time.Duration
	rounds             int
	trigger, natsURL   string
	subject            string
	roundTimeout       time.Duration
	hold               time.Duration
	ticks              int
	pushInterval       time.Duration
	reloadCmd          string
	reloadAfter        int
	reloadLog          string
	timeout            time.Duration
	room               string
	senders            int
	rate               float64
	idle               time.Duration
	chatHistory        string
	allowFailed        bool
	ca                 string // wss://: the certificate the clients trust
	tlsWarmup          int
}

var modeNames = []string{"connect-rate", "idle", "broadcast", "echo", "push", "chat"}

func main() {
	if len(os.Args) > 1 {
		if tool, ok := tools[os.Args[1]]; ok {
			if err := tool(os.Args[2:]); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			return
		}
	}
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	res := run(ctx, o)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(res)
	if !res.OK {
		fmt.Fprintf(os.Stderr, "loadgen: %s %s failed: %s\n", o.server, o.label, strings.Join(res.Errors, "; "))
		os.Exit(1)
	}
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	modes := fs.String("mode", "idle", "comma-separated: "+strings.Join(modeNames, ", ")+" (run on one set of connections, in that order)")
	fs.StringVar(&o.server, "server", "", "the server's name in the result")
	fs.StringVar(&o.label, "label", "", "this run's name in the result")
	fs.StringVar(&o.config, "config", "", "how the server was started, for the result")
	fs.StringVar(&o.url, "url", "", "the server, ws://127.0.0.1:PORT/")
	fs.IntVar(&o.serverPID, "server-pid", 0, "the server's (root) process: memory and CPU are summed over it and its descendants")
	fs.IntVar(&o.conns, "conns", 1000, "connections (for echo: clients, each in a closed loop)")
	fs.IntVar(&o.perProc, "per-proc", 18000, "most connections one client process holds (the file limit is per process)")
	fs.IntVar(&o.perSource, "per-source", 15000, "most connections from one source address (one ephemeral port range each)")
	fs.StringVar(&o.src, "src", "127.0.0.2", "first source address; the next ones follow it")
	fs.IntVar(&o.concurrency, "concurrency", 64, "dials in flight per client process")
	fs.DurationVar(&o.dialTimeout, "dial-timeout", 10*time.Second, "bound on one connect + handshake")
	fs.DurationVar(&o.coalesce, "read-coalesce", 0, "idle and push: after a wait that found only a few sockets ready, a client process sleeps this long before the next, so one wake-up reads many (0: it waits at once); push times are read times, so at most this much later")
	fs.DurationVar(&o.settle, "settle", 10*time.Second, "idle: longest wait for the server's memory to settle")
	fs.IntVar(&o.payload, "payload", 32, "echo: message size in bytes")
	fs.StringVar(&o.prefix, "prefix", "", `echo: what the server puts before the echoed message ("hello " for wsfleet's echo app)`)
	fs.DurationVar(&o.warmup, "warmup", time.Second, "echo: unmeasured time before the window")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "echo: measured window")
	fs.IntVar(&o.rounds, "rounds", 5, "broadcast: messages, one after the other")
	fs.StringVar(&o.trigger, "trigger", "ws", `broadcast: "nats" publishes on -subject; "ws" sends "BROADCAST <payload>" on a control connection`)
	fs.StringVar(&o.natsURL, "nats", "", "NATS URL (broadcast -trigger nats, push)")
	fs.StringVar(&o.subject, "subject", "wsfleet.all", "NATS subject of cluster-wide messages")
	fs.DurationVar(&o.roundTimeout, "round-timeout", 10*time.Second, "broadcast: how long a round may take to reach every connection")
	fs.DurationVar(&o.hold, "hold", 0, "broadcast: also run held rounds, alternating with the live ones: the clients read nothing for this long after the publish, and each delivery is timed by the kernel's receive timestamp (0: live rounds only)")
	fs.IntVar(&o.ticks, "ticks", 5, "push: ticks to watch")
	fs.DurationVar(&o.pushInterval, "push-interval", 2*time.Second, "push: the server's -push-interval")
	fs.StringVar(&o.reloadCmd, "reload-cmd", "", "push: a shell command (the cluster's master reload) run once -reload-after ticks of the window have arrived (the window then goes on for -ticks less -reload-after ticks after its exit); the result times it, and the ticks' tally then says what the connections saw of it (closed, missed, doubled, the longest gap)")
	fs.StringVar(&o.reloadLog, "reload-log", "", "push: the master's log file (at -log-level info), whose lines \"reload: connections handed off\" after -reload-cmd give the hand-off's counts and times")
	fs.IntVar(&o.reloadAfter, "reload-after", 2, "push: ticks of the window before -reload-cmd runs")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "bound on the whole run")
	fs.StringVar(&o.room, "room", "bench", "chat: the room the -conns members join")
	fs.IntVar(&o.senders, "senders", 10, "chat: how many of the members say messages")
	fs.Float64Var(&o.rate, "rate", 100, "chat: messages said per second, all senders together (the window is -duration after -warmup; the drain waits up to -round-timeout)")
	fs.DurationVar(&o.idle, "idle", 2*time.Second, "chat: how long the server's idle CPU is measured, every member joined, before anyone says anything")
	fs.StringVar(&o.chatHistory, "chat-history", "", `chat: "on" fails the run if a said message comes without a position, "off" if one comes with one`)
	fs.BoolVar(&o.allowFailed, "allow-failed", false, "go on with the connections that opened when some could not be (the result counts them): how far a ceiling is")
	fs.StringVar(&o.ca, "ca", "", "wss://: the server's certificate or its CA (PEM), the clients' only trusted root (loadgen gencert makes one)")
	fs.IntVar(&o.tlsWarmup, "tls-warmup", 4, "wss://: connections each client process opens and closes, one at a time, before the timed ones, so that its session cache holds a ticket")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.modes = make(map[string]bool)
	for _, m := range strings.Split(*modes, ",") {
		if !slices.Contains(modeNames, m) {
			return o, fmt.Errorf("-mode %q: want %s", m, strings.Join(modeNames, ", "))
		}
		o.modes[m] = true
	}
	var p []string
	if !strings.HasPrefix(o.url, "ws://127.") && !strings.HasPrefix(o.url, "wss://127.") {
		p = append(p, "-url: want ws://127.x.y.z:PORT/ or wss://127.x.y.z:PORT/ (loopback only)")
	}
	if isWSS(o.url) && (len(o.modes) != 1 || !o.modes["connect-rate"] || o.ca == "" || o.tlsWarmup < 0) {
		p = append(p, "-url wss://: want -mode connect-rate alone, -ca, and -tls-warmup >= 0")
	}
	if o.serverPID <= 0 {
		p = append(p, "-server-pid is required")
	}
	if o.conns < 1 || o.perProc < 1 || o.perSource < 1 || o.concurrency < 1 {
		p = append(p, "-conns, -per-proc, -per-source and -concurrency must be positive")
	}
	if (o.modes["push"] || o.trigger == "nats") && o.natsURL == "" {
		p = append(p, "-nats is required for push and for -trigger nats")
	}
	if o.reloadCmd != "" && (!o.modes["push"] || o.reloadAfter < 1 || o.reloadAfter >= o.ticks) {
		p = append(p, "-reload-cmd: want -mode push and 1 <= -reload-after < -ticks")
	}
	if o.modes["chat"] && len(o.modes) > 1 {
		p = append(p, "-mode chat runs alone")
	}
	if o.modes["chat"] && (o.senders < 1 || o.senders > o.conns || o.rate <= 0 || o.duration <= 0) {
		p = append(p, "-mode chat: want 1 <= -senders <= -conns, -rate > 0 and -duration > 0")
	}
	if o.chatHistory != "" && o.chatHistory != "on" && o.chatHistory != "off" {
		p = append(p, `-chat-history: want "on" or "off"`)
	}
	if o.modes["echo"] && len(o.modes) > 1 {
		p = append(p, "-mode echo runs alone: its connections echo instead of reading idly")
	}
	if len(p) > 0 {
		return o, fmt.Errorf("%s", strings.Join(p, "; "))
	}
	return o, nil
}

// tools are the small helpers bench/run.sh needs, so that it needs nothing
// but this binary and a shell.
var tools = map[string]func(args []string) error{
	"child": func([]string) error { return runChild() },
	"freeport": func([]string) error {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		defer ln.Close()
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		return nil
	},
	"waitport": func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("usage: loadgen waitport HOST:PORT")
		}
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if c, err := net.DialTimeout("tcp", args[0], time.Second); err == nil {
				c.Close()
				return nil
			}
		}
		return fmt.Errorf("loadgen: nothing accepts on %s after 15s", args[0])
	},
	"jsonget": func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("usage: loadgen jsonget a.b.0.c < file.json")
		}
		var v any
		if err := json.NewDecoder(os.Stdin).Decode(&v); err != nil {
			return fmt.Errorf("loadgen jsonget: %w", err)
		}
		for _, k := range strings.Split(args[0], ".") {
			switch t := v.(type) {
			case map[string]any:
				v = t[k]
			case []any:
				i, err := strconv.Atoi(k)
				if err != nil || i < 0 || i >= len(t) {
					return fmt.Errorf("loadgen jsonget: no %q in %s", k, args[0])
				}
				v = t[i]
			default:
				return fmt.Errorf("loadgen jsonget: no %q in %s", k, args[0])
			}
		}
		if v == nil {
			return fmt.Errorf("loadgen jsonget: %s not found", args[0])
		}
		fmt.Println(v)
		return nil
	},
	"gencert": func(args []string) error {
		if len(args) != 1 {
			return fmt.Errorf("usage: loadgen gencert DIR")
		}
		return genCert(args[0])
	},
	"sysinfo": func([]string) error {
		return json.NewEncoder(os.Stdout).Encode(machineInfo())
	},
}
