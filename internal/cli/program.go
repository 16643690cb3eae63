package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// Program is what a wsfleet program brings to its command line: its name,
// its settings' defaults, its own flags and its application.
type Program struct {
	// Name is the program's name in usage texts.
	Name string
	// Config holds the defaults the flags override.
	Config config.Config
	// Flags, when set, defines the program's own flags. It is called once
	// per flag set: in the master for start, and in every worker, which
	// sets them to the master's values before it calls NewApp.
	Flags func(fs *flag.FlagSet)
	// NewApp makes the application once the flags are parsed: in the
	// master, and in every worker. Required.
	NewApp func() (app.App, error)
	// AppName, when set, names the application in status and logs once the
	// flags are parsed; default Name.
	AppName func() string
	// Assets holds the demo page a worker serves to plain HTTP GETs
	// (-demo-page); nil: none.
	Assets fs.FS
}

// ownFlags is a flag set holding the program's own flags.
func (p Program) ownFlags() (*flag.FlagSet, error) {
	set := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	set.SetOutput(io.Discard)
	if p.Flags != nil {
		p.Flags(set)
	}
	if p.NewApp == nil {
		return nil, errors.New("the program has no application (NewApp)")
	}
	return set, nil
}

func (p Program) appName() string {
	if p.AppName != nil {
		return p.AppName()
	}
	return p.Name
}

// OwnFlags is the program's own flags set to values (name: value), as the
// master sent them to a worker.
func (p Program) OwnFlags(values map[string]string) error {
	set, err := p.ownFlags()
	if err != nil {
		return err
	}
	for name, v := range values {
		if err := set.Set(name, v); err != nil {
			return fmt.Errorf("-%s: %w", name, err)
		}
	}
	return nil
}

// Signals subscribes to the signals a running master acts on; it is what
// a program's main gives Env.Signals.
func Signals() <-chan os.Signal {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGHUP)
	return sigs
}
