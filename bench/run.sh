#!/usr/bin/env bash
# bench/run.sh [-quick]: the benchmark of docs/benchmarks.md (issue 5).
#
# Builds wsfleet, the peers (bench/peers: gorilla/websocket, nbio, and floor,
# the broadcast's calibration) and the load generator (bench/loadgen), then
# measures each server in turn on loopback, one fresh server per phase,
# phase by phase so that whatever else the machine runs falls on every server
# alike. Results go to bench/out/<full|quick>/*.json; the report to
# docs/benchmarks.md and
# bench/plots/ (full) or to bench/out/quick/ (quick, which CI can run: it
# must stay under 2 minutes and fails if any measurement fails).
#
# Every server and client process it starts is stopped at the end, also on
# failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=full
case "${1:-}" in
-quick) MODE=quick ;;
"") ;;
*)
	echo "usage: bench/run.sh [-quick]" >&2
	exit 2
	;;
esac

if [[ $MODE == quick ]]; then
	SMALL=2000         # idle connections, then broadcast to them
	LARGE=0            # no large phase
	PEER_LARGE=0       #
	ECHO_CLIENTS="100" # closed-loop echo clients
	ECHO_TIME=3s
	WARMUP=500ms
	ROUNDS=2 # broadcasts per phase, of each kind (live, held)
	HOLD=300ms
	SETTLE=3s
	PUSH_CONNS=2000
	PUSH_COUNT=2
	PUSH_INTERVAL=1s
	PUSH_TICKS=3
	PER_PROC=1000 # small, so that quick mode forks several clients too
	TRIALS=1
	WSS_CONNS=300 # wss:// connect storm, per server
	RELOAD_CONNS=2000   # reload with hand-off, -count RELOAD_COUNT
	RELOAD_TICKS=5      # ticks watched: RELOAD_AFTER before the reload, the rest after its exit
	RELOAD_INTERVAL=1s  # the push app's tick during the reload phase
else
	SMALL=10000
	LARGE=50000       # wsfleet, -count 4: ~12.5k per worker
	PEER_LARGE=19000  # a single process holds at most ~19.9k (file limit 20000)
	ECHO_CLIENTS="100 1000"
	ECHO_TIME=10s
	WARMUP=1s
	ROUNDS=5
	HOLD=1s # a held round's clients read nothing for this long after the publish
	SETTLE=10s
	PUSH_CONNS=100000 # -count 8: ~12.5k per worker
	PUSH_COUNT=8
	PUSH_INTERVAL=5s  # long enough for a tick to reach all before the next
	PUSH_TICKS=5
	PER_PROC=18000
	TRIALS=3 # runs of each echo and same-N broadcast comparison, interleaved; the report takes the median
	WSS_CONNS=10000
	RELOAD_CONNS=50000 # issue 15: 50k idle connections on -count 4
	RELOAD_TICKS=5
	# Long enough for a tick to reach all 50k before the next: the tally
	# matches receipts to ticks in order (the message has no tick id), so a
	# tick later than the interval could count as doubled. At 1 s a tick
	# took 1.4-3.9 s here before any reload (2 cores, clients included).
	RELOAD_INTERVAL=5s
fi
WSS_WARMUP=4       # wss://: connections each client process opens and closes first, filling its session cache
WSS_PER_SOURCE=100 # wss://: 64 dials in flight spread over sources, under wsfleet's 32 handshakes per address
PUSH_COALESCE=5ms  # push: a client process that found few sockets ready sleeps this long (loadgen -read-coalesce)
IDLE_COUNT=4          # wsfleet workers for the idle and broadcast phases
RELOAD_COUNT=4        # wsfleet workers for the reload phase
RELOAD_AFTER=2        # ticks of the window before the reload
ECHO_COUNT=1          # wsfleet workers for echo: one, as each peer is one process
ECHO_WIDE=$(nproc)    # ...and again with one per core (label echo-N-wide)
PEERS="gorilla nbio"

# shellcheck source=bench/history.sh
source bench/history.sh

