package app_test

import (
	"crypto/subtle"
	"fmt"
	"net/http"

	"github.com/wsfleet/wsfleet/pkg/app"
)

// keyed is an application with its own scheme: a client presents an API
// key in the "key" cookie or query parameter, and the key names a team.
type keyed struct {
	app.Echo
	teams map[string]string // API key to team
}

// Admit runs before the upgrade is answered: no key, or an unknown one,
// and the client gets an HTTP error instead of a WebSocket.
func (k keyed) Admit(h *app.Handshake) (any, error) {
	key := h.Query().Get("key")
	if c, err := h.Cookie("key"); err == nil {
		key = c.Value
	}
	if key == "" {
		return nil, &app.Refusal{Status: http.StatusUnauthorized, Reason: "no API key"}
	}
	for known, team := range k.teams {
		if subtle.ConstantTimeCompare([]byte(key), []byte(known)) == 1 {
			return team, nil // OnOpen finds it in c.Value()
		}
	}
	return nil, &app.Refusal{Status: http.StatusForbidden, Reason: "unknown API key"}
}

// OnOpen reads what Admit returned.
func (k keyed) OnOpen(c app.Conn) error {
	team, _ := c.Value().(string)
	return c.Send(app.Text("welcome, team " + team))
}

var _ app.Admitter = keyed{}

func ExampleAdmitter() {
	a := keyed{teams: map[string]string{"k-123": "blue"}}
	for _, h := range []*app.Handshake{
		{URI: "/ws"},
		{URI: "/ws?key=nope"},
		{URI: "/ws?key=k-123"},
		{URI: "/ws", Header: http.Header{"Cookie": {"key=k-123"}}},
	} {
		team, err := a.Admit(h)
		fmt.Println(team, err)
	}
	// Output:
	// <nil> app: refused: 401 no API key
	// <nil> app: refused: 403 unknown API key
	// blue <nil>
	// blue <nil>
}
