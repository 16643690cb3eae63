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
		var o chatOut
		if json.Unmarshal(k.Data, &o) != nil || o.Type != "said" {
			return // not the chat's: another app wrote to the room's history
		}
		c.Send(o.at(k.Position).msg())
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
