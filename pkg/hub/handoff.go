package hub

import (
	"fmt"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// AdoptConn makes this worker answer for connection id, which another
// worker of this host handed over (a reload's hand-off): a connection
// keeps its id, so messages for it still go to its first worker's subject
// (<p>.conn.<node>.<pid>), which this worker now subscribes to as well,
// for as long as it runs. Rooms, users and presence need nothing: they
// follow the connection's membership, which the caller restores.
func (h *Hub) AdoptConn(id string) error {
	cid, err := bus.ParseConnID(id)
	if err != nil {
		return fmt.Errorf("hub: adopt %q: %w", id, err)
	}
	if cid.Worker == h.opts.Self {
		return nil
	}
	deliver := h.directTo(cid.Worker)
	h.adoptMu.Lock()
	defer h.adoptMu.Unlock()
	if h.adopted == nil {
		h.adopted = make(map[bus.WorkerID]bool)
	}
	if h.adopted[cid.Worker] {
		return nil
	}
	s, err := h.opts.Bus.SubscribeWorker(cid.Worker, deliver, h.deliverCommand)
	if err != nil {
		return fmt.Errorf("hub: adopt %s: %w", cid.Worker, err)
	}
	h.adopted[cid.Worker] = true
	h.mu.Lock()
	h.subs = append(h.subs, s)
	h.mu.Unlock()
	return nil
}

// parseOwner is the worker whose subject carries messages for connection
// id.
func parseOwner(id string) (bus.WorkerID, error) {
	cid, err := bus.ParseConnID(id)
	if err != nil {
		return bus.WorkerID{}, fmt.Errorf("hub: %q: %w", id, err)
	}
	return cid.Worker, nil
}
