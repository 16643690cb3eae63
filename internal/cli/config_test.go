package cli

import (
	"flag"
	"io"
	"reflect"
	"testing"
	"time"
)

func TestReplayArgs(t *testing.T) {
	fs := flag.NewFlagSet("start", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Bool("d", false, "")
	fs.Bool("check", false, "")
	fs.String("config", "", "")
	fs.String("echo-prefix", "> ", "")
	fs.Duration("grace", time.Second, "")
	fs.Int("count", 4, "")
	if err := fs.Parse([]string{"-d", "-config", "/etc/w.toml", "-echo-prefix", "-d", "-check"}); err != nil {
		t.Fatal(err)
	}
	if err := fs.Set("grace", "5s"); err != nil { // as the file or environment would
		t.Fatal(err)
	}
	got := replayArgs(fs)
	want := []string{"-echo-prefix=-d", "-grace=5s"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
