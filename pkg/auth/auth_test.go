package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// keys is one set of signing keys, generated once per test binary.
type keys struct {
	secret []byte
	rsa    *rsa.PrivateKey
	ec     *ecdsa.PrivateKey
	ed     ed25519.PrivateKey
}

func newKeys(t testing.TB) keys {
	t.Helper()
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, d, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Printable, as a secret file holds it: random bytes that begin or end
	// with a space or a newline would be trimmed by ReadSecretFile (a
	// TestReadKeyFiles failure about one run in twenty).
	raw := make([]byte, 24)
	rand.Read(raw)
	secret := []byte(base64.RawURLEncoding.EncodeToString(raw))
	return keys{secret: secret, rsa: r, ec: e, ed: d}
}

func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pemOf(t testing.TB, pub crypto.PublicKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func TestVerify(t *testing.T) {
	k := newKeys(t)
	other := newKeys(t)
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	valid := jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix()}
	rsaPEM := pemOf(t, &k.rsa.PublicKey)
	cases := []struct {
		name   string
		pub    crypto.PublicKey // the verifier's public key; nil: the secret only
		token  string
		want   error // nil: accepted as alice
		expiry bool
	}{
		{"HS256", nil, sign(t, jwt.SigningMethodHS256, k.secret, valid), nil, true},
		{"HS384", nil, sign(t, jwt.SigningMethodHS384, k.secret, valid), nil, true},
		{"HS512", nil, sign(t, jwt.SigningMethodHS512, k.secret, valid), nil, true},
		{"RS256", &k.rsa.PublicKey, sign(t, jwt.SigningMethodRS256, k.rsa, valid), nil, true},
		{"ES256", &k.ec.PublicKey, sign(t, jwt.SigningMethodES256, k.ec, valid), nil, true},
		{"EdDSA", k.ed.Public(), sign(t, jwt.SigningMethodEdDSA, k.ed, valid), nil, true},
		{"no exp never expires", nil, sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice"}), nil, false},
		{"expired", nil, sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "exp": now.Add(-time.Second).Unix()}), ErrExpired, false},
		{"not yet valid", nil, sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "nbf": now.Add(time.Minute).Unix()}), ErrNotYetValid, false},
		{"exp not a number", nil, sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "alice", "exp": "soon"}), ErrMalformed, false},
		{"no sub", nil, sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"exp": now.Add(time.Hour).Unix()}), ErrNoSubject, false},
		{"wrong secret", nil, sign(t, jwt.SigningMethodHS256, other.secret, valid), ErrSignature, false},
		{"wrong RSA key", &k.rsa.PublicKey, sign(t, jwt.SigningMethodRS256, other.rsa, valid), ErrSignature, false},
		{"wrong EC key", &k.ec.PublicKey, sign(t, jwt.SigningMethodES256, other.ec, valid), ErrSignature, false},
		{"wrong Ed25519 key", k.ed.Public(), sign(t, jwt.SigningMethodEdDSA, other.ed, valid), ErrSignature, false},
		{"none", &k.rsa.PublicKey, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), ErrAlgorithm, false},
		{"none, secret only", nil, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), ErrAlgorithm, false},
		// Algorithm confusion: HMAC keyed with the public key's PEM, which
		// anyone has; a verifier that fed its public key to HMAC would pass it.
		{"HS256 keyed with the public key", &k.rsa.PublicKey, sign(t, jwt.SigningMethodHS256, rsaPEM, valid), ErrAlgorithm, false},
		{"RS256 to a secret-only verifier", nil, sign(t, jwt.SigningMethodRS256, k.rsa, valid), ErrAlgorithm, false},
		{"ES256 to an RSA verifier", &k.rsa.PublicKey, sign(t, jwt.SigningMethodES256, k.ec, valid), ErrAlgorithm, false},
		{"malformed", nil, "not.a.jwt", ErrMalformed, false},
		{"two segments", nil, "abc.def", ErrMalformed, false},
		{"missing", nil, "", ErrNoToken, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := Options{PublicKey: tc.pub, Now: func() time.Time { return now }}
			if tc.pub == nil {
				o.Secret = k.secret
			}
			v, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(tc.token)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify: err = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			if c.Subject != "alice" {
				t.Errorf("Subject = %q, want alice", c.Subject)
			}
			if got := !c.Expires.IsZero(); got != tc.expiry || (got && !c.Expires.Equal(now.Add(time.Hour))) {
				t.Errorf("Expires = %v, want an hour from now: %v", c.Expires, tc.expiry)
			}
		})
	}
}

// With both a secret and a public key, each algorithm still gets only its
// own key: HMAC with the public key as secret is refused.
func TestVerifyBothKeys(t *testing.T) {
	k := newKeys(t)
	v, err := New(Options{Secret: k.secret, PublicKey: &k.rsa.PublicKey})
	if err != nil {
		t.Fatal(err)
	}
	claims := jwt.MapClaims{"sub": "bob"}
	for _, tok := range []string{sign(t, jwt.SigningMethodHS512, k.secret, claims), sign(t, jwt.SigningMethodRS512, k.rsa, claims)} {
		if c, err := v.Verify(tok); err != nil || c.Subject != "bob" {
			t.Errorf("Verify = %+v, %v; want bob", c, err)
		}
	}
	forged := sign(t, jwt.SigningMethodHS256, pemOf(t, &k.rsa.PublicKey), claims)
	if _, err := v.Verify(forged); !errors.Is(err, ErrSignature) {
		t.Errorf("HS256 keyed with the public key: err = %v, want %v", err, ErrSignature)
	}
}

