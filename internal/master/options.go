package master

import (
	"encoding/json"
	"io"
	"time"

	"github.com/wsfleet/wsfleet/internal/sdnotify"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// Options configures a Master: the cluster's checked settings, and what
// the command line resolved from them.
type Options struct {
	// Config is every setting, checked (config.Config.Check). The master
	// sends it whole to each worker it starts (see setupPipe).
	config.Config
	// App is the application, made in the master for its cluster-wide
	// work (app.ClusterStarter); every worker makes its own. Required.
	App app.App
	// AppName names the application in status and logs.
	AppName string
	// AppFlags are the program's own flags (name: value), which every
	// worker sets before it makes its application.
	AppFlags map[string]string
	// WorkerMemoryLimit is each worker's GOMEMLIMIT in bytes, resolved
	// from Config.MemoryLimit; 0: none.
	WorkerMemoryLimit int64

	// ReadyTimeout bounds a worker's start. Default 15s.
	ReadyTimeout time.Duration
	// StartArgs are the start flags, kept for restart: every one the
	// command line, the -config file or the environment set, as
	// -name=value, without -d.
	StartArgs []string
	// Notify tells systemd the cluster's state (READY=1, RELOADING=1,
	// STOPPING=1, STATUS=); nil: not run by systemd as Type=notify.
	Notify *sdnotify.Notifier
	// LogOut receives the workers' output (their logs), copied line by
	// line, each line one Write. Default os.Stderr.
	LogOut io.Writer
	// ReopenLog, when set, reopens the log file the master and its
	// workers' copied output go to and returns its path (reopen-logs); nil
	// when the master does not log to a file of its own.
	ReopenLog func() (string, error)

	// NATSAuth is what the master and its workers present to NATS: the
	// -nats-* credentials with an external server; with the embedded one
	// the master replaces it with credentials it generates.
	NATSAuth bus.Auth
	// BackendPassword adds Config.Bus.BackendUser's account to the
	// embedded NATS for backends (docs/backend.md); "": no account.
	BackendPassword string
	// RouteAuth are the embedded NATS's routes' credentials and TLS files,
	// required with Config.ClusterListen.
	RouteAuth bus.RouteAuth
}

// jsonString decodes a JSON string.
func jsonString(raw json.RawMessage, s *string) error { return json.Unmarshal(raw, s) }

// CoresFor is the share of cores CPUs each of count workers may use at
// once (its epoll pollers and broadcast writers, see gateway.Options.Cores,
// and its GOMAXPROCS): asked, when positive;
// otherwise the cores divided among the workers, at least 1. Workerman's
// model is the same: a single-threaded event loop per process, a process
// per core.
func CoresFor(asked, count, cores int) int {
	if asked > 0 {
		return asked
	}
	return max(1, cores/max(count, 1))
}
