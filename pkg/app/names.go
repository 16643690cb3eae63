package app

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// chatName checks a chat name (or the name a whisper is sent to) and
// returns it in Unicode Normalization Form C, so that "é" typed as one
// code point or as "e" and a combining accent is one user (UAX #15).
//
// Refused, with the offending character named: control characters;
// invisible format characters, among them the bidirectional overrides and
// isolates that reverse what a name appears to say (U+202E) and the
// zero-width ones that make "alice" and "al\u200bice" two users who look
// alike (issue 11); separators other than a plain space, and a space at
// either end; private-use, surrogate and unassigned code points. Look-alike
// letters from other scripts (Cyrillic "а" for Latin "a") are not caught:
// that needs the confusables data of UTS #39, which this does not carry.
func chatName(field string, v *string) (string, error) {
	if v == nil || *v == "" {
		return "", fmt.Errorf("missing field %q", field)
	}
	name := norm.NFC.String(*v)
	if n := utf8.RuneCountInString(name); n > maxChatName {
		return "", fmt.Errorf("field %q longer than %d characters", field, maxChatName)
	}
	if strings.HasPrefix(name, " ") || strings.HasSuffix(name, " ") {
		return "", fmt.Errorf("field %q: a name may not start or end with a space", field)
	}
	for _, r := range name {
		if why := badNameRune(r); why != "" {
			return "", fmt.Errorf("field %q holds U+%04X %s, %s; names may not", field, r, runeName(r), why)
		}
	}
	return name, nil
}

// badNameRune says why r may not be in a name, or "".
func badNameRune(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "which stands for invalid UTF-8"
	case unicode.Is(unicode.Cc, r):
		return "a control character"
	case unicode.Is(unicode.Cf, r):
		return "an invisible format character (bidirectional control or zero-width)"
	case unicode.Is(unicode.Z, r) && r != ' ':
		return "a separator other than a plain space"
	case unicode.Is(unicode.Co, r) || unicode.Is(unicode.Cs, r):
		return "a private-use or surrogate code point"
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Zs):
		return "an unassigned code point"
	}
	return ""
}

// runeName is r's Unicode name, when it has one.
func runeName(r rune) string {
	if n := runenames.Name(r); n != "" && !strings.HasPrefix(n, "<") {
		return "(" + n + ")"
	}
	return ""
}
