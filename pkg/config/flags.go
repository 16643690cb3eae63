package config

import (
	"flag"

	"github.com/wsfleet/wsfleet/internal/flagx"
)

// Flags defines every setting's flag on fs, bound to c's fields: the
// values c holds now are the flags' defaults (what -h shows), and parsing
// the command line overrides them.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.masterFlags(fs)
	c.workerFlags(fs)
	c.Bus.flags(fs)
}

func (c *Config) masterFlags(fs *flag.FlagSet) {
	fs.IntVar(&c.Count, "count", c.Count, "worker processes")
	fs.StringVar(&c.Listen, "listen", c.Listen, "the WebSocket address every worker accepts on (SO_REUSEPORT)")
	fs.StringVar(&c.LogFile, "log-file", c.LogFile, "where a daemon logs (default: master.log beside the pid file)")
	flagx.LevelVar(fs, &c.LogLevel, "log-level", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "the logs' format: text or json")
	fs.StringVar(&c.AdminListen, "admin-listen", c.AdminListen, "serve /metrics, /livez, /readyz and the HTTP API here (host:port; keep it private, e.g. 127.0.0.1:9090; default off)")
	fs.StringVar(&c.APIKeyFile, "api-key-file", c.APIKeyFile, "with -admin-listen: enable the HTTP API (docs/backend.md), asking for the key in this file (trimmed) in X-API-Key")
	fs.StringVar(&c.AdminPasswordFile, "admin-password-file", c.AdminPasswordFile, "with -admin-listen: enable the admin page /admin/ (docs/admin.md), signing in with the password in this file (trimmed, mode 0600)")
	fs.DurationVar(&c.Grace, "grace", c.Grace, "how long graceful stops and reloads wait for clients before closing them")
	fs.BoolVar(&c.Handoff, "handoff", c.Handoff, "reload hands live connections to the new workers (rooms, user, app state; every message exactly once) instead of closing them with 1012; -handoff=false to close them")
	fs.DurationVar(&c.WorkerTimeout, "worker-timeout", c.WorkerTimeout, "how long a worker may leave the master's heartbeat unanswered before it is killed and restarted")
	fs.StringVar(&c.Node, "node", c.Node, "this host's name in connection ids")
	fs.StringVar(&c.ClusterName, "cluster-name", c.ClusterName, "the prefix of every NATS subject")
	fs.StringVar(&c.NATS, "nats", c.NATS, "use this NATS server (comma-separated URLs for a cluster) instead of the embedded one")
	fs.StringVar(&c.NATSListen, "nats-listen", c.NATSListen, "where the embedded NATS server listens (port 0: any free port)")
	fs.StringVar(&c.ClusterListen, "cluster-listen", c.ClusterListen, "where the embedded NATS accepts routes from other hosts (host:port); enables multi-host")
	flagx.ListVar(fs, &c.Routes, "routes", "other hosts' -cluster-listen addresses as nats://host:port, comma-separated (may include this host)")
	fs.StringVar(&c.WorkerBin, "worker-bin", c.WorkerBin, "the worker executable (default: this program, run again as its workers)")
	fs.StringVar(&c.MemoryLimit, "memory-limit", c.MemoryLimit, "each worker's Go memory limit (GOMEMLIMIT), a size or 0 for none; auto: 3/4 of the cgroup's memory.max shared among the workers, none without one. The environment's GOMEMLIMIT wins")
}

