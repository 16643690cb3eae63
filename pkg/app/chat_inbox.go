package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The chat's inbox: whispers to a name with user history (-history rules
// with a leading '@'; the chat's default keeps them) are kept and carry
// "offset" and "epoch", like a room's said. A connection learns its inbox's
// position, and resumes it since a position, when it asks: on a join
// ("inbox": {} for the position, {"offset","epoch"} to resume), or with
// {"type":"inbox"} ("since" optional) once named (by an earlier join, or
// by its token). The missed whispers
// come first, in order, each once, then {"type":"inbox"} with the
// position and, when resumed, "recovered".

// bindName binds c to name, its chat name. A join asking for its inbox
// ("inbox": {} for its position, {"offset","epoch"} to resume) goes
// through BindUserSince: the missed whispers, then the inbox reply; one
// that does not ask binds as it always did.
func (ch *Chat) bindName(c Conn, name string, inbox *chatSince) error {
	hw, ok := ch.w.(Historian)
	if !ok || inbox == nil {
		return ch.w.BindUser(c, name)
	}
	return ch.resumeInbox(hw, c, name, inbox)
}

// resumeInbox binds c to name since a position (or fresh, since nil): the
// whispers kept after it, then {"type":"inbox"} with name's position and,
// for a resume, whether nothing was missed.
func (ch *Chat) resumeInbox(hw Historian, c Conn, name string, since *chatSince) error {
	var from *Position
	if since != nil && since.Epoch == "" {
		since = nil // {}: the position only
	}
	if since != nil {
		from = &Position{Offset: since.Offset, Epoch: since.Epoch}
	}
	replay := func(k Kept) {
		if o, ok := keptWhisper(k); ok {
			c.Send(o.msg())
		}
	}
	done := func(r Recovery) {
		out := chatOut{Type: "inbox", Name: name}
		if r.Position.Epoch != "" {
			out = out.at(r.Position)
		}
		if since != nil {
			out.Recovered = &r.Recovered
		}
		c.Send(out.msg())
	}
	return hw.BindUserSince(c, name, from, replay, done)
}

// inbox resumes the inbox of a named connection: {"type":"inbox"}, with
// "since" to get the whispers kept after it.
func (ch *Chat) inbox(c Conn, in chatIn) error {
	name := nameOf(c)
	if name == "" {
		return errors.New("join a room first, to have a name")
	}
	hw, ok := ch.w.(Historian)
	if !ok {
		return errors.New("no history on this server")
	}
	return ch.resumeInbox(hw, c, name, in.Since)
}

// keptWhisper is a kept whisper with its position; false when k is none.
func keptWhisper(k Kept) (chatOut, bool) {
	var o chatOut
	if json.Unmarshal(k.Data, &o) != nil || o.Type != "whisper" {
		return o, false
	}
	return o.at(k.Position), true
}

// FormatKeptUser is a kept whisper as the user's connections get it: with
// its offset and epoch (UserKeptFormatter). Another message kept for the
// user is delivered as it was kept.
func (ch *Chat) FormatKeptUser(_ string, k Kept) Message {
	if o, ok := keptWhisper(k); ok {
		return o.msg()
	}
	return k.Message
}

// whisper sends text to every connection of the name to. With history for
// that name it is kept, so it reaches a connection that comes back later
// (resuming its inbox): it may be sent while to is offline. Without, to
// must be online.
func (ch *Chat) whisper(c Conn, in chatIn) error {
	to, err := chatName("to", in.To)
	if err != nil {
		return err
	}
	text, err := need("text", in.Text, maxChatText)
	if err != nil {
		return err
	}
	from, _ := c.Value().(string)
	if from == "" {
		return errors.New("join a room first, to have a name")
	}
	w := chatOut{Type: "whisper", From: from, Text: text}
	if hw, ok := ch.w.(Historian); ok && hw.HasUserHistory(to) {
		_, err := hw.SendToUserKept(to, w.msg(), func(_ Message, p Position) Message { return w.at(p).msg() })
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := ch.w.UserConnections(ctx, to); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%q is not online", to)
	}
	return ch.w.SendToUser(to, w.msg())
}
