// Package worker is the runtime of one wsfleet worker process: it joins the
// connection engine (pkg/gateway), the bus (pkg/bus) and the application
// (pkg/app), reports "ready" to the master over its control connection, and
// answers the master's status, connections and stop requests.
//
// A worker lives as long as its master: when the control connection ends
// (the master died), it closes every connection with 1001 and exits, so no
// orphan keeps serving the port.
package worker
