# bench/history.sh: the history phase of bench/run.sh (issue 14), sourced by
# it. The chat app, CHAT_MEMBERS connections in one room on -count
# CHAT_COUNT, CHAT_SENDERS of them saying CHAT_RATE messages a second in
# all; per message server CPU and latency to the members, for the room with
# history (the chat app's default rule, '*=100,1h'), with -history off, and
# (full run) with a rule the room does not match. Each variant on a fresh
# cluster, interleaved over TRIALS trials.

if [[ $MODE == quick ]]; then
	CHAT_COUNT=2
	CHAT_MEMBERS=100
	CHAT_SENDERS=5
	CHAT_RATE=50
	CHAT_IDLE=1s
	CHAT_WARMUP=1s
	CHAT_TIME=3s
	CHAT_VARIANTS="history nohistory"
else
	CHAT_COUNT=4
	CHAT_MEMBERS=200
	CHAT_SENDERS=10
	CHAT_RATE=100
	CHAT_IDLE=2s
	CHAT_WARMUP=2s
	CHAT_TIME=10s
	CHAT_VARIANTS="history nohistory nomatch"
fi

# chat_variant NAME: the -history flag and the -chat-history check of a
# variant.
chat_variant() {
	case $1 in
	history) CHAT_FLAGS=() CHAT_EXPECT=on ;; # the chat app's default: '*=100,1h'
	nohistory) CHAT_FLAGS=(-history off) CHAT_EXPECT=off ;;
	nomatch) CHAT_FLAGS=(-history 'lobby*=100,1h') CHAT_EXPECT=off ;; # JetStream on, the room "bench" not kept
	esac
}

# history_phase: every variant, TRIALS times, interleaved.
history_phase() {
	local t v
	for t in $(seq "$TRIALS"); do
		for v in $CHAT_VARIANTS; do
			chat_variant "$v"
			rm -rf "$RUN/data" # the embedded NATS's JetStream (-data-dir beside the pid file): each run starts empty
			start_wsfleet chat "$CHAT_COUNT" 1h -ping-interval 0 -idle-timeout 0 "${CHAT_FLAGS[@]}"
			measure "chat-$v$(trial "$t")" -mode chat -conns "$CHAT_MEMBERS" -senders "$CHAT_SENDERS" \
				-rate "$CHAT_RATE" -idle "$CHAT_IDLE" -warmup "$CHAT_WARMUP" -duration "$CHAT_TIME" \
				-chat-history "$CHAT_EXPECT"
			stop_server
		done
	done
}
