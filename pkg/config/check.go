package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/wsfleet/wsfleet/internal/certs"
	"github.com/wsfleet/wsfleet/pkg/auth"
	"github.com/wsfleet/wsfleet/pkg/bus"
	"github.com/wsfleet/wsfleet/pkg/history"
)

// Check checks every setting and makes c's file names absolute, so that
// they mean the same to the workers and to a restart as they did here. It
// returns every problem at once, each naming its flag.
func (c *Config) Check() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if c.Count < 1 {
		add("-count must be at least 1 (got %d)", c.Count)
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		add("-listen %q: want host:port, e.g. :8080", c.Listen)
	}
	if c.Grace <= 0 {
		add("-grace must be positive (got %s)", c.Grace)
	}
	if c.WorkerTimeout < time.Second {
		add("-worker-timeout must be at least 1s (got %s)", c.WorkerTimeout)
	}
	if err := bus.ValidToken(c.ClusterName); err != nil {
		add("-cluster-name %q: letters, digits, '-' and '_' only", c.ClusterName)
	}
	if err := bus.ValidToken(c.Node); err != nil {
		add("-node %q: letters, digits, '-' and '_' only", c.Node)
	}
	p = append(p, c.checkNATS()...)
	p = append(p, c.checkAdmin()...)
	p = append(p, c.checkConnections()...)
	p = append(p, c.checkFiles()...)
	p = append(p, c.checkAuth()...)
	p = append(p, c.Bus.check(c.NATS != "", c.ClusterListen != "")...)
	c.PIDFile = abs(c.PIDFile)
	if c.LogFile == "" {
		c.LogFile = filepath.Join(filepath.Dir(c.PIDFile), "master.log")
	}
	c.LogFile = abs(c.LogFile)
	if c.DataDir == "" {
		c.DataDir = filepath.Join(filepath.Dir(c.PIDFile), "data")
	}
	c.DataDir = abs(c.DataDir)
	return p
}

func (c *Config) checkNATS() []string {
	var p []string
	if _, _, err := net.SplitHostPort(c.NATSListen); c.NATS == "" && err != nil {
		p = append(p, fmt.Sprintf("-nats-listen %q: want host:port, e.g. 127.0.0.1:4222", c.NATSListen))
	}
	if c.ClusterListen != "" {
		if _, _, err := net.SplitHostPort(c.ClusterListen); err != nil {
			p = append(p, fmt.Sprintf("-cluster-listen %q: want host:port, e.g. 10.0.0.1:6222", c.ClusterListen))
		}
		if c.NATS != "" {
			p = append(p, "-cluster-listen clusters the embedded NATS; with -nats, cluster that server instead")
		}
	}
	if len(c.Routes) > 0 && c.ClusterListen == "" {
		p = append(p, "-routes needs -cluster-listen")
	}
	for _, r := range c.Routes {
		if !strings.HasPrefix(r, "nats://") {
			p = append(p, fmt.Sprintf("-routes %q: want nats://host:port", r))
		}
	}
	return p
}

// checkAdmin checks the logs, the admin listener, the HTTP API and the
// webhook.
func (c *Config) checkAdmin() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if c.LogFormat != "text" && c.LogFormat != "json" {
		add("-log-format %q: want text or json", c.LogFormat)
	}
	if c.AdminListen != "" {
		if _, _, err := net.SplitHostPort(c.AdminListen); err != nil {
			add("-admin-listen %q: want host:port, e.g. 127.0.0.1:9090", c.AdminListen)
		}
	}
	if c.APIKeyFile != "" {
		if c.AdminListen == "" {
			add("-api-key-file needs -admin-listen")
		}
		if _, err := bus.ReadSecretFile(c.APIKeyFile); err != nil {
			add("-api-key-file: %s", strings.TrimPrefix(err.Error(), "bus: "))
		}
		c.APIKeyFile = abs(c.APIKeyFile)
	}
	if c.AdminPasswordFile != "" {
		if c.AdminListen == "" {
			add("-admin-password-file needs -admin-listen")
		}
		if _, err := bus.ReadSecretFile(c.AdminPasswordFile); err != nil {
			add("-admin-password-file: %s", strings.TrimPrefix(err.Error(), "bus: "))
		}
		c.AdminPasswordFile = abs(c.AdminPasswordFile)
	}
	if c.Webhook != "" {
		u, err := url.Parse(c.Webhook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("-webhook %q: want an http:// or https:// URL", c.Webhook)
		}
	}
	if c.WebhookTimeout <= 0 {
		add("-webhook-timeout must be positive (got %s)", c.WebhookTimeout)
	}
	if c.WebhookConcurrency < 1 {
		add("-webhook-concurrency must be at least 1 (got %d)", c.WebhookConcurrency)
	}
	if c.WebhookSecretFile != "" {
		if c.Webhook == "" {
			add("-webhook-secret-file needs -webhook")
		}
		if _, err := auth.ReadSecretFile(c.WebhookSecretFile); err != nil {
			add("-webhook-secret-file: %v", err)
		}
		c.WebhookSecretFile = abs(c.WebhookSecretFile)
	}
	return p
}

