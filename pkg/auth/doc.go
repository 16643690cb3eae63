// Package auth verifies connection tokens: JSON Web Tokens (RFC 7519) that
// an application's backend signs for a client, which the client presents
// when it opens a WebSocket connection, as Centrifugo's connection tokens.
//
// A Verifier holds the keys: an HMAC secret (HS256, HS384, HS512) and/or a
// public key (RS256/384/512 for RSA, ES256/384/512 for ECDSA by curve, EdDSA
// for Ed25519). Each algorithm is checked only with its own kind of key, so a
// token signed with HMAC using the public key as the secret (algorithm
// confusion) and one with "alg": "none" are refused. Verify returns the
// token's subject (the user id, required) and expiry (optional: a token
// without "exp" never expires); TokenFrom finds the token in an upgrade
// request.
//
// A Verifier is immutable and safe for concurrent use. Its errors never
// contain the token, so they can be logged.
package auth
