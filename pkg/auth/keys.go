package auth

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
)

// ReadSecretFile reads an HMAC secret: the file's content with surrounding
// white space trimmed (so an editor's final newline is not part of it).
// An empty secret is refused, and so is one shorter than 32 bytes: RFC 7518
// §3.2 requires a key at least as long as the hash (256 bits for HS256).
func ReadSecretFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: secret: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) < 32 {
		return nil, fmt.Errorf("auth: secret in %s is %d bytes; at least 32 are needed (RFC 7518 §3.2)", path, len(b))
	}
	return b, nil
}

// ReadPublicKeyFile reads a PEM "PUBLIC KEY" (PKIX: RSA, ECDSA or Ed25519)
// or "RSA PUBLIC KEY" (PKCS #1) block.
func ReadPublicKeyFile(path string) (crypto.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth: public key: %w", err)
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return k, nil
}

// ParsePublicKey parses the first PEM block of b as a public key that
// Options.PublicKey takes.
func ParsePublicKey(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("auth: public key: no PEM block")
	}
	var k crypto.PublicKey
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		k, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		k, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("auth: public key: PEM block is %q, want \"PUBLIC KEY\"", blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: public key: %w", err)
	}
	if _, err := methodsFor(k); err != nil {
		return nil, err
	}
	return k, nil
}
