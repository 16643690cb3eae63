package e2e

import (
	"bufio"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
)

// Client authentication end to end (issue 11, point 1): tokens signed
// here, with keys generated here, against a real cluster.

// tokenKit signs connection tokens for a test and writes the files the
// -jwt-* flags read.
type tokenKit struct {
	t      *testing.T
	dir    string
	secret []byte
}

func newTokenKit(t *testing.T) *tokenKit {
	// The secret is text, as an operator's file is: raw random bytes
	// may begin or end with a byte the server trims as white space.
	raw := make([]byte, 48)
	rand.Read(raw)
	return &tokenKit{t: t, dir: t.TempDir(), secret: []byte(hex.EncodeToString(raw))}
}

// secretFile writes the secret with the blank lines an editor leaves,
// which the server trims.
func (k *tokenKit) secretFile() string {
	return k.write("secret", append(append([]byte("\n"), k.secret...), "\n\n"...))
}

func (k *tokenKit) pubFile(name string, pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		k.t.Fatal(err)
	}
	return k.write(name, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func (k *tokenKit) write(name string, b []byte) string {
	p := filepath.Join(k.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		k.t.Fatal(err)
	}
	return p
}

// sign makes a token for sub expiring in ttl (none when 0), with extra
// claims.
func (k *tokenKit) sign(m jwt.SigningMethod, key any, sub string, ttl time.Duration, extra ...any) string {
	k.t.Helper()
	claims := jwt.MapClaims{"sub": sub}
	if ttl != 0 {
		claims["exp"] = time.Now().Add(ttl).Unix()
	}
	for i := 0; i+1 < len(extra); i += 2 {
		claims[extra[i].(string)] = extra[i+1]
	}
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		k.t.Fatal(err)
	}
	return s
}

func (k *tokenKit) hs256(sub string, ttl time.Duration) string {
	return k.sign(jwt.SigningMethodHS256, k.secret, sub, ttl)
}

// upgradeStatus sends an upgrade request on a raw socket and returns the
// HTTP status and body of the answer.
func upgradeStatus(t *testing.T, addr, path string, h http.Header) (int, string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", path, addr)
	h.Write(&b)
	b.WriteString("\r\n")
	if _, err := io.WriteString(nc, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatalf("upgrade %s: no HTTP answer: %v", path, err)
	}
	var body []byte
	if resp.StatusCode != http.StatusSwitchingProtocols {
		body, _ = io.ReadAll(io.LimitReader(resp.Body, 4096))
	}
	return resp.StatusCode, string(body)
}

// expectStatus checks the answer to an upgrade with token in the query.
func expectStatus(t *testing.T, addr, what, token string, want int) {
	t.Helper()
	path := "/"
	if token != "" {
		path = "/?token=" + token
	}
	if got, body := upgradeStatus(t, addr, path, http.Header{}); got != want {
		t.Errorf("%s: HTTP %d %q, want %d", what, got, body, want)
	}
}

// dialToken opens a client with token in the query.
func dialToken(t *testing.T, addr, token string) *wsClient {
	t.Helper()
	return dialWSWith(t, addr, "/?token="+token, nil)
}