func (c *Config) checkConnections() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if c.WorkerCores < 0 {
		add("-worker-cores must not be negative (got %d)", c.WorkerCores)
	}
	if c.PingInterval < 0 {
		add("-ping-interval must not be negative (got %s)", c.PingInterval)
	}
	if c.TCPKeepAlive < 0 {
		add("-tcp-keepalive must not be negative (got %s)", c.TCPKeepAlive)
	} else if c.TCPKeepAlive > 0 && c.TCPKeepAlive < time.Second {
		add("-tcp-keepalive must be 0 or at least 1s (got %s): the kernel counts it in seconds", c.TCPKeepAlive)
	}
	if c.IdleTimeout < 0 {
		add("-idle-timeout must not be negative (got %s)", c.IdleTimeout)
	}
	if c.PingInterval > 0 && c.IdleTimeout > 0 && c.IdleTimeout <= c.PingInterval {
		add("-idle-timeout (%s) must be longer than -ping-interval (%s), or every client that only answers pings is closed",
			c.IdleTimeout, c.PingInterval)
	}
	if c.MaxMessage <= 0 {
		add("-max-message must be positive (got %d)", c.MaxMessage)
	}
	if c.SendBuffer <= 0 {
		add("-send-buffer must be positive (got %d)", c.SendBuffer)
	}
	if c.MaxConns < 0 {
		add("-max-conns must not be negative (got %d)", c.MaxConns)
	}
	if c.MaxConnsPerIP < 0 {
		add("-max-conns-per-ip must not be negative (got %d)", c.MaxConnsPerIP)
	}
	if c.MaxRequestHead < 1<<10 || c.MaxRequestHead > 1<<20 {
		add("-max-request-head must be between 1KiB and 1MiB (got %d bytes)", c.MaxRequestHead)
	}
	if _, err := history.ParseRules(c.History); err != nil {
		add("-history: %v", err)
	}
	if c.HistoryMaxBytes < 1<<20 {
		add("-history-max-bytes must be at least 1MiB (got %d bytes)", c.HistoryMaxBytes)
	}
	if c.HistoryReplicas < 1 || c.HistoryReplicas > 5 {
		add("-history-replicas must be 1 to 5 (got %d)", c.HistoryReplicas)
	}
	if c.MaxRooms < 1 {
		add("-max-rooms must be at least 1 (got %d)", c.MaxRooms)
	}
	if c.RequireSubprotocol && len(c.Subprotocols) == 0 {
		add("-require-subprotocol needs -subprotocols")
	}
	return p
}

// checkFiles checks the TLS files and the worker executable.
func (c *Config) checkFiles() []string {
	var p []string
	switch {
	case (c.TLSCert == "") != (c.TLSKey == ""):
		p = append(p, "-tls-cert and -tls-key go together")
	case c.TLSCert != "":
		if _, err := certs.Load(c.TLSCert, c.TLSKey); err != nil {
			p = append(p, fmt.Sprintf("-tls-cert/-tls-key: %v", err))
		}
		c.TLSCert, c.TLSKey = abs(c.TLSCert), abs(c.TLSKey)
	}
	if c.WorkerBin != "" {
		c.WorkerBin = abs(c.WorkerBin)
		if st, err := os.Stat(c.WorkerBin); err != nil || st.IsDir() {
			p = append(p, fmt.Sprintf("-worker-bin %s: not an executable file", c.WorkerBin))
		}
	}
	return p
}

// checkAuth checks the client authentication settings: the key files must
// be readable and hold a usable key now, not only when the first worker
// starts.
func (c *Config) checkAuth() []string {
	var p []string
	if c.JWTSecretFile != "" {
		if _, err := auth.ReadSecretFile(c.JWTSecretFile); err != nil {
			p = append(p, fmt.Sprintf("-jwt-secret-file: %v", err))
		}
		c.JWTSecretFile = abs(c.JWTSecretFile)
	}
	if c.JWTKeyFile != "" {
		if _, err := auth.ReadPublicKeyFile(c.JWTKeyFile); err != nil {
			p = append(p, fmt.Sprintf("-jwt-key-file: %v", err))
		}
		c.JWTKeyFile = abs(c.JWTKeyFile)
	}
	if c.JWTExpireClose && c.JWTSecretFile == "" && c.JWTKeyFile == "" {
		p = append(p, "-jwt-expire-close needs -jwt-secret-file or -jwt-key-file")
	}
	if len(c.EventHeaders) > 0 && !c.Events && c.Webhook == "" {
		p = append(p, "-events-headers needs -events or -webhook")
	}
	for _, h := range c.EventHeaders {
		if h == "" || strings.ContainsAny(h, " :\t\r\n") {
			p = append(p, fmt.Sprintf("-events-headers %q: not a header name", h))
		}
	}
	return p
}

func abs(p string) string {
	if p == "" {
		return p
	}
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
