package ctl

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// TestSetupPipe: a worker reads the setup whole from the pipe its master
// wrote, every setting of the config and the credentials included;
// garbage and oversized input are refused.
func TestSetupPipe(t *testing.T) {
	cfg := config.Default()
	cfg.Count, cfg.PingInterval, cfg.AllowOrigins = 3, time.Second, []string{"https://a.example"}
	want := Setup{Slot: 2, Config: cfg, AppName: "chat", AppFlags: map[string]string{"greeting": "hi"},
		NATSURL: "nats://127.0.0.1:4222", NATSAuth: bus.Auth{User: "wsfleet", Password: "s3cret"},
		Cores: 1, MaxConns: 5, MemoryLimit: 1 << 30}
	r, err := SetupPipe(want)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := ReadSetup(r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v\nwrote %+v", got, want)
	}
	if _, err := ReadSetup(strings.NewReader("not json")); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := ReadSetup(strings.NewReader(`{"app_name":"` + strings.Repeat("x", maxSetup) + `"}`)); err == nil {
		t.Error("an oversized setup accepted")
	}
}

// TestSetupDefaults: a setting the master did not send (an older master,
// after a reload into a newer binary) arrives as its default, not as its
// zero value.
func TestSetupDefaults(t *testing.T) {
	s, err := ReadSetup(strings.NewReader(`{"slot":1,"config":{"Count":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if s.Config.Count != 2 || !s.Config.DemoPage || s.Config.MaxRooms != config.Default().MaxRooms {
		t.Fatalf("count %d, demo page %v, max rooms %d", s.Config.Count, s.Config.DemoPage, s.Config.MaxRooms)
	}
}