// TestAuthTokens: with -jwt-secret-file and -jwt-key-file (RSA), each bad
// token gets 401 and a log line saying why (never the token); good ones
// of each algorithm connect; the token's user is bound before the chat app
// sees the connection and shows in `connections`; no one joins as someone
// else, and a name with a right-to-left override is refused.
func TestAuthTokens(t *testing.T) {
	k := newTokenKit(t)
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubPEM, _ := os.ReadFile(k.pubFile("rsa.pem", &rsaKey.PublicKey))
	c := startCluster(t, clusterOpts{count: 2, app: "chat", extra: []string{
		"-jwt-secret-file", k.secretFile(), "-jwt-key-file", filepath.Join(k.dir, "rsa.pem")}})

	other := newTokenKit(t)
	refused := map[string]string{
		"missing":                         "",
		"malformed":                       "not.a.token",
		"wrong secret":                    other.hs256("alice", time.Hour),
		"wrong RSA key":                   k.sign(jwt.SigningMethodRS256, otherRSA, "alice", time.Hour),
		"alg none":                        k.sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "alice", time.Hour),
		"HS256 keyed with the public key": k.sign(jwt.SigningMethodHS256, pubPEM, "alice", time.Hour),
		"expired":                         k.hs256("alice", -time.Minute),
		"not yet valid":                   k.sign(jwt.SigningMethodHS256, k.secret, "alice", time.Hour, "nbf", time.Now().Add(time.Hour).Unix()),
		"no sub":                          k.sign(jwt.SigningMethodHS256, k.secret, "", time.Hour),
	}
	for what, tok := range refused {
		expectStatus(t, c.addr, what, tok, http.StatusUnauthorized)
	}
	if got, body := upgradeStatus(t, c.addr, "/", http.Header{"Authorization": {"Bearer " + other.hs256("alice", time.Hour)}}); got != 401 ||
		!strings.Contains(body, "bad signature") {
		t.Errorf("bad Bearer token: %d %q, want 401 saying bad signature", got, body)
	}
	for what, tok := range map[string]string{
		"HS256": k.hs256("alice", time.Hour),
		"HS384": k.sign(jwt.SigningMethodHS384, k.secret, "alice", time.Hour),
		"HS512": k.sign(jwt.SigningMethodHS512, k.secret, "alice", time.Hour),
		"RS256": k.sign(jwt.SigningMethodRS256, rsaKey, "alice", time.Hour),
		"RS512": k.sign(jwt.SigningMethodRS512, rsaKey, "alice", 0),
	} {
		expectStatus(t, c.addr, what, tok, http.StatusSwitchingProtocols)
	}
	if got, _ := upgradeStatus(t, c.addr, "/", http.Header{"Authorization": {"Bearer " + k.hs256("alice", time.Hour)}}); got != 101 {
		t.Errorf("good Bearer token: %d, want 101", got)
	}

	// Each refusal is logged with its reason; no token reaches the log.
	waitFor(t, 20*time.Second, func() error {
		log, _ := os.ReadFile(c.fgOut)
		for _, why := range []string{"no token", "malformed token", "bad signature", "algorithm not allowed", "token expired", "token not valid yet", "token has no sub"} {
			if !strings.Contains(string(log), "upgrade refused: connection token") || !strings.Contains(string(log), why) {
				return fmt.Errorf("no refusal logged saying %q", why)
			}
		}
		return nil
	})
	log, _ := os.ReadFile(c.fgOut)
	for what, tok := range refused {
		if len(tok) > 20 && strings.Contains(string(log), tok[len(tok)-20:]) {
			t.Errorf("the %s token is in the log", what)
		}
	}

	alice := dialWSWith(t, c.addr, "/", ws.HandshakeHeaderHTTP(http.Header{"Authorization": {"Bearer " + k.hs256("alice", time.Hour)}}))
	bob := dialToken(t, c.addr, k.sign(jwt.SigningMethodRS256, rsaKey, "bob", time.Hour))
	mallory := dialToken(t, c.addr, k.hs256("mallory", time.Hour))

	// Bound before the app sees it: whoami answers the token's user at
	// once, and `connections` lists it.
	alice.sendChat(chatMsg{Type: "whoami"})
	if m := alice.expectChat("you"); m.Name != "alice" {
		t.Errorf("whoami = %+v, want alice", m)
	}
	rows := c.owners([]*wsClient{alice, bob, mallory})
	for cl, want := range map[*wsClient]string{alice: "alice", bob: "bob", mallory: "mallory"} {
		if rows[cl].User != want {
			t.Errorf("connections: %s's user = %q, want %q", cl.local, rows[cl].User, want)
		}
	}
	out := c.mustCLI("connections")
	if !strings.Contains(out, "mallory") || !strings.Contains(out, "user") {
		t.Errorf("connections table has no user column:\n%s", out)
	}

	// Alice and Bob join by their tokens' names; Mallory cannot be Alice.
	alice.sendChat(chatMsg{Type: "join", Room: "lobby"})
	alice.expectChat("joined")
	mallory.sendChat(chatMsg{Type: "join", Room: "lobby", Name: "alice"})
	if m := mallory.expectChat("error", "joined"); !strings.Contains(m.Error, `named "mallory"`) {
		t.Errorf("impostor's join: %+v, want refused", m)
	}
	mallory.sendChat(chatMsg{Type: "join", Room: "lobby", Name: "alice\u202eecila"})
	if m := mallory.expectChat("error"); !strings.Contains(m.Error, "U+202E") {
		t.Errorf("join with a right-to-left override: %+v, want refused naming U+202E", m)
	}
	bob.sendChat(chatMsg{Type: "join", Room: "lobby", Name: "bob"})
	bob.expectChat("joined", "joined")
	bob.sendChat(chatMsg{Type: "whisper", To: "alice", Text: "for alice only"})
	if m := alice.expectChat("whisper", "joined"); m.From != "bob" || m.Text != "for alice only" {
		t.Errorf("alice's whisper: %+v", m)
	}
	// Mallory, never joined as alice, gets nothing: a round trip of her
	// own comes back with no whisper before it.
	mallory.sendChat(chatMsg{Type: "whoami"})
	if m := mallory.expectChat("you"); m.Name != "mallory" {
		t.Errorf("mallory's whoami = %+v", m)
	}
	bob.sendChat(chatMsg{Type: "members", Room: "lobby"})
	if m := bob.expectChat("members", "joined"); fmt.Sprint(m.Names) != "[alice bob]" {
		t.Errorf("members = %v, want [alice bob]", m.Names)
	}
}

