package worker

import (
	"os"
	"strconv"
	"time"

	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// Two knobs for the end-to-end test that kills a new worker in the middle
// of a hand-off (test/e2e TestReloadHandoffNewWorkerKilled); unset, as in
// production, they change nothing. They are read from WSFLEET_E2E_*
// variables, the prefix of wsfleet's own tests (config.EnvTestPrefix).

// handoffBatchSize is the most connections per batch:
// WSFLEET_E2E_HANDOFF_BATCH, else gateway.HandoffBatch.
func handoffBatchSize() int {
	if n, err := strconv.Atoi(os.Getenv("WSFLEET_E2E_HANDOFF_BATCH")); err == nil && n > 0 && n < gateway.HandoffBatch {
		return n
	}
	return gateway.HandoffBatch
}

// handoffAckDelay is how long a receiving worker waits before it answers
// each batch: WSFLEET_E2E_HANDOFF_ACK_DELAY (a duration), else 0.
func handoffAckDelay() time.Duration {
	d, err := time.ParseDuration(os.Getenv("WSFLEET_E2E_HANDOFF_ACK_DELAY"))
	if err != nil || d < 0 || d > time.Minute {
		return 0
	}
	return d
}
