package cli

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"

	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// testProgram has one flag of its own, -greeting, which its app reads.
func testProgram(greeting *string) Program {
	return Program{
		Name:   "mychat",
		Config: config.Default(),
		Flags:  func(fs *flag.FlagSet) { fs.StringVar(greeting, "greeting", "hi", "what to say") },
		NewApp: func() (app.App, error) { return app.None{}, nil },
	}
}

// TestOwnFlagsTravel: start takes the program's flags beside wsfleet's,
// and hands their values on as the master sends them to each worker; a
// worker sets them before it makes its app.
func TestOwnFlagsTravel(t *testing.T) {
	var greeting string
	env := Env{Stderr: &bytes.Buffer{}, Program: testProgram(&greeting)}
	f, err := newStartFlags(env)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.fs.Parse([]string{"-greeting", "你好", "-count", "2"}); err != nil {
		t.Fatal(err)
	}
	f.validate()
	if greeting != "你好" || f.opts.Count != 2 {
		t.Fatalf("greeting %q, count %d", greeting, f.opts.Count)
	}
	if got := f.opts.AppFlags["greeting"]; got != "你好" {
		t.Fatalf("the master sends greeting=%q", got)
	}
	greeting = "" // a worker starts from nothing
	if err := env.Program.OwnFlags(f.opts.AppFlags); err != nil || greeting != "你好" {
		t.Fatalf("the worker set greeting=%q (%v)", greeting, err)
	}
	if err := env.Program.OwnFlags(map[string]string{"nosuch": "x"}); err == nil {
		t.Error("a flag the program does not have was set")
	}
}

// TestOwnFlagClash: a program flag named like one of wsfleet's is refused
// with a message naming it, not a panic.
func TestOwnFlagClash(t *testing.T) {
	var s string
	p := testProgram(&s)
	p.Flags = func(fs *flag.FlagSet) { fs.StringVar(&s, "listen", "", "mine") }
	var errOut bytes.Buffer
	code := Run(context.Background(), Env{Stdout: &bytes.Buffer{}, Stderr: &errOut, Program: p}, []string{"start"})
	if code != ExitFailure || !strings.Contains(errOut.String(), "-listen") {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
}
