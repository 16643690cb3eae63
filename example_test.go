package wsfleet_test

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/wsfleet/wsfleet"
	"github.com/wsfleet/wsfleet/pkg/app"
)

// A program's main: the whole cluster in one binary, `./hello start -d`,
// `./hello reload`, `./hello stop`.
func Example() {
	s := wsfleet.New(func() (app.App, error) { return app.NewEcho(app.Config{}), nil })
	s.Config.Count = 2                 // defaults in code ...
	s.Config.Listen = "127.0.0.1:9000" // ... that -count and -listen override
	s.Main()
}

// A program's own flags reach its application in the master and in every
// worker.
func ExampleServer_Flags() {
	greeting, every := "你好!", 10*time.Second
	s := wsfleet.New(func() (app.App, error) {
		return app.NewPush(app.Config{PushMessage: greeting, PushInterval: every}), nil
	})
	s.Flags = func(fs *flag.FlagSet) {
		fs.StringVar(&greeting, "greeting", greeting, "what every connection is sent")
		fs.DurationVar(&every, "every", every, "how often")
	}
	s.Main() // ./push start -greeting hello -every 1m
}

// Run is Main without the exit: the command line's exit code, 2 for a bad
// flag (the problem is printed on stderr, naming the flag).
func ExampleServer_Run() {
	s := wsfleet.New(func() (app.App, error) { return app.None{}, nil })
	s.Name = "hello"
	fmt.Println(s.Run(context.Background(), []string{"start", "-count", "0"}))
	// Output: 2
}
