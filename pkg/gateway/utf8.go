package gateway

import "unicode/utf8"

// utf8State validates a text message chunk by chunk, as its bytes arrive
// (RFC 6455 §8.1: "fail fast"; Autobahn cases 6.4.1-6.4.4): a message fails
// at the first byte after which no valid UTF-8 can follow, not at its end.
// Between chunks it carries the message's trailing incomplete sequence (at
// most three bytes), so a character split across fragments or partial
// frames is checked whole.
type utf8State struct {
	n   uint8   // bytes carried in b
	b   [3]byte // an incomplete sequence, a valid prefix of a character
	bad bool    // a chunk was invalid; the state stays failed
}

// feed validates the next chunk of a message and reports whether the
// message is still valid so far.
func (s *utf8State) feed(p []byte) bool {
	if s.bad {
		return false
	}
	if s.n > 0 {
		// Complete the carried character with the chunk's first bytes.
		var r [utf8.UTFMax]byte
		k := copy(r[:], s.b[:s.n])
		want := seqLen(r[0])
		take := min(want-k, len(p))
		copy(r[k:], p[:take])
		p = p[take:]
		if k+take < want {
			return s.carry(r[:k+take])
		}
		if !utf8.FullRune(r[:want]) || !utf8.Valid(r[:want]) {
			s.bad = true
			return false
		}
		s.n = 0
	}
	if utf8.Valid(p) { // the common case: whole characters only
		return true
	}
	// Find where the trailing incomplete sequence, if any, starts.
	start := len(p)
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax+1; i-- {
		if !utf8.RuneStart(p[i]) {
			continue
		}
		if seqLen(p[i]) > len(p)-i {
			start = i
		}
		break
	}
	if start == len(p) || !utf8.Valid(p[:start]) {
		s.bad = true
		return false
	}
	return s.carry(p[start:])
}

// carry keeps q, an incomplete sequence, if it can still become a valid
// character; otherwise the message has failed.
func (s *utf8State) carry(q []byte) bool {
	if !validPrefix(q) {
		s.bad = true
		return false
	}
	s.n = uint8(copy(s.b[:], q))
	return true
}

// done reports whether the message ended on a character boundary, and
// resets s for the next message.
func (s *utf8State) done() bool {
	ok := !s.bad && s.n == 0
	*s = utf8State{}
	return ok
}

// seqLen is the length of the sequence a lead byte starts, 1 for an
// invalid lead byte (which utf8.Valid then rejects).
func seqLen(b byte) int {
	switch {
	case b >= 0xc2 && b <= 0xdf:
		return 2
	case b >= 0xe0 && b <= 0xef:
		return 3
	case b >= 0xf0 && b <= 0xf4:
		return 4
	}
	return 1
}

// validPrefix reports whether q (shorter than its lead byte announces) can
// be completed into a valid character: the second byte's range depends on
// the lead byte (RFC 3629 §4: no overlong forms, no surrogates, nothing
// above U+10FFFF), every later one is 0x80-0xBF.
func validPrefix(q []byte) bool {
	if len(q) == 0 || len(q) >= seqLen(q[0]) {
		return false
	}
	lo, hi := byte(0x80), byte(0xbf)
	switch q[0] {
	case 0xe0:
		lo = 0xa0
	case 0xed:
		hi = 0x9f
	case 0xf0:
		lo = 0x90
	case 0xf4:
		hi = 0x8f
	}
	for i, b := range q[1:] {
		if i > 0 {
			lo, hi = 0x80, 0xbf
		}
		if b < lo || b > hi {
			return false
		}
	}
	return true
}
