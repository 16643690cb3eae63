package bus

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// DefaultPrefix is the subject prefix used when Options.Prefix is empty.
const DefaultPrefix = "wsfleet"

// subjects builds the subject names of one cluster. Names that users choose
// (rooms, user ids) go through Token.
type subjects struct{ prefix string }

func (s subjects) all() string                  { return s.prefix + ".all" }
func (s subjects) room(room string) string      { return s.prefix + ".room." + Token(room) }
func (s subjects) user(uid string) string       { return s.prefix + ".user." + Token(uid) }
func (s subjects) presence() string             { return s.prefix + ".presence" }
func (s subjects) heartbeat(role string) string { return s.prefix + ".hb." + role }
func (s subjects) event(kind string) string     { return s.prefix + ".events." + kind }
func (s subjects) worker(w WorkerID) string {
	return s.prefix + ".conn." + w.Node + "." + strconv.Itoa(w.PID)
}

// Token turns a name (a room, a user id) into one subject token. A name of
// 1 to 64 letters, digits, '-' or '_' is used as it is, so that
// `nats sub 'wsfleet.room.lobby'` works; any other name becomes '~' and its
// unpadded base64url encoding, which cannot contain '.', '*', '>' or space.
func Token(name string) string {
	if plainToken(name) {
		return name
	}
	return "~" + base64.RawURLEncoding.EncodeToString([]byte(name))
}

func plainToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// ValidToken reports whether v can be used as one NATS subject token as it
// is: not empty, and free of '.', '*', '>' and white space, which would
// change the subject's shape.
func ValidToken(v string) error {
	if v == "" {
		return fmt.Errorf("bus: empty subject token")
	}
	if i := strings.IndexAny(v, ".*> \t\r\n"); i >= 0 {
		return fmt.Errorf("bus: subject token %q contains %q", v, v[i])
	}
	return nil
}
