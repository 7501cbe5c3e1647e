package jwttoken

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

// The signing algorithms, one per key type: a key signs and verifies with
// the algorithm of its type and no other (RFC 8725 §3.1).
const (
	EdDSA = "EdDSA" // OKP Ed25519 (RFC 8037)
	ES256 = "ES256" // EC P-256
	RS256 = "RS256" // RSA of MinRSABits or more
)

// Algorithms lists the signing algorithms a key may have.
var Algorithms = []string{EdDSA, ES256, RS256}

// MinRSABits is the smallest RSA modulus accepted.
const MinRSABits = 2048

// rsaGenerateBits is the size of the RSA keys GenerateKey makes.
const rsaGenerateBits = 3072

// kidTimeLayout starts the kid of every generated key: its creation time
// (UTC, to the second), from which key rotation tells how long a key has
// been retired. A kid such as "20261205T101500Z-k7q2m4xa".
const kidTimeLayout = "20060102T150405Z"

// Key is a private signing key with its kid.
type Key struct {
	kid    string
	alg    string
	signer crypto.Signer
	method jwt.SigningMethod
}

// ID is the key's kid.
func (k Key) ID() string { return k.kid }

// Algorithm is the one JWS algorithm the key signs with.
func (k Key) Algorithm() string { return k.alg }

// Created is when the key was made, read from its kid; false for a key
// whose kid does not start with a creation time (one made elsewhere).
func (k Key) Created() (time.Time, bool) {
	prefix, _, _ := strings.Cut(k.kid, "-")
	t, err := time.Parse(kidTimeLayout, prefix)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// public is the key's public half.
func (k Key) public() crypto.PublicKey { return k.signer.Public() }

// MarshalJSON writes the private JWK, with kid, alg and use "sig".
func (k Key) MarshalJSON() ([]byte, error) {
	return json.Marshal(jose.JSONWebKey{Key: k.signer, KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
}

// publicJWK is the key's public JWK, as the JWKS endpoint shows it.
func (k Key) publicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.public(), KeyID: k.kid, Algorithm: k.alg, Use: "sig"}
}

// GenerateKey makes a key for alg (EdDSA, ES256 or RS256) whose kid
// records now as its creation time.
func GenerateKey(alg string, now time.Time) (Key, error) {
	var (
		signer crypto.Signer
		err    error
	)
	switch alg {
	case EdDSA:
		_, signer, err = ed25519.GenerateKey(rand.Reader)
	case ES256:
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		signer, err = rsa.GenerateKey(rand.Reader, rsaGenerateBits)
	default:
		return Key{}, fmt.Errorf("unknown signing algorithm %q: want %s", alg, strings.Join(Algorithms, ", "))
	}
	if err != nil {
		return Key{}, fmt.Errorf("generate %s key: %w", alg, err)
	}
	kid := now.UTC().Format(kidTimeLayout) + "-" + strings.ToLower(rand.Text()[:8])
	return newKey(kid, signer)
}

// newKey is the key of signer, with the algorithm its type dictates.
func newKey(kid string, signer crypto.Signer) (Key, error) {
	k := Key{kid: kid, signer: signer}
	switch s := signer.(type) {
	case ed25519.PrivateKey:
		k.alg, k.method = EdDSA, jwt.SigningMethodEdDSA
	case *ecdsa.PrivateKey:
		if s.Curve != elliptic.P256() {
			return Key{}, fmt.Errorf("EC keys must be on P-256, not %s", s.Curve.Params().Name)
		}
		k.alg, k.method = ES256, jwt.SigningMethodES256
	case *rsa.PrivateKey:
		if bits := s.N.BitLen(); bits < MinRSABits {
			return Key{}, fmt.Errorf("RSA keys must have at least %d bits, not %d", MinRSABits, bits)
		}
		s.Precompute()
		k.alg, k.method = RS256, jwt.SigningMethodRS256
	default:
		return Key{}, fmt.Errorf("unsupported key type %T", signer)
	}
	return k, nil
}

// KeySet is an ordered set of signing keys: the last one signs, every one
// verifies. Keys are in the order they were added.
type KeySet struct {
	keys []Key
}

// NewKeySet is the set of keys, in that order; kids must be unique.
func NewKeySet(keys ...Key) (*KeySet, error) {
	seen := map[string]bool{}
	for _, k := range keys {
		if k.kid == "" {
			return nil, errors.New("a key has no kid")
		}
		if seen[k.kid] {
			return nil, fmt.Errorf("two keys have the kid %q", k.kid)
		}
		seen[k.kid] = true
	}
	return &KeySet{keys: append([]Key(nil), keys...)}, nil
}

// Keys are the set's keys, oldest first.
func (s *KeySet) Keys() []Key { return append([]Key(nil), s.keys...) }

// Signer is the key that signs: the last one.
func (s *KeySet) Signer() (Key, bool) {
	if len(s.keys) == 0 {
		return Key{}, false
	}
	return s.keys[len(s.keys)-1], true
}

// MarshalJSON writes the private JWK Set.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	keys := s.keys
	if keys == nil {
		keys = []Key{}
	}
	return json.Marshal(struct {
		Keys []Key `json:"keys"`
	}{keys})
}

