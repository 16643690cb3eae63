package worker

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/wsfleet/wsfleet/internal/ratelog"
	"github.com/wsfleet/wsfleet/pkg/app"
	"github.com/wsfleet/wsfleet/pkg/auth"
	"github.com/wsfleet/wsfleet/pkg/gateway"
)

// admission is what the worker's admission learned about a connection;
// the gateway hands it to OnOpen as the connection's Value, and OnOpen
// keeps only what the connection needs later.
type admission struct {
	token     auth.Claims       // zero without -jwt-*
	value     any               // the application's Admit value
	header    map[string]string // the -events-headers the request had
	handshake *app.Handshake    // for app.Conn.Handshake while OnOpen runs
}

// admitter is the worker's gateway.Options.Admit, for every upgrade: the
// connection token, the headers an open event may carry, the request as
// the application sees it (app.Handshake), then the application's Admit.
type admitter struct {
	tokens  *tokens      // nil without -jwt-*; drops the token from the URI
	app     app.Admitter // nil when the application is none
	events  bool         // -events or -webhook: keep the allowed headers
	headers []string     // -events-headers, canonical names
}

func (a *admitter) admit(r *gateway.Request) (any, error) {
	adm := &admission{}
	if a.tokens != nil {
		c, err := a.tokens.check(r)
		if err != nil {
			return nil, err
		}
		adm.token = c
	}
	if a.events {
		adm.header = pickHeaders(r, a.headers)
	}
	// The request's Header map is the request's own: the connection keeps
	// it, not a copy, until its OnOpen returns.
	adm.handshake = &app.Handshake{
		URI: r.URI, Host: r.Host, Header: r.Header, RemoteAddr: r.RemoteAddr,
		Subprotocol: r.Subprotocol, User: adm.token.Subject,
	}
	if a.app != nil {
		v, err := a.app.Admit(adm.handshake)
		var rf *app.Refusal
		switch {
		case errors.As(err, &rf):
			return nil, &gateway.Refusal{Status: rf.Status, Reason: rf.Reason}
		case err != nil:
			return nil, err // the gateway logs it and answers 500
		}
		adm.value = v
	}
	return adm, nil
}

// pickHeaders copies the allowed headers of r (issue 11: an open event
// used to carry every header, cookies and tokens included, to whoever
// subscribed). Repeated headers are joined with ", ".
func pickHeaders(r *gateway.Request, allowed []string) map[string]string {
	var out map[string]string
	for _, k := range allowed {
		v := r.Header.Values(k)
		if k == "Host" && r.Host != "" {
			v = []string{r.Host}
		}
		if len(v) == 0 {
			continue
		}
		if out == nil {
			out = make(map[string]string, len(allowed))
		}
		joined := v[0]
		for _, s := range v[1:] {
			joined += ", " + s
		}
		out[k] = joined
	}
	return out
}

// tokens checks connection tokens (-jwt-secret-file, -jwt-key-file): at
// the handshake, and when an application refreshes one.
type tokens struct {
	verifier    *auth.Verifier
	expireClose bool // -jwt-expire-close
	log         *slog.Logger
	refusals    ratelog.Limiter // Burst rateLogBurst

	mu    sync.Mutex
	conns map[*gateway.Conn]*tokenState // open connections with a token
}

// check finds and verifies the token of an upgrade request; a refusal is
// a 401 (RFC 6750 §3) and one log line saying why, never with the token.
func (t *tokens) check(r *gateway.Request) (auth.Claims, error) {
	q := url.Values{}
	if u, err := url.ParseRequestURI(r.URI); err == nil {
		q = u.Query()
	}
	tok, err := auth.TokenFrom(q, r.Header)
	var c auth.Claims
	if err == nil {
		c, err = t.verifier.Verify(tok)
	}
	if err == nil {
		if q.Has("token") {
			r.URI = withoutToken(r.URI)
		}
		return c, nil
	}
	if ok, dropped := t.refusals.Allow(time.Now()); ok {
		t.log.Info("upgrade refused: connection token", "remote", r.RemoteAddr, "path", pathOf(r.URI),
			"why", err.Error(), "unlogged_refusals", dropped)
	}
	challenge := `Bearer`
	if !errors.Is(err, auth.ErrNoToken) {
		challenge = `Bearer error="invalid_token"`
	}
	return c, &gateway.Refusal{Status: http.StatusUnauthorized, Reason: reasonOf(err),
		Header: http.Header{"Www-Authenticate": {challenge}}}
}

// reasonOf is the short reason a refused client is told.
func reasonOf(err error) string {
	for _, s := range []error{auth.ErrNoToken, auth.ErrMalformed, auth.ErrAlgorithm, auth.ErrSignature,
		auth.ErrExpired, auth.ErrNotYetValid, auth.ErrNoSubject, auth.ErrClaims} {
		if errors.Is(err, s) {
			return s.Error()[len("auth: "):]
		}
	}
	return "invalid token"
}

// withoutToken is uri without its token parameter: the connection keeps
// its URI (the gateway's Conn.RequestURI, -events' open events), and a
// credential has no business staying in memory or on the bus once checked.
func withoutToken(uri string) string {
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return pathOf(uri)
	}
	q := u.Query()
	q.Del("token")
	u.RawQuery = q.Encode()
	return u.RequestURI()
}

// pathOf is uri without its query, which may hold the token.
func pathOf(uri string) string {
	if u, err := url.ParseRequestURI(uri); err == nil {
		return u.Path
	}
	return ""
}

// rateLogBurst is how many token refusals a second a worker logs: a
// client retrying bad tokens in a loop cannot flood the log.
const rateLogBurst = 10
