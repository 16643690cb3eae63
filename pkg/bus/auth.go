package bus

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nats-io/nats.go"
)

// Auth is how a client proves who it is to NATS: a user and password, a
// creds file (a NATS JWT and nkey seed, as nsc writes), TLS with a client
// certificate, or several of these, as the server asks. The zero value
// sends no credentials. It travels as JSON from the master to its workers,
// in each worker's setup on an inherited pipe (internal/ctl's Setup), so
// that no secret is in an argv.
type Auth struct {
	User      string `json:"user,omitempty"`
	Password  string `json:"password,omitempty"`
	CredsFile string `json:"creds_file,omitempty"`
	// TLSCert and TLSKey are the client certificate and its key (PEM);
	// TLSCA verifies the server's certificate (PEM; default: the system's
	// roots). Any of them makes the connection TLS.
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
	TLSCA   string `json:"tls_ca,omitempty"`
}

// natsOptions are a's nats.go options.
func (a Auth) natsOptions() []nats.Option {
	var opts []nats.Option
	if a.TLSCert != "" || a.TLSCA != "" {
		opts = append(opts, nats.Secure())
	}
	if a.User != "" || a.Password != "" {
		opts = append(opts, nats.UserInfo(a.User, a.Password))
	}
	if a.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(a.CredsFile))
	}
	if a.TLSCert != "" {
		opts = append(opts, nats.ClientCert(a.TLSCert, a.TLSKey))
	}
	if a.TLSCA != "" {
		opts = append(opts, nats.RootCAs(a.TLSCA))
	}
	return opts
}

// Check returns every problem with a, each naming the file: a missing or
// unreadable file, a certificate without its key.
func (a Auth) Check() error {
	var errs []error
	if (a.TLSCert == "") != (a.TLSKey == "") {
		errs = append(errs, errors.New("bus: a client certificate and its key go together"))
	}
	for _, f := range []string{a.CredsFile, a.TLSCert, a.TLSKey, a.TLSCA} {
		if f == "" {
			continue
		}
		if _, err := os.ReadFile(f); err != nil {
			errs = append(errs, fmt.Errorf("bus: %w", err))
		}
	}
	return errors.Join(errs...)
}

// NewSecret returns a password of 256 random bits (crypto/rand), in
// base64url without padding: the embedded server's generated credentials.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("bus: random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// maxSecretFile bounds a password file.
const maxSecretFile = 4 << 10

// ReadSecretFile returns a password file's content with surrounding
// whitespace trimmed (the newline an editor or `echo` adds). It refuses an
// empty file, one larger than 4 KiB, and one that group or others may read:
// a password anyone can read protects nothing.
func ReadSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("bus: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("bus: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return "", fmt.Errorf("bus: %s may be read by others (mode %04o): chmod 600 it", path, st.Mode().Perm())
	}
	if st.Size() > maxSecretFile {
		return "", fmt.Errorf("bus: %s: larger than %d bytes, not a password", path, maxSecretFile)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile))
	if err != nil {
		return "", fmt.Errorf("bus: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("bus: %s is empty", path)
	}
	return s, nil
}