// Rotate returns the set with a new alg key appended, which signs from
// then on, and without the keys retired for longer than retention: a key
// is retired from the moment a newer key was added after it, so every
// token it signed has expired once retention (the access-token lifetime)
// has passed. A key whose retirement time is unknown (no later key records
// its creation time) is kept; the signing key always is.
func (s *KeySet) Rotate(alg string, now time.Time, retention time.Duration) (next *KeySet, added Key, dropped []Key, err error) {
	added, err = GenerateKey(alg, now)
	if err != nil {
		return nil, Key{}, nil, err
	}
	all := append(s.Keys(), added)
	// Walking back from the newest key, retiredAt is the earliest known
	// creation time of a key added after the one at hand: when it was
	// retired at the latest, since keys are appended in order.
	keep := make([]bool, len(all))
	var retiredAt time.Time
	for i := len(all) - 1; i >= 0; i-- {
		keep[i] = retiredAt.IsZero() || now.Sub(retiredAt) <= retention
		if created, ok := all[i].Created(); ok {
			retiredAt = created
		}
	}
	var kept []Key
	for i, k := range all {
		if keep[i] {
			kept = append(kept, k)
		} else {
			dropped = append(dropped, k)
		}
	}
	next, err = NewKeySet(kept...)
	if err != nil {
		return nil, Key{}, nil, err
	}
	return next, added, dropped, nil
}

// rawJWK is what ParseKeySet reads of a JWK before go-jose does, for
// clear refusals.
type rawJWK struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	Kid    *string  `json:"kid"`
	Alg    string   `json:"alg"`
	Use    string   `json:"use"`
	KeyOps []string `json:"key_ops"`
	D      string   `json:"d"`
}

// ParseKeySet reads a JWK Set of private signing keys: Ed25519 (OKP), EC
// P-256 or RSA of 2048 bits or more, each with a unique kid; alg and use,
// when present, must be the key type's algorithm and "sig". Any other key
// (a public one, a symmetric one, another curve) is refused, as is an
// empty set: a set that does not say what it means is not guessed at.
func ParseKeySet(data []byte) (*KeySet, error) {
	var raw struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if raw.Keys == nil || len(*raw.Keys) == 0 {
		return nil, errors.New(`not a JWK Set with keys: want {"keys":[…]} with at least one private key`)
	}
	keys := make([]Key, 0, len(*raw.Keys))
	for i, m := range *raw.Keys {
		k, err := parseKey(m)
		if err != nil {
			return nil, fmt.Errorf("key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return NewKeySet(keys...)
}

// parseKey reads one private JWK of ParseKeySet.
func parseKey(data []byte) (Key, error) {
	var r rawJWK
	if err := json.Unmarshal(data, &r); err != nil {
		return Key{}, fmt.Errorf("not a JWK: %w", err)
	}
	if r.Kid == nil || *r.Kid == "" {
		return Key{}, errors.New("no kid: every key needs one, so tokens name the key that verifies them")
	}
	kid := *r.Kid
	fail := func(format string, args ...any) (Key, error) {
		return Key{}, fmt.Errorf("kid %q: "+format, append([]any{kid}, args...)...)
	}
	switch {
	case r.Kty == "OKP" && r.Crv == "Ed25519", r.Kty == "EC" && r.Crv == "P-256", r.Kty == "RSA":
	case r.Kty == "OKP" || r.Kty == "EC":
		return fail("unsupported curve %q: want OKP Ed25519 or EC P-256", r.Crv)
	default:
		return fail("unsupported key type %q: want OKP (Ed25519), EC (P-256) or RSA", r.Kty)
	}
	if r.D == "" {
		return fail("a public key: the file must hold private keys (publish public keys at /.well-known/jwks.json)")
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return fail("%w", err)
	}
	signer, ok := jwk.Key.(crypto.Signer)
	if !ok || jwk.IsPublic() {
		return fail("not a private signing key")
	}
	k, err := newKey(kid, signer)
	if err != nil {
		return fail("%w", err)
	}
	if r.Alg != "" && r.Alg != k.alg {
		return fail("alg %q does not fit the key type: want %s", r.Alg, k.alg)
	}
	if r.Use != "" && r.Use != "sig" {
		return fail(`use %q: want "sig"`, r.Use)
	}
	if len(r.KeyOps) > 0 && !slices.Contains(r.KeyOps, "sign") {
		return fail(`key_ops %q does not allow "sign"`, r.KeyOps)
	}
	if err := selfTest(k); err != nil {
		return fail("%w", err)
	}
	return k, nil
}

// selfTest signs and verifies with k, which catches a private part that
// does not match its public part (go-jose checks it for Ed25519 and RSA,
// not for EC).
func selfTest(k Key) error {
	const msg = "usersvc signing key check"
	sig, err := k.method.Sign(msg, k.signer)
	if err != nil {
		return fmt.Errorf("cannot sign: %w", err)
	}
	if err := k.method.Verify(msg, sig, k.public()); err != nil {
		return errors.New("the private part does not match the public part")
	}
	return nil
}
