package bus

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the subject prefix used when Options.Prefix is empty.
const DefaultPrefix = "wsfleet"

// subjects builds the subject names of one cluster.
type subjects struct{ prefix string }

func (s subjects) all() string { return s.prefix + ".all" }

// ValidToken reports whether v can be used as one NATS subject token: not
// empty, and free of '.', '*', '>' and white space, which would change the
// subject's shape.
func ValidToken(v string) error {
	if v == "" {
		return fmt.Errorf("bus: empty subject token")
	}
	if i := strings.IndexAny(v, ".*> \t\r\n"); i >= 0 {
		return fmt.Errorf("bus: subject token %q contains %q", v, v[i])
	}
	return nil
}
