package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/wsfleet/wsfleet/internal/version"
)

// runVersion prints this program's build: `master version` says what was
// installed, `master status` what is running.
func runVersion(_ context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet(env.Program.Name+" version", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	asJSON := fs.Bool("json", false, "print JSON: version and go_version")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s version [-json]\n\nPrint this program's version (git describe when built by make, else devel and the\nVCS revision) and the Go version that built it. `status` shows the running master's.\n\nflags:\n", env.Program.Name)
		fs.PrintDefaults()
	}
	if code, ok := parse(env, fs, args); !ok {
		return code
	}
	b := version.Get()
	if *asJSON {
		return printJSON(env, b)
	}
	fmt.Fprintf(env.Stdout, "%s %s\n", env.Program.Name, b)
	return ExitOK
}
