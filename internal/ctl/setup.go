package ctl

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/config"
)

// The file descriptors a worker inherits from its master.
const (
	// ControlFD is the worker's end of its control connection.
	ControlFD = 3
	// ListenFD is the SO_REUSEPORT socket the worker accepts on.
	ListenFD = 4
	// SetupFD is a pipe holding the worker's Setup as JSON, read once.
	SetupFD = 5
)

// WorkerVerb is the command line argument that makes a wsfleet program
// run as a worker: the master starts "<program> worker -slot N".
const WorkerVerb = "worker"

// Setup is everything a worker is told when it starts: the cluster's
// settings, whole, and what the master resolved for this worker. It
// travels on a pipe (SetupFD), not in argv or the environment, because it
// holds the bus's credentials: argv is readable by every local user, and
// the environment stays readable for the worker's whole life and passes
// to every process it starts.
type Setup struct {
	// Slot is the worker's index in the master's table.
	Slot int `json:"slot"`
	// Config is the cluster's checked settings.
	Config config.Config `json:"config"`
	// AppName names the application in logs.
	AppName string `json:"app_name"`
	// AppFlags are the program's own flags, by name, to set before the
	// worker makes its application.
	AppFlags map[string]string `json:"app_flags,omitempty"`
	// NATSURL and NATSAuth reach the bus.
	NATSURL  string   `json:"nats_url"`
	NATSAuth bus.Auth `json:"nats_auth"`
	// TicketKeys are the master's TLS session ticket keys, current at
	// the worker's start (OpTicketKeys brings the later ones); empty
	// without TLS.
	TicketKeys TicketKeys `json:"ticket_keys"`
	// Cores is how many cores the worker may use at once.
	Cores int `json:"cores"`
	// Procs is the worker's GOMAXPROCS, at most the CPUs it may use; 0
	// leaves the runtime's default. The environment's GOMAXPROCS wins.
	Procs int `json:"procs,omitempty"`
	// MaxConns and MaxConnsPerIP are this worker's shares of the host's
	// limits (0: none).
	MaxConns      int `json:"max_conns"`
	MaxConnsPerIP int `json:"max_conns_per_ip"`
	// MemoryLimit is the worker's GOMEMLIMIT in bytes (0: none).
	MemoryLimit int64 `json:"memory_limit"`
}

// maxSetup bounds what ReadSetup reads: a setup is a few KiB.
const maxSetup = 1 << 20

// SetupPipe returns the read end of a pipe holding s, for a worker to
// inherit. The setup is far smaller than a pipe's buffer (64 KiB), so the
// write never waits for the reader.
func SetupPipe(s Setup) (*os.File, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("ctl: worker setup: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("ctl: worker setup pipe: %w", err)
	}
	_, err = w.Write(b)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("ctl: worker setup pipe: %w", err)
	}
	return r, nil
}

// ReadSetup reads the setup from r, once. It decodes over the defaults
// (config.Default), so that a setting the master did not send, one newer
// than the master's binary after a reload into a new file, is its default
// rather than its zero value.
func ReadSetup(r io.Reader) (Setup, error) {
	s := Setup{Config: config.Default()}
	b, err := io.ReadAll(io.LimitReader(r, maxSetup+1))
	if err != nil {
		return s, fmt.Errorf("ctl: worker setup: %w", err)
	}
	if len(b) > maxSetup {
		return s, fmt.Errorf("ctl: worker setup: more than %d bytes", maxSetup)
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("ctl: worker setup: %w", err)
	}
	return s, nil
}
