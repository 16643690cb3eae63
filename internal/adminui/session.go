package adminui

import (
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// session is one signed-in page. Its token is the cookie's value and is
// never logged; ID names it in the logs.
type session struct {
	ID      string
	expires time.Time
}

// sessions keeps the signed-in sessions in memory, at most max: a new one
// beyond that replaces the one that expires first.
type sessions struct {
	mu  sync.Mutex
	m   map[string]session // by token
	max int
	ttl time.Duration
	now func() time.Time
}

func newSessions(max int, ttl time.Duration, now func() time.Time) *sessions {
	return &sessions{m: make(map[string]session), max: max, ttl: ttl, now: now}
}

// randomHex is n random bytes, in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand's contract since Go 1.24)
	return hex.EncodeToString(b)
}

// create makes a session: its token (32 random bytes) and its log id.
func (s *sessions) create() (token string, sess session) {
	token = randomHex(32)
	sess = session{ID: randomHex(4), expires: s.now().Add(s.ttl)}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for t, v := range s.m {
		if !now.Before(v.expires) {
			delete(s.m, t)
		}
	}
	if len(s.m) >= s.max {
		var oldest string
		for t, v := range s.m {
			if oldest == "" || v.expires.Before(s.m[oldest].expires) {
				oldest = t
			}
		}
		delete(s.m, oldest)
	}
	s.m[token] = sess
	return token, sess
}

// get returns the live session of token.
func (s *sessions) get(token string) (session, bool) {
	if token == "" {
		return session{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[token]
	if !ok {
		return session{}, false
	}
	if !s.now().Before(v.expires) {
		delete(s.m, token)
		return session{}, false
	}
	return v, true
}

// remove ends token's session (logout).
func (s *sessions) remove(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, token)
}

// count is how many sessions are kept.
func (s *sessions) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}
