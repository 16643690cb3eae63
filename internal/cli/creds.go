package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/wsfleet/wsfleet/internal/master"
	"github.com/wsfleet/wsfleet/pkg/bus"
)

// credFlags are start's flags for the bus's credentials (issue 11). Secrets
// come in files, never as values: argv is readable by every local user.
type credFlags struct {
	natsPasswordFile, backendPasswordFile, clusterPasswordFile *string
}

func addCredFlags(fs *flag.FlagSet, o *master.Options) credFlags {
	var c credFlags
	a, r := &o.NATSAuth, &o.RouteAuth
	fs.StringVar(&a.User, "nats-user", "", "with -nats: the user to log in as (with -nats-password-file)")
	c.natsPasswordFile = fs.String("nats-password-file", "", "with -nats: a file (mode 0600) holding -nats-user's password")
	fs.StringVar(&a.CredsFile, "nats-creds", "", "with -nats: a NATS credentials file (JWT and nkey seed, as nsc writes)")
	fs.StringVar(&a.TLSCert, "nats-tls-cert", "", "with -nats: a client certificate (PEM) for a server that asks for one (with -nats-tls-key)")
	fs.StringVar(&a.TLSKey, "nats-tls-key", "", "the private key of -nats-tls-cert (PEM)")
	fs.StringVar(&a.TLSCA, "nats-tls-ca", "", "with -nats: the CA (PEM) that signed the server's certificate (default: the system's)")
	fs.StringVar(&o.BackendUser, "nats-backend-user", "backend", "the embedded NATS's account for backends (docs/backend.md), with -nats-backend-password-file")
	c.backendPasswordFile = fs.String("nats-backend-password-file", "", "a file (mode 0600) holding the backend account's password; none: no backend account")
	fs.StringVar(&r.User, "cluster-user", "wsfleet-route", "the user the embedded NATS servers of the hosts log in to one another's routes as")
	c.clusterPasswordFile = fs.String("cluster-password-file", "", "with -cluster-listen: a file (mode 0600) holding the routes' password, the same on every host")
	fs.StringVar(&r.TLSCert, "cluster-tls-cert", "", "with -cluster-listen: this host's route certificate (PEM), for its route address, server and client use")
	fs.StringVar(&r.TLSKey, "cluster-tls-key", "", "the private key of -cluster-tls-cert (PEM)")
	fs.StringVar(&r.TLSCA, "cluster-tls-ca", "", "with -cluster-listen: the CA (PEM) that signed every host's route certificate")
	return c
}

// validate reads the password files into o and checks the flags that go
// together; it returns every problem, each naming its flag.
func (c credFlags) validate(o *master.Options) []string {
	var p []string
	secret := func(flag, path string, into *string) {
		if path == "" {
			return
		}
		s, err := bus.ReadSecretFile(path)
		if err != nil {
			p = append(p, fmt.Sprintf("-%s: %s", flag, strings.TrimPrefix(err.Error(), "bus: ")))
			return
		}
		*into = s
	}
	a, r := &o.NATSAuth, &o.RouteAuth
	if o.NATS == "" {
		if a.User != "" || *c.natsPasswordFile != "" || a.CredsFile != "" || a.TLSCert != "" || a.TLSKey != "" || a.TLSCA != "" {
			p = append(p, "-nats-user, -nats-password-file, -nats-creds and -nats-tls-* are for an external server (-nats); the embedded server's credentials are generated at start")
		}
	} else {
		if *c.backendPasswordFile != "" {
			p = append(p, "-nats-backend-password-file adds an account to the embedded NATS; with -nats, give backends an account on that server")
		}
		if (a.User == "") != (*c.natsPasswordFile == "") {
			p = append(p, "-nats-user and -nats-password-file go together")
		}
		if (a.TLSCert == "") != (a.TLSKey == "") {
			p = append(p, "-nats-tls-cert and -nats-tls-key go together")
		}
		secret("nats-password-file", *c.natsPasswordFile, &a.Password)
		for _, f := range []*string{&a.CredsFile, &a.TLSCert, &a.TLSKey, &a.TLSCA} {
			if *f != "" {
				*f = absPath(*f) // the workers run elsewhere
			}
		}
		if err := a.Check(); err != nil {
			p = append(p, "-nats-creds/-nats-tls-*: "+strings.ReplaceAll(err.Error(), "bus: ", ""))
		}
	}
	if o.BackendUser == "" || o.BackendUser == master.InternalUser {
		p = append(p, fmt.Sprintf("-nats-backend-user %q: a name other than %q (the workers' own account)", o.BackendUser, master.InternalUser))
	}
	secret("nats-backend-password-file", *c.backendPasswordFile, &o.BackendPassword)
	if o.ClusterListen == "" {
		if *c.clusterPasswordFile != "" || r.TLSCert != "" || r.TLSKey != "" || r.TLSCA != "" {
			p = append(p, "-cluster-password-file and -cluster-tls-* need -cluster-listen")
		}
		return p
	}
	if *c.clusterPasswordFile == "" {
		p = append(p, "-cluster-listen needs -cluster-password-file: the routes between hosts take a password, the same on every host")
	}
	if r.TLSCert == "" || r.TLSKey == "" || r.TLSCA == "" {
		p = append(p, "-cluster-listen needs -cluster-tls-cert, -cluster-tls-key and -cluster-tls-ca: the routes between hosts are TLS, verified both ways")
	}
	if r.User == "" {
		p = append(p, "-cluster-user must not be empty")
	}
	secret("cluster-password-file", *c.clusterPasswordFile, &r.Password)
	if err := (bus.Auth{TLSCert: r.TLSCert, TLSKey: r.TLSKey, TLSCA: r.TLSCA}).Check(); err != nil {
		p = append(p, "-cluster-tls-*: "+strings.ReplaceAll(err.Error(), "bus: ", ""))
	}
	return p
}
