// Package secretbox encrypts secrets at rest with AES-256-GCM under one key
// (SECRETS_KEY), so a copy of the database alone does not give them away.
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/usersvc/usersvc/ports"
)

// KeyLen is the key size: AES-256.
const KeyLen = 32

// prefix versions the format, so that another algorithm or key can follow.
const prefix = "v1:"

// Box implements ports.SecretBox. Each sealed value is prefix, then the
// base64 (raw URL) of a random 96-bit nonce and the ciphertext with its tag;
// the label is the additional authenticated data.
type Box struct {
	aead cipher.AEAD
}

var _ ports.SecretBox = (*Box)(nil)

// New returns a box under key, which must be KeyLen random bytes.
func New(key []byte) (*Box, error) {
	if len(key) != KeyLen {
		return nil, fmt.Errorf("secrets key must be %d bytes, got %d", KeyLen, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead: aead}, nil
}

// ParseKey decodes a key written in base64 (standard or URL alphabet,
// padded or not), as SECRETS_KEY is.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeyLen {
				return nil, fmt.Errorf("secrets key must decode to %d bytes, got %d", KeyLen, len(b))
			}
			return b, nil
		}
	}
	return nil, errors.New("secrets key is not base64")
}

// NewKey makes a random key, base64-encoded as ParseKey reads it.
func NewKey() string {
	b := make([]byte, KeyLen)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return base64.StdEncoding.EncodeToString(b)
}

// Seal implements ports.SecretBox.
func (b *Box) Seal(plaintext []byte, label string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := b.aead.Seal(nonce, nonce, plaintext, []byte(label))
	return prefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// errOpen says nothing about why: a wrong key, label or tampered value look alike.
var errOpen = errors.New("secretbox: cannot open the sealed value (wrong key or label, or tampered)")

// Open implements ports.SecretBox.
func (b *Box) Open(sealed, label string) ([]byte, error) {
	rest, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, errOpen
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil || len(raw) < b.aead.NonceSize()+b.aead.Overhead() {
		return nil, errOpen
	}
	n := b.aead.NonceSize()
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(label))
	if err != nil {
		return nil, errOpen
	}
	return plain, nil
}
