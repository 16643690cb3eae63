// Command worker is what the stock master runs as its workers
// ("worker worker -slot N", with its control connection, listening socket
// and setup inherited as file descriptors). It is the same program as
// master, kept as a file of its own so that a deploy can replace the
// workers' binary and `master reload` runs it; a user's program built on
// github.com/wsfleet/wsfleet runs itself instead. It is not meant to be
// run by hand.
package main

import (
	"os"

	"github.com/wsfleet/wsfleet/internal/builtin"
)

func main() { os.Exit(builtin.Main()) }
