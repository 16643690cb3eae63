#!/usr/bin/env bash
# bench/ab.sh REV... : the large broadcast (50k connections, -count 4, 5 live
# and 5 held rounds, as bench/run.sh measures it) and the echo of 100
# clients, for wsfleet built at each git revision REV (a commit, or "." for
# the working tree), interleaved: trial 1 of every revision, then trial 2,
# ..., so that whatever else the machine does falls on every revision alike.
# It answers "did this change make wsfleet slower?" on one machine, where
# docs/benchmarks.md compares wsfleet with its peers. TRIALS (default 3)
# sets the trials. Results: bench/out/ab/<rev>-<phase>@<trial>.json and a
# table on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
(($# > 0)) || {
	echo "usage: bench/ab.sh REV... (e.g. bench/ab.sh 8dc770a main .)" >&2
	exit 2
}
TRIALS=${TRIALS:-3}
OUT=bench/out/ab
BIN=bench/out/bin
LG=$BIN/loadgen
RUN=$(mktemp -d /tmp/wsfleet-ab.XXXXXX)
PHASE=0
cleanup() {
	for d in "$RUN"/bin-*; do
		[[ -f $RUN/master.pid ]] && "$d/master" stop -pid-file "$RUN/master.pid" >/dev/null 2>&1 || true
	done
	rm -rf "$RUN"
}
trap cleanup EXIT
log() { echo "ab: $(date +%T) $*" >&2; }

mkdir -p "$OUT" "$BIN"
go build -o "$BIN/" ./bench/loadgen
for rev in "$@"; do
	dir=$RUN/bin-${rev//\//_}
	mkdir -p "$dir"
	if [[ $rev == . ]]; then
		go build -o "$dir/" ./cmd/master ./cmd/worker
	else
		git worktree add -q --detach "$RUN/src-$rev" "$rev"
		(cd "$RUN/src-$rev" && go build -o "$dir/" ./cmd/master ./cmd/worker)
		git worktree remove --force "$RUN/src-$rev"
	fi
	log "built $rev"
done
(umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$RUN/backend.secret")

# start REV APP: a daemonised cluster of revision REV's binaries.
start() {
	local m=$RUN/bin-${1//\//_}/master port extra=()
	port=$("$LG" freeport)
	if "$m" start -h 2>&1 | grep -q nats-backend-password-file; then
		extra=(-nats-backend-password-file "$RUN/backend.secret")
	fi
	"$m" start -d -count "$3" -app "$2" -push-interval 1h -ping-interval 0 -idle-timeout 0 \
		-listen "127.0.0.1:$port" -nats-listen 127.0.0.1:0 "${extra[@]}" \
		-pid-file "$RUN/master.pid" -log-file "$RUN/master.log" -log-level warn >/dev/null
	"$m" status -json -pid-file "$RUN/master.pid" >"$RUN/status.json"
	PID=$("$LG" jsonget master.pid <"$RUN/status.json")
	NATS=$("$LG" jsonget master.nats_url <"$RUN/status.json")
	NATS="nats://backend:$(cat "$RUN/backend.secret")@${NATS#nats://}"
	URL="ws://127.0.0.1:$port/"
	STOP=("$m" stop -pid-file "$RUN/master.pid")
}

# measure REV LABEL [loadgen flags]
measure() {
	local rev=$1 label=$2
	shift 2
	PHASE=$((PHASE + 1))
	log "$rev $label"
	"$LG" -server "wsfleet-$rev" -label "$label" -config "$rev" -url "$URL" -server-pid "$PID" \
		-src "127.$PHASE.0.2" -per-proc 18000 -timeout 5m "$@" >"$OUT/${rev//\//_}-$label.json" || log "$rev $label FAILED"
}

for t in $(seq "$TRIALS"); do
	for rev in "$@"; do
		start "$rev" push 4
		measure "$rev" "broadcast-50k@$t" -mode idle,broadcast -settle 10s -rounds 5 -hold 1s -conns 50000 -trigger nats -nats "$NATS"
		"${STOP[@]}" >/dev/null
		start "$rev" echo 1
		measure "$rev" "echo-100@$t" -mode echo -conns 100 -prefix "hello " -warmup 1s -duration 10s
		"${STOP[@]}" >/dev/null
	done
done

printf '%-10s %-6s %12s %12s %12s %14s %10s\n' rev trial held_p99_ms live_p99_ms B/conn echo_rt/cpu_s echo_p99
for rev in "$@"; do
	r=${rev//\//_}
	for t in $(seq "$TRIALS"); do
		b=$OUT/$r-broadcast-50k@$t.json e=$OUT/$r-echo-100@$t.json
		printf '%-10s %-6s %12s %12s %12s %14s %10s\n' "$rev" "$t" \
			"$("$LG" jsonget broadcast.held.p99_ms <"$b" 2>/dev/null || echo -)" \
			"$("$LG" jsonget broadcast.p99_ms <"$b" 2>/dev/null || echo -)" \
			"$("$LG" jsonget memory.per_conn_bytes <"$b" 2>/dev/null || echo -)" \
			"$("$LG" jsonget echo.per_server_cpu_second <"$e" 2>/dev/null || echo -)" \
			"$("$LG" jsonget echo.p99_ms <"$e" 2>/dev/null || echo -)"
	done
done
