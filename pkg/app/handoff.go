package app

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// Handoffer is implemented by an application whose connections may move to
// the slot's new worker process on a reload (-handoff), the client
// noticing nothing. The worker moves the connection's id, rooms and user
// itself; EncodeConn gives what the application keeps of c (its Value),
// which the new process, maybe a new build of the application, gets back in
// DecodeConn before any callback of c runs there. DecodeConn must check
// what it decodes as it would a client's input, and an error keeps the
// connection with the old worker, which closes it with 1012. An
// application that does not implement Handoffer has its connections closed
// with 1012 on every reload, as without -handoff.
//
// No callback of c runs between EncodeConn and the end of the hand-off in
// the old process, and none before DecodeConn in the new one.
type Handoffer interface {
	EncodeConn(c Conn) ([]byte, error)
	DecodeConn(c Conn, b []byte) error
}

// errNotMine: a value the application did not set.
var errNotMine = errors.New("app: connection value of an unknown type")

// EncodeConn: an echo connection keeps nothing.
func (Echo) EncodeConn(c Conn) ([]byte, error) { return encodeNone(c) }

// DecodeConn: an echo connection keeps nothing.
func (Echo) DecodeConn(_ Conn, b []byte) error { return decodeNone(b) }

// EncodeConn: a push connection keeps nothing.
func (*Push) EncodeConn(c Conn) ([]byte, error) { return encodeNone(c) }

// DecodeConn: a push connection keeps nothing.
func (*Push) DecodeConn(_ Conn, b []byte) error { return decodeNone(b) }

// EncodeConn: a chat connection keeps its name, once it joined.
func (ch *Chat) EncodeConn(c Conn) ([]byte, error) {
	switch v := c.Value().(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	default:
		return nil, fmt.Errorf("%w: %T", errNotMine, v)
	}
}

// maxHandedName bounds a handed-off name: a joined name, or a token's
// user id, which the hub bounds so.
const maxHandedName = 1024

// DecodeConn takes the name back.
func (ch *Chat) DecodeConn(c Conn, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	if !utf8.Valid(b) || len(b) > maxHandedName {
		return errors.New("app: chat: a handed-off name that is not a name")
	}
	c.SetValue(string(b))
	return nil
}

func encodeNone(c Conn) ([]byte, error) {
	if v := c.Value(); v != nil {
		return nil, fmt.Errorf("%w: %T", errNotMine, v)
	}
	return nil, nil
}

func decodeNone(b []byte) error {
	if len(b) != 0 {
		return errors.New("app: state for an application that keeps none")
	}
	return nil
}
