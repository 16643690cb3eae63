package config

import (
	"fmt"
	"strings"

	"github.com/wsfleet/wsfleet/pkg/bus"
)

// InternalUser is the embedded NATS account of the master and its
// workers; no backend may take its name.
const InternalUser = "wsfleet"

// Secrets are the bus's credentials as read from BusConfig's files.
type Secrets struct {
	// Client is what the master and its workers present to an external
	// NATS (-nats); the master makes its own for the embedded one.
	Client bus.Auth
	// BackendPassword is the backend account's password; "": no account.
	BackendPassword string
	// Route is the routes' credentials between hosts.
	Route bus.RouteAuth
}

// check checks the settings that go together and makes file names
// absolute; external says -nats is set, clustered that -cluster-listen is.
func (b *BusConfig) check(external, clustered bool) []string {
	var p []string
	if !external {
		if b.User != "" || b.PasswordFile != "" || b.CredsFile != "" || b.TLSCert != "" || b.TLSKey != "" || b.TLSCA != "" {
			p = append(p, "-nats-user, -nats-password-file, -nats-creds and -nats-tls-* are for an external server (-nats); the embedded server's credentials are generated at start")
		}
	} else {
		if b.BackendPasswordFile != "" {
			p = append(p, "-nats-backend-password-file adds an account to the embedded NATS; with -nats, give backends an account on that server")
		}
		if (b.User == "") != (b.PasswordFile == "") {
			p = append(p, "-nats-user and -nats-password-file go together")
		}
		if (b.TLSCert == "") != (b.TLSKey == "") {
			p = append(p, "-nats-tls-cert and -nats-tls-key go together")
		}
	}
	if b.BackendUser == "" || b.BackendUser == InternalUser {
		p = append(p, fmt.Sprintf("-nats-backend-user %q: a name other than %q (the workers' own account)", b.BackendUser, InternalUser))
	}
	if !clustered {
		if b.ClusterPasswordFile != "" || b.ClusterTLSCert != "" || b.ClusterTLSKey != "" || b.ClusterTLSCA != "" {
			p = append(p, "-cluster-password-file and -cluster-tls-* need -cluster-listen")
		}
	} else {
		if b.ClusterPasswordFile == "" {
			p = append(p, "-cluster-listen needs -cluster-password-file: the routes between hosts take a password, the same on every host")
		}
		if b.ClusterTLSCert == "" || b.ClusterTLSKey == "" || b.ClusterTLSCA == "" {
			p = append(p, "-cluster-listen needs -cluster-tls-cert, -cluster-tls-key and -cluster-tls-ca: the routes between hosts are TLS, verified both ways")
		}
		if b.ClusterUser == "" {
			p = append(p, "-cluster-user must not be empty")
		}
	}
	for _, f := range []*string{&b.PasswordFile, &b.CredsFile, &b.TLSCert, &b.TLSKey, &b.TLSCA,
		&b.BackendPasswordFile, &b.ClusterPasswordFile, &b.ClusterTLSCert, &b.ClusterTLSKey, &b.ClusterTLSCA} {
		*f = abs(*f)
	}
	if _, more := b.Secrets(external, clustered); len(more) > 0 {
		p = append(p, more...)
	}
	return p
}

// Secrets reads the credentials from their files; external and clustered
// are as for check. It returns every problem, each naming its flag.
func (b BusConfig) Secrets(external, clustered bool) (Secrets, []string) {
	var s Secrets
	var p []string
	read := func(flag, path string, into *string) {
		if path == "" {
			return
		}
		v, err := bus.ReadSecretFile(path)
		if err != nil {
			p = append(p, fmt.Sprintf("-%s: %s", flag, strings.TrimPrefix(err.Error(), "bus: ")))
			return
		}
		*into = v
	}
	if external {
		s.Client = bus.Auth{User: b.User, CredsFile: b.CredsFile, TLSCert: b.TLSCert, TLSKey: b.TLSKey, TLSCA: b.TLSCA}
		read("nats-password-file", b.PasswordFile, &s.Client.Password)
		if err := s.Client.Check(); err != nil {
			p = append(p, "-nats-creds/-nats-tls-*: "+strings.ReplaceAll(err.Error(), "bus: ", ""))
		}
	}
	read("nats-backend-password-file", b.BackendPasswordFile, &s.BackendPassword)
	if clustered {
		s.Route = bus.RouteAuth{User: b.ClusterUser, TLSCert: b.ClusterTLSCert, TLSKey: b.ClusterTLSKey, TLSCA: b.ClusterTLSCA}
		read("cluster-password-file", b.ClusterPasswordFile, &s.Route.Password)
		if err := (bus.Auth{TLSCert: s.Route.TLSCert, TLSKey: s.Route.TLSKey, TLSCA: s.Route.TLSCA}).Check(); err != nil {
			p = append(p, "-cluster-tls-*: "+strings.ReplaceAll(err.Error(), "bus: ", ""))
		}
	}
	return s, p
}