func TestVerifyErrorsNeverQuoteToken(t *testing.T) {
	k := newKeys(t)
	v, _ := New(Options{Secret: k.secret})
	for _, tok := range []string{
		sign(t, jwt.SigningMethodHS256, k.secret, jwt.MapClaims{"sub": "a", "exp": 1}),
		sign(t, jwt.SigningMethodHS256, []byte("wrong"), jwt.MapClaims{"sub": "a"}),
		"eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl",
		"eyJhbGciOiJIUzI1NiJ9",
	} {
		_, err := v.Verify(tok)
		if err == nil {
			t.Fatalf("Verify(%q) passed", tok)
		}
		for _, part := range []string{tok, "eyJhbGciOiJIUzI1NiJ9", "c2lnbmF0dXJl"} {
			if strings.Contains(err.Error(), part) {
				t.Errorf("error %q quotes the token", err)
			}
		}
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a key succeeded")
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	if _, err := New(Options{PublicKey: &p224.PublicKey}); err == nil {
		t.Error("New with a P-224 key succeeded")
	}
}

func TestTokenFrom(t *testing.T) {
	cases := []struct {
		query  string
		header http.Header
		want   string
		err    error
	}{
		{"token=abc", nil, "abc", nil},
		{"a=1&token=abc", http.Header{"Authorization": {"Bearer zzz"}}, "abc", nil},
		{"", http.Header{"Authorization": {"Bearer zzz"}}, "zzz", nil},
		{"", http.Header{"Authorization": {"bearer  zzz "}}, "zzz", nil},
		{"", nil, "", ErrNoToken},
		{"token=", nil, "", ErrNoToken},
		{"token=a&token=b", nil, "", ErrNoToken},
		{"", http.Header{"Authorization": {"Basic dXNlcjpwdw=="}}, "", ErrNoToken},
		{"", http.Header{"Authorization": {"Bearer"}}, "", ErrNoToken},
		{"", http.Header{"Authorization": {"Bearer a", "Bearer b"}}, "", ErrNoToken},
	}
	for _, tc := range cases {
		q, _ := url.ParseQuery(tc.query)
		got, err := TokenFrom(q, tc.header)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("TokenFrom(%q, %v) = %q, %v; want %q, %v", tc.query, tc.header, got, err, tc.want, tc.err)
		}
	}
}

func TestReadKeyFiles(t *testing.T) {
	k := newKeys(t)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	s, err := ReadSecretFile(write("secret", append(append([]byte("  \n"), k.secret...), "\n"...)))
	if err != nil || string(s) != string(k.secret) {
		t.Errorf("ReadSecretFile = %q, %v; want the trimmed secret", s, err)
	}
	if _, err := ReadSecretFile(write("short", []byte("short\n"))); err == nil {
		t.Error("a 5-byte secret was accepted")
	}
	if _, err := ReadSecretFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file was accepted")
	}
	for _, pub := range []crypto.PublicKey{&k.rsa.PublicKey, &k.ec.PublicKey, k.ed.Public()} {
		got, err := ReadPublicKeyFile(write("pub.pem", pemOf(t, pub)))
		if err != nil {
			t.Fatalf("ReadPublicKeyFile(%T): %v", pub, err)
		}
		if !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
			t.Errorf("ReadPublicKeyFile(%T) read another key", pub)
		}
	}
	pkcs1 := pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&k.rsa.PublicKey)})
	if _, err := ReadPublicKeyFile(write("pkcs1.pem", pkcs1)); err != nil {
		t.Errorf("PKCS #1 key: %v", err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k.ec)
	priv := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if _, err := ReadPublicKeyFile(write("priv.pem", priv)); err == nil {
		t.Error("a private key was accepted as the public key")
	}
	if _, err := ReadPublicKeyFile(write("junk.pem", []byte("junk"))); err == nil {
		t.Error("a file without PEM was accepted")
	}
}

// BenchmarkVerify is the CPU a handshake's token check costs, per
// algorithm: what a client can make a worker spend per upgrade.
func BenchmarkVerify(b *testing.B) {
	k := newKeys(b)
	claims := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}
	for _, bc := range []struct {
		name string
		m    jwt.SigningMethod
		sign any
		o    Options
	}{
		{"HS256", jwt.SigningMethodHS256, k.secret, Options{Secret: k.secret}},
		{"RS256", jwt.SigningMethodRS256, k.rsa, Options{PublicKey: &k.rsa.PublicKey}},
		{"ES256", jwt.SigningMethodES256, k.ec, Options{PublicKey: &k.ec.PublicKey}},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed, Options{PublicKey: k.ed.Public()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			v, err := New(bc.o)
			if err != nil {
				b.Fatal(err)
			}
			tok := sign(b, bc.m, bc.sign, claims)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
