#!/usr/bin/env bash
# bench/million.sh: a million concurrent connections on this machine (issue
# 16), every one receiving every tick of the push app, the clients on the
# same machine. `make bench-million` runs it; it is not part of `make bench`.
#
# Everything runs in a network namespace made for the run (loopback only,
# no firewall rules, so no connection tracking) and removed at the end,
# with every process in it. The kernel settings it needs are set inside
# the namespace where they are per-namespace (ports, backlogs) and raised
# for the run and restored after it where they are machine-wide (fs.file-max,
# net.ipv4.tcp_mem). Needs root, iproute2 and Go.
#
# Its results go to bench/out/million/ and, when the run completed, to
# bench/million/ (committed), from which the report generator writes the
# million section of docs/benchmarks.md: this script splices it into the
# current file, and `make bench` keeps it.
#
# Sizes from the environment: CONNS (1000000), COUNT (52 workers: the file
# limit of 20,000 a process holds ~19.2k each with room for the hash's
# unevenness), INTERVAL (the push app's tick), TICKS (ticks watched),
# PER_PROC (connections per client process), SAVE (1: keep the result in
# bench/million/; set 0 for trial runs).
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-1000000}
COUNT=${COUNT:-52}
INTERVAL=${INTERVAL:-60s}
TICKS=${TICKS:-3}
PER_PROC=${PER_PROC:-18000}
# At most 15,000 connections per source address: connect() looks for a
# free port among the even ones first (about 32k of the range), and at
# 30,000 they were 94 % taken, each connect probing the established table
# some 16 times; __inet_check_established and the lookup it makes were the
# top of the profile as the last sources filled.
PER_SOURCE=${PER_SOURCE:-15000}
SAVE=${SAVE:-1}
TIMEOUT=${TIMEOUT:-30m}
# How long one client waits for its connect and handshake: on two cores
# shared with a hundred busy processes a handshake can take longer than
# the load generator's default 10 s (99 of a million did), and a browser
# would wait.
DIAL_TIMEOUT=${DIAL_TIMEOUT:-60s}
# A client process that found few sockets ready sleeps this long before
# waiting again (loadgen -read-coalesce), so that it wakes once for many
# ticks rather than once for each: the tick's times are read times, at
# most this much later.
COALESCE=${COALESCE:-5ms}
PING=${PING:-5m} # the server's -ping-interval (default 25s: see the report)
IDLE=${IDLE:-12m} # and -idle-timeout (default 60s)
# A worker starved of CPU for 5 s (the default) would be killed as hung,
# and its connections with it: with ~110 busy processes on two cores, a
# healthy one is.
WORKER_TIMEOUT=${WORKER_TIMEOUT:-60s}
# One P per process, server and clients: with 52 workers and 56 client
# processes on two cores, a second P in each only spins looking for work
# and wakes threads the cores have no time for (-worker-cores 1 sets each
# worker's GOMAXPROCS and its one poller; the clients get GOMAXPROCS=1).
WORKER_CORES=${WORKER_CORES:-1}
# No TCP keep-alive probes: at 15 s (Go's default, wsfleet's) a million
# idle sockets send some 66,000 probes a second and get as many
# acknowledgements; the pings every $PING and -idle-timeout find a dead
# peer already.
KEEPALIVE=${KEEPALIVE:-0}
CLIENT_PROCS=${CLIENT_PROCS:-1}
# The run's priority (nice), server and clients alike: a negative one takes
# the machine from whatever else runs on it.
NICE=${NICE:-0}

OUT=bench/out/million
KEEP=bench/million
BIN=bench/out/bin
LG=$BIN/loadgen
NS=wsfleet-million-$$
RUN=$(mktemp -d /tmp/wsfleet-million.XXXXXX)
LG_PID=
WATCH_PID= # the sampler
SAVED=()  # "key=value" of the machine-wide sysctls changed, to restore
RAISED=() # the same, for the record: "key old -> new"

log() { echo "million: $(date +%T) $*" >&2; }
inns() { ip netns exec "$NS" "$@"; }

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[[ -n $LG_PID ]] && kill "$LG_PID" 2>/dev/null # its clients die with it
	[[ -n $WATCH_PID ]] && kill "$WATCH_PID" 2>/dev/null
	if [[ -f $RUN/master.pid ]]; then
		inns bin/master stop -pid-file "$RUN/master.pid" >/dev/null 2>&1
	fi
	if ip netns pids "$NS" >/dev/null 2>&1; then
		local pids
		pids=$(ip netns pids "$NS") # only this run's processes live in it
		[[ -n $pids ]] && kill -9 $pids 2>/dev/null
		ip netns del "$NS"
	fi
	local kv
	for kv in "${SAVED[@]}"; do
		sysctl -q -w "$kv" >/dev/null
	done
	rm -rf "$RUN"
	((rc == 0)) || echo "million: FAILED (exit $rc); partial results in $OUT" >&2
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# raise KEY VALUE: set a machine-wide sysctl for the run, restored at exit.
raise() {
	local old
	old=$(sysctl -n "$1" | tr '\t' ' ')
	SAVED+=("$1=$old")
	RAISED+=("$1 $old -> $2")
	sysctl -q -w "$1=$2"
}

