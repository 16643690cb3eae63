package master

import (
	"bytes"
	"os"
)

// migrateReqPath is the kernel's switch (Linux 5.14 and later) that moves
// the connections queued on a closed SO_REUSEPORT listener to another
// listener of its group, instead of resetting them.
const migrateReqPath = "/proc/sys/net/ipv4/tcp_migrate_req"

// checkMigrateReq warns when the kernel resets, rather than moves, the
// connections queued on a worker's socket when the master closes it after
// the worker died (docs/operations.md).
func (m *Master) checkMigrateReq() {
	b, err := os.ReadFile(migrateReqPath)
	if err != nil || !bytes.Equal(bytes.TrimSpace(b), []byte("0")) {
		return // an older kernel has no switch; 1 is what we want
	}
	m.log.Info("net.ipv4.tcp_migrate_req is 0: connections queued on a worker's socket when that worker dies are reset, not moved to the other workers; set it to 1 (docs/operations.md)")
}
