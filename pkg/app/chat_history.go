package app

import "encoding/json"

// at is o with its position in the room's history.
func (o chatOut) at(p Position) chatOut {
	off := p.Offset
	o.Offset, o.Epoch = &off, p.Epoch
	return o
}

// joinKept joins c to a room with history, or since a position: the
// missed said messages first, then joined (to c, with the room's position
// and, for a join since a position, whether nothing was missed), then the
// live ones; the others get joined without a position.
func (ch *Chat) joinKept(hw Historian, c Conn, room, name string, since *chatSince) error {
	var from *Position
	if since != nil {
		from = &Position{Offset: since.Offset, Epoch: since.Epoch}
	}
	replay := func(k Kept) {
		if o, ok := keptSaid(k); ok {
			c.Send(o.msg())
		}
	}
	done := func(r Recovery) {
		out := chatOut{Type: "joined", Room: room, Name: name}
		if r.Position.Epoch != "" {
			out = out.at(r.Position)
		}
		if since != nil {
			out.Recovered = &r.Recovered
		}
		c.Send(out.msg())
	}
	if err := hw.JoinRoomSince(c, room, from, replay, done); err != nil {
		return err
	}
	return ch.w.SendToRoom(room, chatOut{Type: "joined", Room: room, Name: name}.msg(), c.ID())
}

// keptSaid is a kept said with its position; false when k is no said (the
// room's history is written by the chat only: backends may not).
func keptSaid(k Kept) (chatOut, bool) {
	var o chatOut
	if json.Unmarshal(k.Data, &o) != nil || o.Type != "said" {
		return o, false
	}
	return o.at(k.Position), true
}

// FormatKept is a kept said as members get it: with its offset and epoch
// (KeptFormatter).
func (ch *Chat) FormatKept(_ string, k Kept) Message {
	if o, ok := keptSaid(k); ok {
		return o.msg()
	}
	return chatOut{Type: "error", Error: "not a chat message"}.msg()
}