OUT=bench/out/$MODE
BIN=bench/out/bin
LG=$BIN/loadgen
RUN=$(mktemp -d /tmp/wsfleet-bench.XXXXXX)
SERVER_PID= # a running peer
LG_PID=     # a running load generator
FAILED=     # measurements that failed
PHASE=0     # each phase dials from its own 127.PHASE.0.0/16

cleanup() {
	local rc=$?
	set +e
	trap - EXIT INT TERM
	[[ -n $LG_PID ]] && kill "$LG_PID" 2>/dev/null # its clients die with it
	[[ -f $RUN/master.pid ]] && bin/master stop -pid-file "$RUN/master.pid" >/dev/null 2>&1
	if [[ -n $SERVER_PID ]]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	rm -rf "$RUN"
	if ((rc != 0)); then
		echo "bench: FAILED (exit $rc); partial results in $OUT" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench: $(date +%T) $*" >&2; }

build() {
	log "building"
	make --no-print-directory build >/dev/null
	go build -o "$BIN/" ./bench/loadgen ./bench/report
	(cd bench/peers && go build -o "../out/bin/" ./gorilla ./nbio ./floor)
}

# start_wsfleet APP COUNT PUSH_INTERVAL [FLAG...]: a daemonised cluster
# with its embedded NATS on a free port.
start_wsfleet() {
	PORT=$("$LG" freeport)
	CONFIG="master start -count $2 -app $1"
	if [[ $1 == push ]]; then
		CONFIG+=" -push-interval $3"
	fi
	if (($# > 3)); then
		CONFIG+=" ${*:4}"
	fi
	# The embedded NATS wants credentials: the load generator logs in as
	# the backend account (docs/backend.md).
	# Hex, since it goes into a URL's userinfo, where base64's '/' would not.
	[[ -f $RUN/backend.secret ]] || (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/backend.secret")
	bin/master start -d -count "$2" -app "$1" -push-interval "$3" "${@:4}" \
		-listen "127.0.0.1:$PORT" -nats-listen 127.0.0.1:0 \
		-nats-backend-password-file "$RUN/backend.secret" \
		-pid-file "$RUN/master.pid" -log-file "$RUN/master.log" -log-level "${LOG_LEVEL:-warn}" >/dev/null
	bin/master status -json -pid-file "$RUN/master.pid" >"$RUN/status.json"
	SERVER=wsfleet
	PID=$("$LG" jsonget master.pid <"$RUN/status.json")
	NATS=$("$LG" jsonget master.nats_url <"$RUN/status.json")
	NATS="nats://backend:$(tr -d '\n' <"$RUN/backend.secret")@${NATS#nats://}"
	URL="ws://127.0.0.1:$PORT/"
}

# start_peer NAME [FLAG...]
start_peer() {
	PORT=$("$LG" freeport)
	CONFIG="bench/peers/$1${2:+ ${*:2}}"
	"$BIN/$1" -listen "127.0.0.1:$PORT" "${@:2}" >>"$RUN/$1.log" 2>&1 &
	SERVER_PID=$!
	"$LG" waitport "127.0.0.1:$PORT"
	SERVER=$1
	PID=$SERVER_PID
	URL="ws://127.0.0.1:$PORT/"
}

stop_server() {
	if [[ $SERVER == wsfleet ]]; then
		bin/master stop -pid-file "$RUN/master.pid" >/dev/null
	else
		kill "$SERVER_PID"
		wait "$SERVER_PID" || true # killed by our signal
		SERVER_PID=
	fi
}

# measure LABEL [loadgen flags]: one load generator run against the running
# server; its result is $OUT/SERVER-LABEL.json. A failed measurement is
# noted and the benchmark goes on; it fails at the end.
measure() {
	local label=$1
	shift
	PHASE=$((PHASE + 1))
	log "$SERVER $label"
	"$LG" -server "$SERVER" -label "$label" -config "$CONFIG" -url "$URL" -server-pid "$PID" \
		-src "127.$PHASE.0.2" -per-proc "$PER_PROC" -timeout 5m "$@" >"$OUT/$SERVER-$label.json" &
	LG_PID=$!
	if ! wait "$LG_PID"; then
		log "$SERVER $label FAILED: see $OUT/$SERVER-$label.json"
		FAILED+=" $SERVER-$label"
	fi
	LG_PID=
}

# The broadcast phases run wsfleet without pings, as the peers, which send
# none: a ping that reached a client's socket behind a held round's message
# would merge into its unread segment and lend it its later timestamp. The
# push timer is set to 1 h, so it stays quiet.
start_broadcaster() { start_wsfleet push "$IDLE_COUNT" 1h -ping-interval 0 -idle-timeout 0; }

# What every idle + broadcast phase asks of the load generator.
BROADCAST=(-mode idle,broadcast -settle "$SETTLE" -rounds "$ROUNDS" -hold "$HOLD")

# idle_broadcast LABEL WSFLEET_CONNS PEER_CONNS: memory with every
# connection idle, then broadcasts to them all.
idle_broadcast() {
	local label=$1 n=$2 peer_n=$3 s
	start_broadcaster
	measure "$label" "${BROADCAST[@]}" -conns "$n" -trigger nats -nats "$NATS"
	stop_server
	for s in $PEERS floor; do # floor: bare writes, the machine's own cost of a broadcast
		start_peer "$s"
		measure "$label" "${BROADCAST[@]}" -conns "$peer_n" -trigger ws
		stop_server
	done
}

# trial N: the label suffix of the Nth run of a repeated measurement
# ("" for the first, then "@2", "@3").
trial() { (($1 > 1)) && echo "@$1" || true; }

# echo_all TRIAL: every server's echo phase once.
echo_all() {
	local c s t
	t=$(trial "$1")
	start_wsfleet echo "$ECHO_COUNT" 1h
	for c in $ECHO_CLIENTS; do
		measure "echo-$c$t" -mode echo -conns "$c" -prefix "hello " -warmup "$WARMUP" -duration "$ECHO_TIME"
	done
	stop_server
	if ((ECHO_WIDE > ECHO_COUNT)); then
		start_wsfleet echo "$ECHO_WIDE" 1h
		for c in $ECHO_CLIENTS; do
			measure "echo-$c-wide$t" -mode echo -conns "$c" -prefix "hello " -warmup "$WARMUP" -duration "$ECHO_TIME"
		done
		stop_server
	fi
	for s in $PEERS; do
		start_peer "$s"
		for c in $ECHO_CLIENTS; do
			measure "echo-$c$t" -mode echo -conns "$c" -warmup "$WARMUP" -duration "$ECHO_TIME"
		done
		stop_server
	done
}

# same_n TRIAL: the broadcast at the peers' large size, wsfleet (idle-same)
# and the peers and the floor (idle-large), once. The first trial's peer
# runs are idle_broadcast's.
same_n() {
	local s t
	t=$(trial "$1")
	start_broadcaster
	measure "idle-same$t" "${BROADCAST[@]}" -conns "$PEER_LARGE" -trigger nats -nats "$NATS"
	stop_server
	if (($1 > 1)); then
		for s in $PEERS floor; do
			start_peer "$s"
			measure "idle-large$t" "${BROADCAST[@]}" -conns "$PEER_LARGE" -trigger ws
			stop_server
		done
	fi
}

# wss_connect: the connect storm over wss:// (issue 16), TLS 1.3 with
# session resumption: wsfleet serving TLS itself (-count IDLE_COUNT as the
# ws:// phase, and -count 1), then gorilla behind crypto/tls, with a
# throwaway self-signed certificate that the clients trust. Each client
# process first opens and closes WSS_WARMUP connections (its session cache
# then holds a ticket); the timed storm resumes what the server accepts.
wss_connect() {
	local dir=$RUN/tls
	"$LG" gencert "$dir"
	local tlsf=(-tls-cert "$dir/cert.pem" -tls-key "$dir/key.pem")
	local lg=(-mode connect-rate -conns "$WSS_CONNS" -ca "$dir/cert.pem" -tls-warmup "$WSS_WARMUP" -per-source "$WSS_PER_SOURCE")
	local n label
	for n in "$IDLE_COUNT" 1; do
		label=wss
		((n == IDLE_COUNT)) || label=wss-count$n
		start_wsfleet push "$n" 1h -ping-interval 0 -idle-timeout 0 "${tlsf[@]}"
		CONFIG="master start -count $n -app push -ping-interval 0 -idle-timeout 0 -tls-cert … -tls-key …"
		URL="wss://127.0.0.1:$PORT/"
		measure "$label" "${lg[@]}"
		stop_server
	done
	start_peer gorilla "${tlsf[@]}"
	CONFIG="bench/peers/gorilla -tls-cert … -tls-key …"
	URL="wss://127.0.0.1:$PORT/"
	measure wss "${lg[@]}"
	stop_server
}

# connect_wide TRIAL: the connect storm with one worker per core (-count
# ECHO_WIDE, the README's sizing; issue 16), at the small size and at the
# peers' large size, and the peers' storms at the same sizes, once each.
# The idle phases measure -count IDLE_COUNT's.
connect_wide() {
	local s t n size
	t=$(trial "$1")
	for size in small large; do
		n=$SMALL
		[[ $size == large ]] && n=$PEER_LARGE
		((n > 0)) || continue
		start_wsfleet push "$ECHO_WIDE" 1h -ping-interval 0 -idle-timeout 0
		measure "connect-$size-wide$t" -mode connect-rate -conns "$n"
		stop_server
		for s in $PEERS; do
			start_peer "$s"
			measure "connect-$size$t" -mode connect-rate -conns "$n"
			stop_server
		done
	done
}

# reload_phase: `master reload` (hand-off, issue 15) while every connection
# gets the push app's tick each RELOAD_INTERVAL: the reload's time, and per
# connection the ticks missed or doubled and the longest wait for a message.
reload_phase() {
	# At info, the master logs each worker's hand-off (moved, kept, took).
	LOG_LEVEL=info start_wsfleet push "$RELOAD_COUNT" "$RELOAD_INTERVAL" -ping-interval 0 -idle-timeout 0
	measure reload -mode push -conns "$RELOAD_CONNS" -nats "$NATS" \
		-ticks "$RELOAD_TICKS" -push-interval "$RELOAD_INTERVAL" -reload-after "$RELOAD_AFTER" \
		-reload-cmd "bin/master reload -pid-file $RUN/master.pid" -reload-log "$RUN/master.log"
	stop_server
}

main() {
	local t0=$SECONDS
	rm -rf "$OUT"
	mkdir -p "$OUT" "$BIN"
	build
	"$LG" sysinfo >"$OUT/machine-start.json"
	log "mode $MODE; load average $(cut -d' ' -f1-3 /proc/loadavg)"

	local t
	idle_broadcast idle-small "$SMALL" "$SMALL"
	if ((LARGE > 0)); then
		idle_broadcast idle-large "$LARGE" "$PEER_LARGE"
		# wsfleet at the peers' large size too, for a broadcast at the same N.
		for t in $(seq "$TRIALS"); do
			same_n "$t"
		done
	fi
	for t in $(seq "$TRIALS"); do
		connect_wide "$t"
	done
	wss_connect
	for t in $(seq "$TRIALS"); do
		echo_all "$t"
	done
	start_wsfleet push "$PUSH_COUNT" "$PUSH_INTERVAL"
	measure push -mode push -conns "$PUSH_CONNS" -nats "$NATS" \
		-ticks "$PUSH_TICKS" -push-interval "$PUSH_INTERVAL" -read-coalesce "$PUSH_COALESCE"
	stop_server
	reload_phase
	history_phase

	"$LG" sysinfo >"$OUT/machine-end.json"
	local secs=$((SECONDS - t0))
	local doc=docs/benchmarks.md plots=bench/plots
	if [[ $MODE == quick ]]; then
		doc=$OUT/benchmarks.md plots=$OUT
	fi
	"$BIN/report" -in "$OUT" -out "$doc" -plots "$plots" -seconds "$secs" || FAILED+=" report"
	if [[ -n $FAILED ]]; then
		log "$MODE run FAILED in ${secs}s:$FAILED; report in $doc"
		exit 1
	fi
	log "$MODE run passed in ${secs}s; report in $doc, plots in $plots"
}

main