// TestAuthKeyAlgorithms: ES256 and EdDSA public keys, each: a good token
// connects, and a wrong key, alg none and HMAC keyed with the public key
// get 401.
func TestAuthKeyAlgorithms(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherEC, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	_, otherEd, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		alg        string
		method     jwt.SigningMethod
		key, wrong crypto.Signer
	}{
		{"ES256", jwt.SigningMethodES256, ec, otherEC},
		{"EdDSA", jwt.SigningMethodEdDSA, ed, otherEd},
	} {
		t.Run(tc.alg, func(t *testing.T) {
			k := newTokenKit(t)
			keyFile := k.pubFile("pub.pem", tc.key.Public())
			pubPEM, _ := os.ReadFile(keyFile)
			c := startCluster(t, clusterOpts{count: 1, extra: []string{"-jwt-key-file", keyFile}})
			cl := dialToken(t, c.addr, k.sign(tc.method, tc.key, "alice", time.Hour))
			cl.send("hi")
			cl.expect("hello hi")
			expectStatus(t, c.addr, "wrong key", k.sign(tc.method, tc.wrong, "alice", time.Hour), 401)
			expectStatus(t, c.addr, "alg none", k.sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, "alice", time.Hour), 401)
			expectStatus(t, c.addr, "HS256 keyed with the public key", k.sign(jwt.SigningMethodHS256, pubPEM, "alice", time.Hour), 401)
			expectStatus(t, c.addr, "expired", k.sign(tc.method, tc.key, "alice", -time.Second), 401)
			expectStatus(t, c.addr, "missing", "", 401)
		})
	}
}

