// Package wsfleet is a WebSocket application server, as a library: the
// program built with it is the whole cluster. Like a Workerman script, it
// is started with `start` (-d to daemonise) and managed with `stop`,
// `reload`, `restart`, `status` and `connections`; its master runs the
// program again as its workers, which share one port with SO_REUSEPORT and
// are tied to each other, and to other hosts, by NATS.
//
// A program gives [New] a function that makes its application (package
// [github.com/wsfleet/wsfleet/pkg/app]), sets the defaults it wants on the
// [Server]'s Config, may add flags of its own, and calls [Server.Main]:
//
//	func main() {
//		s := wsfleet.New(func() (app.App, error) { return &hello{}, nil })
//		s.Config.Count = 2
//		s.Main()
//	}
//
// Then `./hello start -d` runs it, `./hello reload` replaces its workers
// with the program's file as it is now (a rebuilt binary takes over without
// closing the port), and `./hello stop` ends it. Every flag of the stock
// `master start` works, and overrides the code's defaults.
package wsfleet
