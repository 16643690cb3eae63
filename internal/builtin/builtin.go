// Package builtin is the stock wsfleet program, bin/master and bin/worker:
// the public package's Server with the built-in applications of package
// app, chosen by -app.
package builtin

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet"
	"github.com/wsfleet/wsfleet/pkg/app"
)

// Server returns the stock program. Its workers run the worker executable
// beside it (-worker-bin) rather than itself: the layout of the design,
// where bin/worker is a file of its own that a deploy may replace.
func Server() *wsfleet.Server {
	var (
		name       = "push"
		interval   = 10 * time.Second
		echoPrefix = app.EchoPrefix
	)
	s := wsfleet.New(func() (app.App, error) {
		var errs []error
		a, err := app.New(name, app.Config{PushInterval: interval, EchoPrefix: &echoPrefix})
		if err != nil {
			errs = append(errs, fmt.Errorf("-app %q: no such application (have %s)", name, strings.Join(app.Names(), ", ")))
		}
		if interval <= 0 {
			errs = append(errs, fmt.Errorf("-push-interval must be positive (got %s)", interval))
		}
		return a, errors.Join(errs...)
	})
	s.Name = "master"
	s.AppName = func() string { return name }
	s.Flags = func(fs *flag.FlagSet) {
		fs.StringVar(&name, "app", name, "the application: "+strings.Join(app.Names(), " or "))
		fs.DurationVar(&interval, "push-interval", interval, "how often the push app sends 你好! to every connection")
		fs.StringVar(&echoPrefix, "echo-prefix", echoPrefix, "what the echo app puts before each answer ('' for none, as conformance suites expect)")
	}
	if exe, err := os.Executable(); err == nil {
		s.Config.WorkerBin = filepath.Join(filepath.Dir(exe), "worker")
	}
	return s
}

// Main runs the stock program's command line and returns its exit code.
func Main() int {
	return Server().Run(context.Background(), os.Args[1:])
}