// TestAuthExpireCloseAndEvents: -jwt-expire-close closes a connection with
// 4001 when its token expires, but not one whose app refreshed it; with
// -events-headers, an open event carries the named headers (Cookie
// included, since named), not the others, not the token, and the user.
func TestAuthExpireCloseAndEvents(t *testing.T) {
	k := newTokenKit(t)
	c := startCluster(t, clusterOpts{count: 1, app: "chat", extra: []string{"-jwt-secret-file", k.secretFile(),
		"-jwt-expire-close", "-events", "-events-headers", "x-app-token,Cookie"}})
	evs := subscribeEvents(t, c)

	// Both tokens expire at the same second, a few seconds ahead: long
	// enough for the handshakes and the refresh under load.
	exp := time.Now().Add(6 * time.Second)
	claims := func(sub string) jwt.MapClaims { return jwt.MapClaims{"sub": sub, "exp": exp.Unix()} }
	short := func(sub string) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(sub)).SignedString(k.secret)
		return s
	}
	hdr := ws.HandshakeHeaderHTTP(http.Header{"X-App-Token": {"t0k"}, "Cookie": {"sid=s3"}, "User-Agent": {"e2e"}})
	tok := short("ann")
	expiring := dialWSWith(t, c.addr, "/chat?room=r1&token="+tok, hdr)
	var open backendEvent
	select {
	case open = <-evs:
	case <-time.After(20 * time.Second):
		t.Fatal("no open event")
	}
	if open.UID != "ann" || open.Header["X-App-Token"] != "t0k" || open.Header["Cookie"] != "sid=s3" ||
		open.Header["User-Agent"] != "" || len(open.Header) != 2 {
		t.Errorf("open event: uid %q, header %v; want ann and only X-App-Token and Cookie", open.UID, open.Header)
	}
	if strings.Contains(open.URI, tok) || open.Query["token"] != nil || open.Query["room"][0] != "r1" {
		t.Errorf("open event carries the token, or lost the rest: uri %q, query %v", open.URI, open.Query)
	}

	refreshed := dialToken(t, c.addr, short("ben"))
	refreshed.sendChat(chatMsg{Type: "refresh", Token: short("ann")})
	if m := refreshed.expectChat("error"); !strings.Contains(m.Error, "another user") {
		t.Errorf("refresh with another user's token: %+v", m)
	}
	refreshed.sendChat(chatMsg{Type: "refresh", Token: k.hs256("ben", time.Hour)})
	if m := refreshed.expectChat("refreshed"); m.Expires == "" {
		t.Errorf("refresh answer %+v, want its expiry", m)
	}

	ev := expiring.expectClose(30*time.Second, 4001)
	if ev.reason != "token expired" {
		t.Errorf("close reason %q, want \"token expired\"", ev.reason)
	}
	if time.Now().Before(exp.Truncate(time.Second)) {
		t.Errorf("closed before the token's exp")
	}
	// Past the first token's exp, the refreshed connection still answers.
	refreshed.sendChat(chatMsg{Type: "whoami"})
	if m := refreshed.expectChat("you"); m.Name != "ben" {
		t.Errorf("whoami after the old exp = %+v", m)
	}
}

// TestEventsCarryNoHeadersByDefault: without -events-headers, an open
// event carries no header at all: not the cookies, not Authorization.
func TestEventsCarryNoHeadersByDefault(t *testing.T) {
	c := startCluster(t, clusterOpts{count: 1, app: "none", extra: []string{"-events"}})
	evs := subscribeEvents(t, c)
	dialWSWith(t, c.addr, "/x?room=1", ws.HandshakeHeaderHTTP(http.Header{
		"Cookie": {"sid=secret"}, "Authorization": {"Bearer abc"}, "X-App-Token": {"t0k"}}))
	select {
	case open := <-evs:
		if len(open.Header) != 0 || open.URI != "/x?room=1" {
			t.Errorf("open event: header %v, uri %q; want no header", open.Header, open.URI)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no open event")
	}
}

// subscribeEvents subscribes a real NATS client to the cluster's open
// events.
func subscribeEvents(t *testing.T, c *cluster) <-chan backendEvent {
	t.Helper()
	nc := natsConnect(t, c.status().Master.NATSURL)
	evs := make(chan backendEvent, 16)
	if _, err := nc.Subscribe("wsfleet.events.open", func(m *nats.Msg) {
		var ev backendEvent
		if err := json.Unmarshal(m.Data, &ev); err != nil {
			t.Errorf("open event: %v", err)
		}
		evs <- ev
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return evs
}