setup() {
	[[ $(id -u) == 0 ]] || {
		echo "million: needs root (ip netns, sysctl)" >&2
		exit 2
	}
	command -v ip >/dev/null || {
		echo "million: needs iproute2's ip" >&2
		exit 2
	}
	local pages mem_kb
	pages=$(getconf PAGESIZE)
	mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
	# Two descriptors per connection (server and client) and the processes'.
	if (($(sysctl -n fs.file-max) < 2 * CONNS + 500000)); then
		raise fs.file-max $((2 * CONNS + 500000))
	fi
	# TCP buffer memory, machine-wide, in pages: a tick queues a message on
	# every socket at once; the default (about 1/10 of memory at most)
	# would put a million queued ticks over it. A quarter, half and three
	# quarters of memory for the run.
	local m=$((mem_kb * 1024 / pages))
	raise net.ipv4.tcp_mem "$((m / 4)) $((m / 2)) $((m * 3 / 4))"
	# Loopback hands every segment to the per-CPU input backlog, 1000
	# packets by default: a tick's burst of writes overflows it, the drops
	# come back as retransmissions (ticks an interval late, connections
	# timing out: measured at 300k). Room for a million for the run.
	if (($(sysctl -n net.core.netdev_max_backlog) < 1000000)); then
		raise net.core.netdev_max_backlog 1000000
	fi

	# The namespace's own table of established TCP sockets, sized for both
	# ends of every connection: by default a namespace shares the host's,
	# sized at boot (262,144 buckets here), and at a million connections
	# its chains are some 8 sockets long: __inet_lookup_established, which
	# walks one for every segment, was 27 % of the machine's CPU (perf).
	# Read when a namespace is made; restored at the end, as the others.
	local buckets=1
	while ((buckets < 2 * CONNS)); do buckets=$((buckets * 2)); done
	raise net.ipv4.tcp_child_ehash_entries "$buckets"
	ip netns add "$NS"
	log "the namespace's table of established sockets: $(inns sysctl -n net.ipv4.tcp_ehash_entries) buckets"
	inns ip link set lo up
	# Per namespace: every port for each source address, deep accept queues.
	inns sysctl -q -w net.ipv4.ip_local_port_range="1024 65535" \
		net.core.somaxconn=65535 net.ipv4.tcp_max_syn_backlog=65535
}

start_master() {
	[[ -f $RUN/backend.secret ]] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/backend.secret")
	CONFIG="master start -count $COUNT -app push -push-interval $INTERVAL -ping-interval $PING -idle-timeout $IDLE -worker-timeout $WORKER_TIMEOUT -worker-cores $WORKER_CORES -tcp-keepalive $KEEPALIVE"
	inns nice -n "$NICE" bin/master start -d -count "$COUNT" -app push -push-interval "$INTERVAL" \
		-ping-interval "$PING" -idle-timeout "$IDLE" -worker-timeout "$WORKER_TIMEOUT" \
		-worker-cores "$WORKER_CORES" -tcp-keepalive "$KEEPALIVE" \
		-listen 127.0.0.1:8080 -nats-listen 127.0.0.1:4222 \
		-nats-backend-password-file "$RUN/backend.secret" \
		-pid-file "$RUN/master.pid" -log-file "$RUN/master.log" -log-level warn >/dev/null
	inns bin/master status -json -pid-file "$RUN/master.pid" >"$RUN/status.json"
	PID=$("$LG" jsonget master.pid <"$RUN/status.json")
	NATS="nats://backend:$(tr -d '\n' <"$RUN/backend.secret")@127.0.0.1:4222"
}

