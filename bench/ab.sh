#!/usr/bin/env bash
# bench/ab.sh REV... : did a change make wsfleet slower? For wsfleet built at
# each git revision REV (a commit, or "." for the working tree), the phases
# of PHASES (default all), interleaved: trial 1 of every revision, then trial
# 2, ..., so that whatever else the machine does falls on every revision
# alike:
#   broadcast  the large broadcast (50k connections, -count 4, 5 live and 5
#              held rounds, as bench/run.sh measures it) and the memory per
#              idle connection before it;
#   echo       the echo of 100 clients (-count 1);
#   echo-wide  the same with one worker per core (-count $(nproc), issue 16);
#   connect    a connect storm: 10,000 connections opened at once (64
#              handshakes in flight) on -count 4, as docs/benchmarks.md's
#              idle-small (issue 16's connections per server CPU-second);
#   connect-wide  the same with one worker per core (-count $(nproc));
#   gorilla    bench/peers/gorilla's echo of 100 clients, once per trial after
#              the revisions: the yardstick the echo targets are ratios to
#              (its row in the tables; not in the default PHASES);
#   nbio       bench/peers/nbio's connect storm, once per trial after the
#              revisions: the connect target's yardstick (not in the
#              default PHASES);
#   chat       the chat app's room without history (bench/history.sh's full
#              size: 200 members, 10 senders, 100 messages/s, -count 4;
#              -history off where the revision has the flag), and, where it
#              has, the same room with history (chat-history).
# It answers "is B worse than A here?" on one machine, where
# docs/benchmarks.md compares wsfleet with its peers. TRIALS (default 5) sets
# the trials; FIRST_TRIAL (default 1) numbers them from there, so that a
# second run adds trials to the first one's (its tables cover trials 1 to
# the last). Results: bench/out/ab/<rev>-<phase>@<trial>.json, every trial's
# row and then each revision's medians with the trials' range (min-max), and
# the machine's load, on stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
(($# > 0)) || {
	echo "usage: bench/ab.sh REV... (e.g. bench/ab.sh 8dc770a main .)" >&2
	exit 2
}
TRIALS=${TRIALS:-5}
FIRST_TRIAL=${FIRST_TRIAL:-1}
LAST_TRIAL=$((FIRST_TRIAL + TRIALS - 1))
PHASES=${PHASES:-broadcast echo chat}
OUT=bench/out/ab
BIN=bench/out/bin
LG=$BIN/loadgen
RUN=$(mktemp -d /tmp/wsfleet-ab.XXXXXX)
PHASE=0
GPID=
cleanup() {
	[[ -n $GPID ]] && kill "$GPID" 2>/dev/null || true
	for d in "$RUN"/bin-*; do
		[[ -f $RUN/master.pid ]] && "$d/master" stop -pid-file "$RUN/master.pid" >/dev/null 2>&1 || true
	done
	rm -rf "$RUN"
}
trap cleanup EXIT
log() { echo "ab: $(date +%T) $*" >&2; }

mkdir -p "$OUT" "$BIN"
go build -o "$BIN/" ./bench/loadgen
if [[ " $PHASES " == *" gorilla "* ]]; then
	(cd bench/peers && go build -o "../../$BIN/" ./gorilla)
fi
if [[ " $PHASES " == *" nbio "* ]]; then
	(cd bench/peers && go build -o "../../$BIN/" ./nbio)
fi
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

# has REV FLAG: whether revision REV's master start knows -FLAG.
# (Not through grep -q: it would exit at the first match, and the help's
# writer's SIGPIPE fail the pipeline under pipefail.)
has() {
	local help
	help=$("$RUN/bin-${1//\//_}/master" start -h 2>&1) || true
	[[ $help == *" -$2 "* ]]
}

# start REV APP COUNT [FLAG...]: a daemonised cluster of revision REV's
# binaries, with an empty data directory.
start() {
	local m=$RUN/bin-${1//\//_}/master port extra=("${@:4}")
	port=$("$LG" freeport)
	if has "$1" nats-backend-password-file; then
		extra+=(-nats-backend-password-file "$RUN/backend.secret")
	fi
	rm -rf "$RUN/data"
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

# chat REV LABEL on|off [FLAG...]: the history phase's room at full size,
# on a cluster started with the FLAGs; on|off: whether its messages must
# carry positions.
chat() {
	local rev=$1 label=$2 expect=$3
	shift 3
	start "$rev" chat 4 "$@"
	measure "$rev" "$label" -mode chat -conns 200 -senders 10 -rate 100 -idle 2s -warmup 2s -duration 10s -chat-history "$expect"
	"${STOP[@]}" >/dev/null
}

# peer NAME LABEL [loadgen flags]: one phase against bench/peers/NAME,
# started for it on a free port and stopped after.
peer() {
	local name=$1 label=$2 port
	shift 2
	port=$("$LG" freeport)
	"$BIN/$name" -listen "127.0.0.1:$port" >>"$RUN/$name.log" 2>&1 &
	GPID=$!
	"$LG" waitport "127.0.0.1:$port"
	PHASE=$((PHASE + 1))
	log "$name $label"
	"$LG" -server "$name" -label "$label" -config "bench/peers/$name" -url "ws://127.0.0.1:$port/" -server-pid "$GPID" \
		-src "127.$PHASE.0.2" -per-proc 18000 -timeout 5m "$@" >"$OUT/$name-$label.json" || log "$name $label FAILED"
	kill "$GPID"
	wait "$GPID" || true # killed by our signal
	GPID=
}

for t in $(seq "$FIRST_TRIAL" "$LAST_TRIAL"); do
	for rev in "$@"; do
		for phase in $PHASES; do
			case $phase in
			broadcast)
				start "$rev" push 4
				measure "$rev" "broadcast-50k@$t" -mode idle,broadcast -settle 10s -rounds 5 -hold 1s -conns 50000 -trigger nats -nats "$NATS"
				"${STOP[@]}" >/dev/null
				;;
			echo)
				start "$rev" echo 1
				measure "$rev" "echo-100@$t" -mode echo -conns 100 -prefix "hello " -warmup 1s -duration 10s
				"${STOP[@]}" >/dev/null
				;;
			echo-wide)
				start "$rev" echo "$(nproc)"
				measure "$rev" "echo-100-wide@$t" -mode echo -conns 100 -prefix "hello " -warmup 1s -duration 10s
				"${STOP[@]}" >/dev/null
				;;
			connect)
				start "$rev" push 4
				measure "$rev" "connect-10k@$t" -mode idle -settle 1s -conns 10000
				"${STOP[@]}" >/dev/null
				;;
			connect-wide)
				start "$rev" push "$(nproc)"
				measure "$rev" "connect-10k-wide@$t" -mode idle -settle 1s -conns 10000
				"${STOP[@]}" >/dev/null
				;;
			gorilla | nbio) ;; # after the revisions
			chat)
				if has "$rev" history; then
					chat "$rev" "chat@$t" off -history off
					chat "$rev" "chat-history@$t" on
				else
					chat "$rev" "chat@$t" off
				fi
				;;
			*)
				echo "ab: unknown phase $phase in PHASES (broadcast, echo, echo-wide, connect, connect-wide, chat, gorilla, nbio)" >&2
				exit 2
				;;
			esac
		done
	done
	if [[ " $PHASES " == *" gorilla "* ]]; then
		peer gorilla "echo-100@$t" -mode echo -conns 100 -warmup 1s -duration 10s
	fi
	if [[ " $PHASES " == *" nbio "* ]]; then
		peer nbio "connect-10k@$t" -mode idle -settle 1s -conns 10000
	fi