func (c *Config) workerFlags(fs *flag.FlagSet) {
	flagx.SizeVar(fs, &c.MaxMessage, "max-message", "largest message a client may send; larger ones close with 1009")
	flagx.SizeVar(fs, &c.SendBuffer, "send-buffer", "pending output per connection behind the frame being written; a client further behind is closed with 1008")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "serve wss:// with this certificate (PEM; with -tls-key). SIGHUP or reload rereads it")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "the private key of -tls-cert (PEM)")
	flagx.PrefixesVar(fs, &c.TrustedProxies, "trusted-proxy", "proxies (IPs or CIDRs, comma-separated) whose X-Forwarded-For (right-most untrusted entry) or X-Real-IP names the client")
	flagx.ListVar(fs, &c.AllowOrigins, "allow-origin", "allowed Origin values, comma-separated (default: any, and none)")
	flagx.ListVar(fs, &c.Subprotocols, "subprotocols", "subprotocols the server speaks, in order of preference, comma-separated")
	fs.BoolVar(&c.RequireSubprotocol, "require-subprotocol", c.RequireSubprotocol, "refuse upgrades that offer none of -subprotocols")
	fs.BoolVar(&c.Deflate, "deflate", c.Deflate, "negotiate permessage-deflate with clients that offer it")
	fs.IntVar(&c.WorkerCores, "worker-cores", c.WorkerCores, "cores each worker may use at once: its epoll pollers and broadcast writers, and its GOMAXPROCS (at most the CPUs; a GOMAXPROCS in the environment wins) (0: the cores divided among the workers, at least 1)")
	fs.DurationVar(&c.PingInterval, "ping-interval", c.PingInterval, "how often to ping every connection, which clients answer on their own (0: never)")
	fs.DurationVar(&c.TCPKeepAlive, "tcp-keepalive", c.TCPKeepAlive, "idle time before the kernel's TCP keep-alive probes start on a client's socket, and their interval (0: no probes; the pings and -idle-timeout find a dead peer)")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "close a connection that sent nothing, not even a pong, for this long (0: never)")
	fs.BoolVar(&c.Events, "events", c.Events, "publish connection events on NATS for backends in any language (docs/backend.md)")
	flagx.ListVar(fs, &c.EventHeaders, "events-headers", "request headers an -events or -webhook open event carries, comma-separated (default none; Cookie and Authorization only if named)")
	fs.StringVar(&c.Webhook, "webhook", c.Webhook, "POST each connection's open, messages and close to this URL (docs/webhook.md)")
	fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", c.WebhookTimeout, "how long one -webhook request may take")
	fs.IntVar(&c.WebhookConcurrency, "webhook-concurrency", c.WebhookConcurrency, "the most -webhook requests one worker has in flight")
	fs.StringVar(&c.WebhookSecretFile, "webhook-secret-file", c.WebhookSecretFile, "sign every -webhook request's body with the key in this file (trimmed; at least 32 bytes): X-Wsfleet-Signature: sha256=<hex HMAC-SHA256>")
	fs.BoolVar(&c.DemoPage, "demo-page", c.DemoPage, "answer plain HTTP GETs on the WebSocket port with the demo page")
	fs.StringVar(&c.History, "history", c.History, "rooms whose messages are kept in JetStream for resuming clients: 'PATTERN=COUNT,AGE;...' ('*' matches any run of characters; the first match wins; '@PATTERN' for the messages to users), or off")
	fs.IntVar(&c.HistoryReplicas, "history-replicas", c.HistoryReplicas, "the history stream's replicas (3 for a NATS cluster of 3 hosts)")
	flagx.SizeVar(fs, &c.HistoryMaxBytes, "history-max-bytes", "the most the rooms' history may hold, all rooms together; past it the oldest messages go first")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "where the embedded NATS keeps JetStream's files (room history) (default: data beside the pid file)")
	fs.IntVar(&c.MaxRooms, "max-rooms", c.MaxRooms, "the most rooms one connection may be in at once; a join beyond it is refused with an error")
	fs.StringVar(&c.JWTSecretFile, "jwt-secret-file", c.JWTSecretFile, "require a connection token (JWT: the token query parameter or Authorization: Bearer) signed with HS256/384/512 and the secret in this file (trimmed; at least 32 bytes)")
	fs.StringVar(&c.JWTKeyFile, "jwt-key-file", c.JWTKeyFile, "require a connection token signed with the private half of this PEM public key (RSA: RS256/384/512, ECDSA: ES256/384/512, Ed25519: EdDSA)")
	fs.BoolVar(&c.JWTExpireClose, "jwt-expire-close", c.JWTExpireClose, "close a connection with 4001 \"token expired\" when its token's exp passes, unless the app refreshed it")
	fs.IntVar(&c.MaxConns, "max-conns", c.MaxConns, "most connections on this host, each worker taking its share; over it, HTTP 503 (0: no limit)")
	fs.IntVar(&c.MaxConnsPerIP, "max-conns-per-ip", c.MaxConnsPerIP, "most connections from one client address (after -trusted-proxy), each worker taking its share; over it, HTTP 429 (0: no limit)")
	flagx.SizeVar(fs, &c.MaxRequestHead, "max-request-head", "longest HTTP request head (request line and headers); over it, HTTP 431")
}

func (b *BusConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&b.User, "nats-user", b.User, "with -nats: the user to log in as (with -nats-password-file)")
	fs.StringVar(&b.PasswordFile, "nats-password-file", b.PasswordFile, "with -nats: a file (mode 0600) holding -nats-user's password")
	fs.StringVar(&b.CredsFile, "nats-creds", b.CredsFile, "with -nats: a NATS credentials file (JWT and nkey seed, as nsc writes)")
	fs.StringVar(&b.TLSCert, "nats-tls-cert", b.TLSCert, "with -nats: a client certificate (PEM) for a server that asks for one (with -nats-tls-key)")
	fs.StringVar(&b.TLSKey, "nats-tls-key", b.TLSKey, "the private key of -nats-tls-cert (PEM)")
	fs.StringVar(&b.TLSCA, "nats-tls-ca", b.TLSCA, "with -nats: the CA (PEM) that signed the server's certificate (default: the system's)")
	fs.StringVar(&b.BackendUser, "nats-backend-user", b.BackendUser, "the embedded NATS's account for backends (docs/backend.md), with -nats-backend-password-file")
	fs.StringVar(&b.BackendPasswordFile, "nats-backend-password-file", b.BackendPasswordFile, "a file (mode 0600) holding the backend account's password; none: no backend account")
	fs.StringVar(&b.ClusterUser, "cluster-user", b.ClusterUser, "the user the embedded NATS servers of the hosts log in to one another's routes as")
	fs.StringVar(&b.ClusterPasswordFile, "cluster-password-file", b.ClusterPasswordFile, "with -cluster-listen: a file (mode 0600) holding the routes' password, the same on every host")
	fs.StringVar(&b.ClusterTLSCert, "cluster-tls-cert", b.ClusterTLSCert, "with -cluster-listen: this host's route certificate (PEM), for its route address, server and client use")
	fs.StringVar(&b.ClusterTLSKey, "cluster-tls-key", b.ClusterTLSKey, "the private key of -cluster-tls-cert (PEM)")
	fs.StringVar(&b.ClusterTLSCA, "cluster-tls-ca", b.ClusterTLSCA, "with -cluster-listen: the CA (PEM) that signed every host's route certificate")
}
