package cli

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/wsfleet/wsfleet/internal/master"
)

const rule = "--------------------------------------------------------------------------------------------"

func banner(w io.Writer, title string) {
	pad := (len(rule) - len(title) - 2) / 2
	fmt.Fprintf(w, "%s %s %s\n", rule[:pad], title, rule[:len(rule)-pad-len(title)-2])
}

// printStatus prints status in the spirit of Workerman's: a global block,
// then a line per worker, then the totals.
func printStatus(w io.Writer, st master.Status) {
	m := st.Master
	banner(w, "GLOBAL STATUS")
	nats := m.NATSURL
	if m.EmbeddedNATS {
		nats += " (embedded)"
	}
	fmt.Fprintf(w, "master pid %d   node %s   started %s   up %s   memory %s\n",
		m.PID, m.Node, m.StartedAt.Local().Format("2006-01-02 15:04:05"), dur(m.UptimeSeconds), size(m.RSSBytes))
	fmt.Fprintf(w, "listen %s   app %s   %d workers   nats %s   cluster %s\n", m.Listen, m.App, m.Count, nats, m.ClusterName)
	fmt.Fprintf(w, "version %s   %s\n", m.Version, m.GoVersion)
	banner(w, "PROCESS STATUS")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "worker\tpid\tstate\tmemory\tconnections\tmsgs_in\tmsgs_out\tsend_fail\trestarts\tuptime\tbus")
	for _, x := range st.Workers {
		bus := "up"
		if !x.BusConnected {
			bus = "down"
		}
		if x.State == "busy" || x.State == "down" {
			fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t-\t-\t-\t-\t%d\t%s\t-\n", x.Slot, x.PID, x.State, size(x.RSSBytes), x.Restarts, dur(x.UptimeSeconds))
			continue
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", x.Slot, x.PID, x.State, size(x.RSSBytes),
			x.Connections, x.MessagesIn, x.MessagesOut, x.SendFailures, x.Restarts, dur(x.UptimeSeconds), bus)
	}
	tw.Flush()
	// A reload runs the program on disk: name the workers whose build is
	// not the master's.
	for _, x := range st.Workers {
		if x.Build != "" && !strings.HasPrefix(x.Build, m.Version+" ("+m.GoVersion+" ") {
			fmt.Fprintf(w, "worker %d (pid %d) runs build %s\n", x.Slot, x.PID, x.Build)
		}
	}
	banner(w, "SUMMARY")
	s := st.Summary
	fmt.Fprintf(w, "Summary: %d workers, %d connections, %d messages in, %d out, %d send failures, workers' memory %s\n",
		s.Workers, s.Connections, s.MessagesIn, s.MessagesOut, s.SendFailures, size(s.RSSBytes))
	r := s.Refused
	fmt.Fprintf(w, "Refused: %d too many connections, %d too many from one address, %d handshakes in progress, %d out of files, %d bad requests, %d timeouts\n",
		r.MaxConns, r.PerIP, r.Handshakes, r.Files, r.BadRequest, r.Timeouts)
}

func printConnections(w io.Writer, cs master.Connections) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tworker_pid\tremote\tuser\tbytes_in\tbytes_out\tage")
	for _, c := range cs.Connections {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%s\n", c.ID, c.WorkerPID, c.Remote, printable(c.User), c.BytesIn, c.BytesOut, dur(c.AgeSeconds))
	}
	tw.Flush()
	fmt.Fprintf(w, "%d connections\n", len(cs.Connections))
}

func dur(sec float64) string {
	d := time.Duration(sec * float64(time.Second))
	if d < time.Minute {
		return d.Round(100 * time.Millisecond).String()
	}
	return strings.TrimSuffix(d.Round(time.Second).String(), "0s")
}

func size(b int64) string {
	switch {
	case b >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(b)/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(b)/(1<<20))
	case b >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%dB", b)
}

// printable shows s as is when it is plain printable text, quoted with
// escapes otherwise: a user id comes from a token or an application, and
// must not put control sequences on the operator's terminal.
func printable(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if !strconv.IsPrint(r) || r == ' ' || r == '"' {
			return strconv.Quote(s)
		}
	}
	return s
}
