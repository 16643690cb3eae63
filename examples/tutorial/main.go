// Command tutorial is the tutorial's second server, built on wsfleet: it
// pushes 你好! to every connection every 10 seconds, prints each message it
// gets and answers it. Build it, then `./tutorial start -d`, `./tutorial
// reload`, `./tutorial stop`, as the PHP script is run with Workerman; a
// reload moves the live connections to the new workers (the clients see
// nothing), where Workerman closes them.
package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/wsfleet/wsfleet"
	"github.com/wsfleet/wsfleet/pkg/app"
)

var every = 10 * time.Second // -push-every

type server struct{}

// StartCluster runs once for the cluster: one timer, whatever the workers.
func (server) StartCluster(_ context.Context, c app.Cluster) error {
	c.Every(every, func(_ context.Context, t app.Tick) { t.Broadcast(app.Text("你好!")) })
	return nil
}

func (server) OnOpen(app.Conn) error { return nil }

func (server) OnMessage(c app.Conn, m app.Message) {
	fmt.Println(string(m.Data))
	c.Send(app.Text("服務器已經收到了你的消息"))
}

func (server) OnClose(app.Conn, int) {}

// EncodeConn and DecodeConn let a reload move the live connections to the
// new workers, unseen by the clients (app.Handoffer): this server keeps
// nothing per connection, so there is nothing to carry.
func (server) EncodeConn(app.Conn) ([]byte, error) { return nil, nil }
func (server) DecodeConn(app.Conn, []byte) error   { return nil }

func main() {
	s := wsfleet.New(func() (app.App, error) { return server{}, nil })
	s.Flags = func(fs *flag.FlagSet) { fs.DurationVar(&every, "push-every", every, "how often to push 你好!") }
	s.Main()
}
