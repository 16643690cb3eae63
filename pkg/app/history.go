package app

// Position is a place in a room's history: the offset of a kept message,
// which increases strictly (not contiguously) within the room, and the
// epoch of the history it belongs to, which changes whenever that history
// was lost (its store recreated). Offset 0 is before every message.
type Position struct {
	Offset uint64
	Epoch  string
}

// Kept is one message of a room's history, as it was kept, and where.
type Kept struct {
	Message
	Position
}

// Recovery is how a join since a position went.
type Recovery struct {
	// Recovered is true only when every kept message after the position
	// was delivered: same epoch, and nothing after it dropped by the
	// history's limits. False: the page should reload its state.
	Recovered bool
	// Position is the room's position once the replay ended (the last
	// message replayed, or the room's last kept message); zero Offset and
	// an empty Epoch without history.
	Position Position
}

// Historian is implemented by a Worker that keeps room history (-history;
// the hub does). Rooms without history, or a cluster without JetStream,
// work as with SendToRoom and JoinRoom.
type Historian interface {
	// HasHistory reports whether room's messages sent with
	// SendToRoomKept are kept.
	HasHistory(room string) bool
	// SendToRoomKept keeps m in room's history, then sends it to the
	// room's members at its position p: members on workers that follow
	// the room's history get KeptFormatter's message, in offset order;
	// format(m, p) is the copy sent on the room's subject for the others.
	// Without history (or when keeping it failed) it sends m itself, as
	// SendToRoom, and returns a zero Position. When JetStream cannot keep
	// it for a while (a stream electing its leader), the message waits,
	// in order, and is kept and sent later: the Position returned is then
	// zero too.
	SendToRoomKept(room string, m Message, format func(Message, Position) Message) (Position, error)
	// JoinRoomSince adds c to room and replays the kept messages after
	// since: replay is called for each, in order, then done with the
	// outcome; live messages of the room arriving meanwhile are held and
	// delivered after done, each once, none lost at the seam. A nil since
	// joins fresh: done gets Recovered false and the room's position.
	JoinRoomSince(c Conn, room string, since *Position, replay func(Kept), done func(Recovery)) error

	// HasUserHistory reports whether the messages to user uid sent with
	// SendToUserKept are kept (-history rules with a leading '@'); only
	// for an app that implements UserKeptFormatter.
	HasUserHistory(uid string) bool
	// SendToUserKept keeps m in uid's history, then sends it to every
	// connection bound to uid at its position p, as SendToRoomKept does
	// for a room (UserKeptFormatter's message, in offset order, on
	// workers that follow uid's history). Without history it sends m as
	// SendToUser does and returns a zero Position.
	SendToUserKept(uid string, m Message, format func(Message, Position) Message) (Position, error)
	// BindUserSince binds c to uid (BindUser) and replays the kept
	// messages to uid after since, as JoinRoomSince does for a room:
	// replay for each, in order, then done; the live ones arriving
	// meanwhile are held and delivered after done, each once. Binding and
	// resuming in one call is what makes each message arrive once: a c
	// already bound to uid is resumed too, but may get again the kept
	// messages it got live since it was bound (a client deduplicates them
	// by offset). A nil since binds fresh: done gets Recovered false and
	// uid's position.
	BindUserSince(c Conn, uid string, since *Position, replay func(Kept), done func(Recovery)) error
}

// KeptFormatter is implemented by applications that show a kept message's
// position to the room's members (the chat's said carries "offset" and
// "epoch"): the worker delivers FormatKept(room, k) instead of k's
// Message. It runs once per message per worker, and must not block.
type KeptFormatter interface {
	FormatKept(room string, k Kept) Message
}

// UserKeptFormatter is KeptFormatter for the messages kept for users (the
// chat's whisper carries "offset" and "epoch"): the worker delivers
// FormatKeptUser(uid, k) to uid's connections instead of k's Message. An
// app implements it to keep users' history at all: without, no user has
// any, whatever -history says (each user with history costs a JetStream
// consumer per worker holding one of its connections).
type UserKeptFormatter interface {
	FormatKeptUser(uid string, k Kept) Message
}
