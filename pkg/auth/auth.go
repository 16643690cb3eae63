package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Why a token was refused. Verify's errors wrap one of these.
var (
	// ErrNoToken: the request carries no token.
	ErrNoToken = errors.New("auth: no token")
	// ErrMalformed: the token is not a well-formed JWT (a registered
	// claim of the wrong type, such as a text exp, included).
	ErrMalformed = errors.New("auth: malformed token")
	// ErrAlgorithm: the token's algorithm is not one the keys allow
	// ("none", or HMAC without a secret, or a public-key algorithm that
	// does not match the key).
	ErrAlgorithm = errors.New("auth: algorithm not allowed")
	// ErrSignature: the signature does not verify with the key.
	ErrSignature = errors.New("auth: bad signature")
	// ErrExpired: the token's exp has passed.
	ErrExpired = errors.New("auth: token expired")
	// ErrNotYetValid: the token's nbf or iat is in the future.
	ErrNotYetValid = errors.New("auth: token not valid yet")
	// ErrNoSubject: the token has no sub, so names no user.
	ErrNoSubject = errors.New("auth: token has no sub")
	// ErrClaims: the claims fail another of the library's checks.
	ErrClaims = errors.New("auth: bad claims")
)

// Options configures a Verifier; at least one key is required.
type Options struct {
	// Secret is the HMAC key of HS256, HS384 and HS512 tokens.
	Secret []byte
	// PublicKey verifies RS256/384/512 (*rsa.PublicKey), ES256/384/512
	// (*ecdsa.PublicKey on P-256, P-384, P-521 respectively) or EdDSA
	// (ed25519.PublicKey) tokens.
	PublicKey crypto.PublicKey
	// Now is the clock exp and nbf are checked against. Default time.Now.
	Now func() time.Time
}

// Claims is what a verified token says.
type Claims struct {
	// Subject is the token's sub: the user the connection belongs to.
	Subject string
	// Expires is the token's exp; zero when it has none.
	Expires time.Time
}

// Verifier checks connection tokens.
type Verifier struct {
	secret []byte
	pub    crypto.PublicKey
	parser *jwt.Parser
}

// New returns a Verifier for opts' keys.
func New(opts Options) (*Verifier, error) {
	var methods []string
	if len(opts.Secret) > 0 {
		methods = append(methods, "HS256", "HS384", "HS512")
	}
	if opts.PublicKey != nil {
		m, err := methodsFor(opts.PublicKey)
		if err != nil {
			return nil, err
		}
		methods = append(methods, m...)
	}
	if len(methods) == 0 {
		return nil, errors.New("auth: no key: set a secret or a public key")
	}
	popts := []jwt.ParserOption{jwt.WithValidMethods(methods)}
	if opts.Now != nil {
		popts = append(popts, jwt.WithTimeFunc(opts.Now))
	}
	return &Verifier{secret: opts.Secret, pub: opts.PublicKey, parser: jwt.NewParser(popts...)}, nil
}

// methodsFor lists the algorithms a public key verifies.
func methodsFor(k crypto.PublicKey) ([]string, error) {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512"}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}, nil
		case elliptic.P384():
			return []string{"ES384"}, nil
		case elliptic.P521():
			return []string{"ES512"}, nil
		}
		return nil, fmt.Errorf("auth: unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return []string{"EdDSA"}, nil
	}
	return nil, fmt.Errorf("auth: unsupported public key type %T", k)
}

// key picks the key for t's algorithm: the secret for HMAC, the public key
// for the rest, never one for the other (RFC 8725 §2.1, §3.1).
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if _, hmac := t.Method.(*jwt.SigningMethodHMAC); hmac {
		return v.secret, nil
	}
	return v.pub, nil
}

// Verify checks token's signature, exp and nbf, and returns its claims.
func (v *Verifier) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, ErrNoToken
	}
	var rc jwt.RegisteredClaims
	if _, err := v.parser.ParseWithClaims(token, &rc, v.key); err != nil {
		return Claims{}, classify(err)
	}
	if rc.Subject == "" {
		return Claims{}, ErrNoSubject
	}
	c := Claims{Subject: rc.Subject}
	if rc.ExpiresAt != nil {
		c.Expires = rc.ExpiresAt.Time
	}
	return c, nil
}

// classify maps the library's error onto ours, keeping its detail (which
// never quotes the token).
func classify(err error) error {
	var sentinel error
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		sentinel = ErrExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		sentinel = ErrNotYetValid
	case errors.Is(err, jwt.ErrTokenMalformed):
		sentinel = ErrMalformed
	case errors.Is(err, jwt.ErrTokenSignatureInvalid) && strings.Contains(err.Error(), "signing method"):
		sentinel = ErrAlgorithm // not in WithValidMethods
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		sentinel = ErrSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		sentinel = ErrAlgorithm // an algorithm the library does not know
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		sentinel = ErrClaims
	default:
		sentinel = ErrMalformed
	}
	return fmt.Errorf("%w (%v)", sentinel, err)
}

// TokenFrom finds the connection token of an upgrade request: the "token"
// query parameter (a browser's WebSocket API and a mini-program cannot
// always set headers), else an "Authorization: Bearer" header. It returns
// ErrNoToken when there is neither, or when there are several.
func TokenFrom(q url.Values, h http.Header) (string, error) {
	if ts, ok := q["token"]; ok {
		if len(ts) != 1 || ts[0] == "" {
			return "", fmt.Errorf("%w: want exactly one non-empty token parameter", ErrNoToken)
		}
		return ts[0], nil
	}
	a := h.Values("Authorization")
	if len(a) == 0 {
		return "", ErrNoToken
	}
	scheme, tok, ok := strings.Cut(strings.TrimSpace(a[0]), " ")
	if len(a) != 1 || !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return "", fmt.Errorf("%w: Authorization is not one \"Bearer <token>\"", ErrNoToken)
	}
	return strings.TrimSpace(tok), nil
}