# softnet_drops: packets dropped for a full input backlog, all CPUs.
softnet_drops() {
	local n=0 a b rest
	while read -r a b rest; do
		n=$((n + 16#$b))
	done </proc/net/softnet_stat
	echo "$n"
}

# snapshot NAME: what the kernel says about the resources a ceiling would
# be in, into $OUT/NAME.txt.
snapshot() {
	{
		echo "# input backlog drops since the start (softnet_stat, all CPUs; net.core.netdev_max_backlog $(sysctl -n net.core.netdev_max_backlog))"
		echo $(($(softnet_drops) - DROPS0))
		echo "# fs.file-nr (allocated, unused, max)"
		cat /proc/sys/fs/file-nr
		echo "# sockstat (in the namespace)"
		inns cat /proc/net/sockstat
		echo "# meminfo"
		grep -E '^(MemTotal|MemAvailable|Slab|SReclaimable|SUnreclaim|PageTables|KernelStack):' /proc/meminfo
		date -u +'# %FT%TZ'
		echo "# kernel messages since the start"
		dmesg 2>/dev/null | tail -n +"$((DMESG0 + 1))" | tail -20
		echo "# master log: lines by message, then the last lines but the NATS server's slow read loops"
		sed -n 's/.*msg="\([^"]*\)".*/\1/p' "$RUN/master.log" 2>/dev/null | sed 's/[0-9.:]\{1,\}/N/g' | cut -c1-80 | sort | uniq -c | sort -rn | head
		grep -v 'Readloop processing time' "$RUN/master.log" 2>/dev/null | tail -10
	} >"$OUT/$1.txt" 2>&1
}

# watch: every 5 s, while the load generator runs, the snapshot at the
# most TCP sockets in use so far goes to $OUT/peak.txt: the resources at
# the highest count held.
watch() {
	set +e # a missing figure must not end the sampler
	local most=-1 n
	while sleep 5; do
		n=$(inns awk '/^TCP:/ {print $3}' /proc/net/sockstat 2>/dev/null) || continue
		if ((n > most)); then
			most=$n
			snapshot peak
		fi
	done
}

main() {
	local t0=$SECONDS
	rm -rf "$OUT"
	mkdir -p "$OUT" "$BIN"
	log "building"
	make --no-print-directory build >/dev/null
	go build -o "$BIN/" ./bench/loadgen ./bench/report
	setup
	DMESG0=$(dmesg 2>/dev/null | wc -l || echo 0)
	DROPS0=$(softnet_drops)
	"$LG" sysinfo >"$OUT/machine.json"
	log "$CONNS connections on -count $COUNT, ticks every $INTERVAL; load $(cut -d' ' -f1-3 /proc/loadavg)"
	start_master
	log "master up ($COUNT workers); opening"
	# The clients read in the namespace; the load generator's /proc reads
	# of the server are the same from there.
	inns env GOMAXPROCS="$CLIENT_PROCS" nice -n "$NICE" "$LG" -server wsfleet -label million -config "$CONFIG" -url ws://127.0.0.1:8080/ \
		-server-pid "$PID" -src 127.1.0.1 -per-proc "$PER_PROC" -per-source "$PER_SOURCE" \
		-mode idle,push -conns "$CONNS" -settle 60s -nats "$NATS" -subject wsfleet.all \
		-ticks "$TICKS" -push-interval "$INTERVAL" -timeout "$TIMEOUT" -dial-timeout "$DIAL_TIMEOUT" -read-coalesce "$COALESCE" -allow-failed \
		>"$OUT/wsfleet-million.json" &
	LG_PID=$!
	watch &
	WATCH_PID=$!
	local ok=1
	wait "$LG_PID" || ok=0
	LG_PID=
	kill "$WATCH_PID" 2>/dev/null || true
	wait "$WATCH_PID" 2>/dev/null || true
	WATCH_PID=
	inns bin/master stop -pid-file "$RUN/master.pid" >/dev/null || true
	rm -f "$RUN/master.pid"
	cp "$RUN/master.log" "$OUT/" 2>/dev/null || true
	local secs=$((SECONDS - t0))
	if ((SAVE)); then
		rm -rf "$KEEP"
		mkdir -p "$KEEP"
		cp "$OUT/wsfleet-million.json" "$OUT/machine.json" "$OUT/peak.txt" "$KEEP/"
		printf '{"seconds": %d, "nice": %d, "netns": true, "sysctls": "%s"}\n' "$secs" "$NICE" \
			"ip_local_port_range 1024-65535, somaxconn 65535, tcp_max_syn_backlog 65535 (namespace); $(IFS=';' && echo "${RAISED[*]}") (machine, for the run)" >"$KEEP/run.json"
		"$BIN/report" -million-only -million "$KEEP" -out docs/benchmarks.md
		log "section written to docs/benchmarks.md from $KEEP"
	fi
	((ok)) || {
		log "the load generator failed: see $OUT/wsfleet-million.json and $OUT/peak.txt"
		exit 1
	}
	log "done in ${secs}s"
}

main "$@"; exit # exit: an edit of this file while it runs cannot run more of it
