package wsfleet

import (
	"context"
	"flag"
	"os"
	"path/filepath"

	"github.com/wsfleet/wsfleet/internal/cli"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// Server is a wsfleet program: a cluster serving one application, with
// its command line. Make one with New, set its defaults, and call Main.
type Server struct {
	// Name is the program's name in its usage texts, and the
	// application's in status and logs. Default: the executable's base
	// name.
	Name string
	// Config holds the defaults of every setting; the command line's
	// flags override them (see config.Config.Flags for the names).
	Config config.Config
	// Flags, when set, defines the program's own flags, with the
	// flag.FlagSet's Var methods (StringVar, IntVar, ...) bound to
	// variables that NewApp reads. start and restart take them beside
	// wsfleet's; their values reach every worker, which sets them before it
	// calls NewApp. A flag's String must give back what its Set takes.
	Flags func(fs *flag.FlagSet)
	// NewApp makes the application, once the flags are parsed: in the
	// master (for its app.ClusterStarter side) and in every worker. An
	// error stops start with exit code 2. Required.
	NewApp func() (app.App, error)
	// AppName, when set, names the application in status and logs, once
	// the flags are parsed. Default: Name.
	AppName func() string
}

// New returns a Server for the application newApp makes, with wsfleet's
// default settings (config.Default).
func New(newApp func() (app.App, error)) *Server {
	return &Server{Config: config.Default(), NewApp: newApp}
}

// Main runs the command line of os.Args (start, stop, restart, reload,
// status, connections; and "worker" when the master runs this program
// again as one of its workers) and exits with its code.
func (s *Server) Main() {
	os.Exit(s.Run(context.Background(), os.Args[1:]))
}

// Run runs the command line args (without the program's name) and
// returns the exit code: 0 done, 1 failed, 2 bad usage.
func (s *Server) Run(ctx context.Context, args []string) int {
	return cli.Run(ctx, s.env(), args)
}

func (s *Server) env() cli.Env {
	name := s.Name
	if name == "" {
		name = filepath.Base(os.Args[0])
	}
	return cli.Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Signals: cli.Signals,
		Program: cli.Program{Name: name, Config: s.Config, Flags: s.Flags, NewApp: s.NewApp, AppName: s.AppName, Assets: Assets},
	}
}
