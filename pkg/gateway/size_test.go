package gateway

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps Conn within the 288-byte allocation class: every
// idle connection pays for each byte of it (docs/architecture.md). A field
// that pushes it past needs a reason, and the docs a new figure.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 288 {
		t.Errorf("Conn is %d bytes, over the 288-byte size class", n)
	}
}
