// Command master is wsfleet's command line and supervisor: `master start`
// runs a cluster; stop, restart, reload, status and connections talk to the
// running one. See `master -h`.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsfleet/wsfleet/internal/cli"
)

func main() {
	env := cli.Env{Stdout: os.Stdout, Stderr: os.Stderr, Signals: subscribe}
	os.Exit(cli.Run(context.Background(), env, os.Args[1:]))
}

// subscribe routes the signals a running master acts on to a channel.
func subscribe() <-chan os.Signal {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	return sigs
}
