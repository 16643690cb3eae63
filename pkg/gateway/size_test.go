package gateway

import (
	"testing"
	"unsafe"
)

// TestConnSize keeps Conn within the 320-byte allocation class: every
// idle connection pays for each byte of it (docs/architecture.md). A field
// that pushes it past needs a reason, and the docs a new figure.
func TestConnSize(t *testing.T) {
	if n := unsafe.Sizeof(Conn{}); n > 320 {
		t.Errorf("Conn is %d bytes, over the 320-byte size class", n)
	}
}
