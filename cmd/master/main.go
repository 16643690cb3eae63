// Command master is wsfleet's stock program: `master start` runs a cluster
// of the built-in applications (-app); stop, restart, reload, status and
// connections talk to the running one. See `master -h`. It is the public
// package's Server (github.com/wsfleet/wsfleet), as a user's own program
// is.
package main

import (
	"os"

	"github.com/wsfleet/wsfleet/internal/builtin"
)

func main() { os.Exit(builtin.Main()) }
