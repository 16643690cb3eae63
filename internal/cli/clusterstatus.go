package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/wsfleet/wsfleet/internal/master"
)

// printClusterStatus prints `status -cluster`: one line per host.
func printClusterStatus(w io.Writer, cs master.ClusterStatus) {
	banner(w, "CLUSTER STATUS")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "node\tmaster_pid\tversion\tuptime\tworkers\tconnections\tleader\tlisten\troutes\tpeers")
	conns := 0
	for _, h := range cs.Hosts {
		conns += h.Connections
		leader := "-"
		if h.Leader {
			leader = "yes"
		}
		routes, peers := "-", "-"
		switch {
		case h.Routes != nil && len(h.Routes.Peers) > 0:
			routes, peers = fmt.Sprint(len(h.Routes.Peers)), strings.Join(h.Routes.Peers, ",")
		case h.Routes != nil:
			routes = "0"
		default:
			peers = "(external NATS)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d/%d\t%d\t%s\t%s\t%s\t%s\n", h.Node, h.PID, or(h.Version, "-"),
			dur(h.UptimeSeconds), h.Workers, h.Count, h.Connections, leader, h.Listen, routes, peers)
	}
	tw.Flush()
	fmt.Fprintf(w, "Summary: %d hosts answered (%d heard on the bus), %d connections\n", len(cs.Hosts), cs.Expected, conns)
}

// clusterUnanswered is nil: a host whose workers did not all answer its
// master shows fewer running workers in its line, and a host that did not
// answer is not listed (Summary says how many were heard).
func clusterUnanswered(master.ClusterStatus) []master.Unanswered { return nil }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
