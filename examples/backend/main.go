// Command backend is a wsfleet backend that talks to the cluster through
// NATS only, as one in any language would (docs/backend.md): it consumes
// connection events in a queue group, so several copies share the work, and
// answers through the send and command subjects.
//
// It runs a one-room chat: every client joins "lobby" on connect, and every
// message is told to the room.
//
//	bin/master start -app none -events -nats-backend-password-file backend.secret
//	go run ./examples/backend -nats nats://127.0.0.1:4222 -password-file backend.secret
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
)

// event is the union of the open, message and close payloads.
type event struct {
	Conn   string `json:"conn"`
	Worker struct {
		Node string `json:"node"`
		PID  int    `json:"pid"`
	} `json:"worker"`
	Remote string `json:"remote"`
	Text   string `json:"text"`
	Binary bool   `json:"binary"`
	Code   int    `json:"code"`
}

func main() {
	url := flag.String("nats", nats.DefaultURL, "the cluster's NATS")
	prefix := flag.String("cluster-name", "wsfleet", "the cluster's subject prefix")
	user := flag.String("user", "backend", "the NATS user (the master's -nats-backend-user)")
	pwFile := flag.String("password-file", "", "a file holding the user's password (the master's -nats-backend-password-file)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var auth []nats.Option
	if *pwFile != "" {
		pw, err := os.ReadFile(*pwFile)
		if err != nil {
			log.Error("backend", "err", err)
			os.Exit(1)
		}
		auth = append(auth, nats.UserInfo(*user, strings.TrimSpace(string(pw))))
	}
	if err := run(*url, *prefix, auth, log); err != nil {
		log.Error("backend", "err", err)
		os.Exit(1)
	}
}

func run(url, p string, auth []nats.Option, log *slog.Logger) error {
	nc, err := nats.Connect(url, append(auth, nats.Name("example backend"), nats.MaxReconnects(-1))...)
	if err != nil {
		return fmt.Errorf("connect %s: %w", url, err)
	}
	defer nc.Drain()
	room := p + ".room.lobby"
	say := func(text string) {
		if err := nc.Publish(room, []byte(text)); err != nil {
			log.Warn("publish", "err", err)
		}
	}
	_, err = nc.QueueSubscribe(p+".events.>", "backend", func(m *nats.Msg) {
		var ev event
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			log.Warn("bad event", "subject", m.Subject, "err", err)
			return
		}
		// A command or a message for one connection goes to its worker.
		worker := fmt.Sprintf("%s.conn.%s.%d", p, ev.Worker.Node, ev.Worker.PID)
		switch strings.TrimPrefix(m.Subject, p+".events.") {
		case "open":
			nc.PublishMsg(&nats.Msg{Subject: worker, Header: nats.Header{"Wsfleet-Conn": {ev.Conn}, "Wsfleet-Join": {"lobby"}}})
			nc.PublishMsg(&nats.Msg{Subject: worker, Header: nats.Header{"Wsfleet-Conn": {ev.Conn}}, Data: []byte("welcome, " + ev.Conn)})
			say(ev.Conn + " joined")
		case "message":
			if !ev.Binary {
				say(ev.Conn + ": " + ev.Text)
			}
		case "close":
			say(fmt.Sprintf("%s left (%d)", ev.Conn, ev.Code))
		}
	})
	if err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	log.Info("backend running", "nats", url, "events", p+".events.>")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return nil
}