done
ROWS=("$@")
[[ " $PHASES " == *" gorilla "* ]] && ROWS+=(gorilla)
[[ " $PHASES " == *" nbio "* ]] && ROWS+=(nbio)

# The figures of the table: column name, result file's phase, JSON path.
COLS=(
	"held_p99_ms broadcast-50k broadcast.held.p99_ms"
	"live_p99_ms broadcast-50k broadcast.p99_ms"
	"B/conn broadcast-50k memory.per_conn_bytes"
	"echo_rt/cpu_s echo-100 echo.per_server_cpu_second"
	"echo_p99_ms echo-100 echo.p99_ms"
	"wide_rt/cpu_s echo-100-wide echo.per_server_cpu_second"
	"conn/cpu_s connect-10k connect.per_server_cpu_second"
	"wide_conn/cpu_s connect-10k-wide connect.per_server_cpu_second"
	"chat_us/said chat chat.server_cpu_us_per_said"
	"chat_p99_ms chat chat.p99_ms"
	"hist_us/said chat-history chat.server_cpu_us_per_said"
	"hist_p99_ms chat-history chat.p99_ms"
)

# get REV PHASE TRIAL PATH: one figure, rounded, or "-".
get() {
	local v f=$OUT/${1//\//_}-$2@$3.json
	[[ -f $f ]] && v=$("$LG" jsonget "$4" <"$f" 2>/dev/null) || {
		echo -
		return
	}
	printf '%.1f\n' "$v"
}

# okrun REV PHASE TRIAL: whether that run passed.
okrun() {
	local f=$OUT/${1//\//_}-$2@$3.json
	[[ -f $f && $("$LG" jsonget ok <"$f" 2>/dev/null) == true ]]
}

# medrange: the median of the numbers on stdin and their range.
medrange() {
	sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "-"; exit} printf "%s (%s-%s)\n", v[int((NR+1)/2)], v[1], v[NR]}'
}

header() {
	printf '%-10s %-6s' rev "$1"
	for c in "${COLS[@]}"; do printf ' %15s' "${c%% *}"; done
	printf ' %8s\n' max_load1
}

header trial
for rev in "${ROWS[@]}"; do
	for t in $(seq "$LAST_TRIAL"); do
		printf '%-10s %-6s' "$rev" "$t"
		for c in "${COLS[@]}"; do
			read -r _ phase path <<<"$c"
			f=$(get "$rev" "$phase" "$t" "$path")
			[[ $f != - ]] && ! okrun "$rev" "$phase" "$t" && f="$f!" # a failed run's figure
			printf ' %15s' "$f"
		done
		printf ' %8s\n' "$(for p in broadcast-50k echo-100 echo-100-wide connect-10k connect-10k-wide chat; do get "$rev" "$p" "$t" load1_at_start; done | { grep -v '^-$' || true; } | sort -g | tail -1)"
	done
done
echo
echo "medians of the runs that passed (min-max); load1: at each run's start, all phases"
printf '%-15s' figure
for rev in "${ROWS[@]}"; do printf ' %-26s' "$rev"; done
echo
for c in "${COLS[@]}" "load1 * load1_at_start"; do
	read -r name phase path <<<"$c"
	printf '%-15s' "$name"
	for rev in "${ROWS[@]}"; do
		for t in $(seq "$LAST_TRIAL"); do
			if [[ $phase == '*' ]]; then
				for p in broadcast-50k echo-100 echo-100-wide connect-10k connect-10k-wide chat chat-history; do get "$rev" "$p" "$t" "$path"; done
			else
				if okrun "$rev" "$phase" "$t"; then get "$rev" "$phase" "$t" "$path"; fi
			fi
		done | { grep -v '^-$' || true; } | medrange | xargs -0 printf ' %-26s' | tr -d '\n'
	done
	echo
done
