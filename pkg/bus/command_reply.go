package bus

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// A command may be sent as a NATS request: the worker then answers on its
// reply subject once the command was done, with a small JSON document (a
// join since a position: {"recovered":bool,"offset":N,"epoch":"E"},
// docs/backend.md). Only reply subjects that are inboxes are answered, so
// a command cannot make a worker publish on a room's or a user's subject:
// "_INBOX." (a backend's own requests) and the masters' reply subjects
// (RequestCommand, which backends can neither read nor write).

// commandReplyOK reports whether a worker may answer a command on reply.
func (s subjects) commandReplyOK(reply string) bool {
	return strings.HasPrefix(reply, "_INBOX.") || strings.HasPrefix(reply, s.mastersReply())
}

// RequestCommand sends cmd to the connection id conn, like PublishCommand,
// and waits for the worker's answer until ctx ends. A worker answers only
// the commands that say they answer (a join since a position); for others
// the wait ends with ctx.
func (c *Client) RequestCommand(ctx context.Context, conn string, cmd Command) ([]byte, error) {
	subject, err := c.connSubject(conn)
	if err != nil {
		return nil, err
	}
	inbox, sub, err := c.replyInbox()
	if err != nil {
		return nil, fmt.Errorf("bus: command: %w", err)
	}
	defer sub.Unsubscribe()
	nm := cmd.natsMsg(subject, conn)
	nm.Reply = inbox
	if err := c.nc.PublishMsg(nm); err != nil {
		return nil, fmt.Errorf("bus: command: %w", err)
	}
	m, err := sub.NextMsgWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("bus: command's answer: %w", err)
	}
	return m.Data, nil
}

// ReplyCommand answers a command received with a Reply (Command.Reply).
func (c *Client) ReplyCommand(reply string, data []byte) error {
	if !c.subj.commandReplyOK(reply) {
		return fmt.Errorf("bus: %q is not an inbox: not answered", reply)
	}
	return c.send(&nats.Msg{Subject: reply, Data: data})
}
