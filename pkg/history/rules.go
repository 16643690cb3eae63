package history

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rule keeps the rooms whose names match Pattern (or, with User, the
// messages to the users whose names match it): the last Count messages of
// each, none older than Age.
type Rule struct {
	// Pattern is a room name in which '*' matches any run of characters.
	Pattern string
	Count   int
	Age     time.Duration
	// User: the rule is for users (written with a leading '@' in
	// -history), not rooms.
	User bool
}

// Rules are tried in order; the first whose pattern matches a room is its.
type Rules []Rule

// Limits of a rule.
const (
	// MaxCount is the most messages a rule may keep per room: a replay
	// reads at most that many.
	MaxCount = 10000
	// MaxAge is the longest a rule may keep a message.
	MaxAge = 30 * 24 * time.Hour
)

// ParseRules parses -history: 'PATTERN=COUNT,AGE;...', e.g.
// 'lobby*=200,10m;*=100,1h;@*=100,1h'. A pattern with a leading '@' is for
// users (the messages sent to a user whose name matches the rest), the
// others for rooms. "" and "off" keep nothing.
func ParseRules(s string) (Rules, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return nil, nil
	}
	var rs Rules
	for part := range strings.SplitSeq(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		pat, lim, ok := strings.Cut(part, "=")
		pat = strings.TrimSpace(pat)
		if !ok || pat == "" {
			return nil, fmt.Errorf("%q: want PATTERN=COUNT,AGE", part)
		}
		cs, as, ok := strings.Cut(lim, ",")
		if !ok {
			return nil, fmt.Errorf("%q: want PATTERN=COUNT,AGE", part)
		}
		n, err := strconv.Atoi(strings.TrimSpace(cs))
		if err != nil || n < 1 || n > MaxCount {
			return nil, fmt.Errorf("%q: the count must be 1 to %d", part, MaxCount)
		}
		age, err := time.ParseDuration(strings.TrimSpace(as))
		if err != nil || age < time.Second || age > MaxAge {
			return nil, fmt.Errorf("%q: the age must be a duration from 1s to %s", part, MaxAge)
		}
		user := strings.HasPrefix(pat, "@")
		if user {
			pat = pat[1:]
			if pat == "" {
				return nil, fmt.Errorf("%q: want @PATTERN=COUNT,AGE for users", part)
			}
		}
		rs = append(rs, Rule{Pattern: pat, Count: n, Age: age, User: user})
	}
	return rs, nil
}

// Match returns the rule of room, and false when none matches.
func (rs Rules) Match(room string) (Rule, bool) { return rs.match(room, false) }

// MatchUser returns the rule of the messages to user uid, and false when
// none matches.
func (rs Rules) MatchUser(uid string) (Rule, bool) { return rs.match(uid, true) }

func (rs Rules) match(name string, user bool) (Rule, bool) {
	for _, r := range rs {
		if r.User == user && glob(r.Pattern, name) {
			return r, true
		}
	}
	return Rule{}, false
}

// limits are the stream's: the largest count and the longest age.
func (rs Rules) limits() (count int, age time.Duration) {
	for _, r := range rs {
		count, age = max(count, r.Count), max(age, r.Age)
	}
	return count, age
}

// glob matches name against pattern, where '*' matches any run of
// characters (none included) and every other character itself.
func glob(pattern, name string) bool {
	first, rest, star := strings.Cut(pattern, "*")
	if !star {
		return pattern == name
	}
	if !strings.HasPrefix(name, first) {
		return false
	}
	name = name[len(first):]
	for {
		if !strings.Contains(rest, "*") {
			return strings.HasSuffix(name, rest)
		}
		seg, more, _ := strings.Cut(rest, "*")
		i := strings.Index(name, seg)
		if i < 0 {
			return false
		}
		name, rest = name[i+len(seg):], more
	}
}
