// Package jwttoken issues and verifies access tokens: JWTs after RFC 9068
// (header typ "at+jwt"), signed with the last key of a JWK Set (EdDSA,
// ES256 or RS256) that other services fetch to verify them, or with an
// HMAC secret (HS256) that only this service holds.
package jwttoken

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// MinKeyLen is the shortest HMAC key accepted: 256 bits, as HS256 needs.
const MinKeyLen = 32

// leeway tolerates clock skew between instances for iat and nbf: a token
// issued by an instance whose clock runs ahead is valid at once. Never for
// exp: a token is valid only before it (RFC 7519 §4.1.4; the seed had no
// leeway either), so ACCESS_TOKEN_TTL is the lifetime, not TTL plus skew.
const leeway = 60 * time.Second

// Audience is the aud claim of every token.
const Audience = "usersvc"

// TypeAccessToken is the typ header of every token issued (RFC 9068 §2.1).
const TypeAccessToken = "at+jwt"

// defaultAMR is the amr of a token whose claims name no method: a password.
var defaultAMR = []string{"pwd"}

// Tokens implements ports.TokenIssuer and ports.TokenVerifier.
type Tokens struct {
	issuer string
	ttl    time.Duration
	// signer signs when set; otherwise hmacKey does (HS256).
	signer *Key
	// hmacKey verifies HS256 tokens when set.
	hmacKey []byte
	// verifiers are the public keys by kid.
	verifiers map[string]Key
	methods   []string
	jwks      []byte
	// verified are the tokens verified lately (see verified.go).
	verified verifiedTokens
}

var (
	_ ports.TokenIssuer   = (*Tokens)(nil)
	_ ports.TokenVerifier = (*Tokens)(nil)
)

// New returns tokens signed with the HMAC key (HS256), naming issuer in
// iss, valid for ttl. Nothing is published: only this service can verify them.
func New(key []byte, issuer string, ttl time.Duration) (*Tokens, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("JWT key must be at least %d bytes, got %d", MinKeyLen, len(key))
	}
	return newTokens(nil, key, issuer, ttl)
}

// NewWithKeys returns tokens signed with the last key of keys and verified
// with any of them, which other services can do too with PublicJWKS. When
// hmacKey is set, HS256 tokens signed with it keep being accepted (never
// issued): a migration from a shared secret lets the tokens issued before
// it live out their lifetime.
func NewWithKeys(keys *KeySet, hmacKey []byte, issuer string, ttl time.Duration) (*Tokens, error) {
	if keys == nil || len(keys.keys) == 0 {
		return nil, errors.New("the JWK Set has no key")
	}
	if hmacKey != nil && len(hmacKey) < MinKeyLen {
		return nil, fmt.Errorf("JWT key must be at least %d bytes, got %d", MinKeyLen, len(hmacKey))
	}
	return newTokens(keys, hmacKey, issuer, ttl)
}

func newTokens(keys *KeySet, hmacKey []byte, issuer string, ttl time.Duration) (*Tokens, error) {
	switch {
	case issuer == "":
		return nil, errors.New("JWT issuer is required")
	case ttl <= 0:
		return nil, errors.New("access token TTL must be positive")
	}
	t := &Tokens{issuer: issuer, ttl: ttl, verifiers: map[string]Key{}}
	if hmacKey != nil {
		t.hmacKey = append([]byte(nil), hmacKey...)
		t.methods = append(t.methods, jwt.SigningMethodHS256.Alg())
	}
	published := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{}}
	if keys != nil {
		for _, k := range keys.keys {
			t.verifiers[k.kid] = k
			if !slices.Contains(t.methods, k.alg) {
				t.methods = append(t.methods, k.alg)
			}
			published.Keys = append(published.Keys, k.publicJWK())
		}
		signer, _ := keys.Signer()
		t.signer = &signer
	}
	jwks, err := json.Marshal(published)
	if err != nil {
		return nil, fmt.Errorf("JWK Set: %w", err)
	}
	t.jwks = jwks
	return t, nil
}

// Issuer is the iss claim of the tokens.
func (t *Tokens) Issuer() string { return t.issuer }

// PublicJWKS is the JWK Set of the public keys that verify the tokens
// (kid, kty, alg, use "sig" and the public parameters: never a private
// one), as JSON; {"keys":[]} when tokens are HS256 only.
func (t *Tokens) PublicJWKS() []byte { return append([]byte(nil), t.jwks...) }

// SigningKeyID is the kid of the key that signs, "" under HS256.
func (t *Tokens) SigningKeyID() string {
	if t.signer == nil {
		return ""
	}
	return t.signer.kid
}

type claims struct {
	jwt.RegisteredClaims
	Role        string   `json:"role"`
	Version     int      `json:"ver"`
	SessionID   string   `json:"sid"`
	AuthMethods []string `json:"amr,omitempty"`
}

// Issue implements ports.TokenIssuer.
func (t *Tokens) Issue(c ports.AccessClaims, now time.Time) (string, time.Duration, error) {
	now = now.UTC().Truncate(time.Second)
	amr := c.AuthMethods
	if len(amr) == 0 {
		amr = defaultAMR
	}
	method, key := jwt.SigningMethod(jwt.SigningMethodHS256), any(t.hmacKey)
	if t.signer != nil {
		method, key = t.signer.method, t.signer.signer
	}
	tok := jwt.NewWithClaims(method, claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		Role:        c.Role.String(),
		Version:     c.TokenVersion,
		SessionID:   c.SessionID,
		AuthMethods: append([]string(nil), amr...),
	})
	tok.Header["typ"] = TypeAccessToken
	if t.signer != nil {
		tok.Header["kid"] = t.signer.kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		return "", 0, fmt.Errorf("sign token: %w", err)
	}
	return s, t.ttl, nil
}

// Verify implements ports.TokenVerifier. The header's alg must be one this
// service signs with (never "none"), and the key its kid names must be of
// that algorithm; HS256 tokens name no kid and verify only with the HMAC
// key. typ must be "at+jwt" (or, for HS256 tokens issued before typ was
// set, "JWT"). iss, sub, aud, exp, iat, jti, sid and role are required.
func (t *Tokens) Verify(token string, now time.Time) (ports.AccessClaims, error) {
	if c, ok := t.verified.get(token, now); ok {
		return c, nil
	}
	v, err := t.verify(token, now)
	if err != nil {
		return ports.AccessClaims{}, err
	}
	t.verified.put(token, v)
	return v.claims, nil
}

// verify is Verify without the tokens remembered: the token's claims and
// the instants it verifies between.
func (t *Tokens) verify(token string, now time.Time) (verifiedToken, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, t.key,
		jwt.WithValidMethods(t.methods),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return verifiedToken{}, fmt.Errorf("%w: %w", domain.ErrInvalidToken, err)
	}
	// The parser gave exp the leeway too.
	if !now.Before(c.ExpiresAt.Time) {
		return verifiedToken{}, fmt.Errorf("%w: %w", domain.ErrInvalidToken, jwt.ErrTokenExpired)
	}
	// WithIssuedAt checks iat only when it is there.
	var missing []string
	for _, m := range []struct {
		claim  string
		absent bool
	}{{"sub", c.Subject == ""}, {"iat", c.IssuedAt == nil}, {"jti", c.ID == ""}, {"sid", c.SessionID == ""}} {
		if m.absent {
			missing = append(missing, m.claim)
		}
	}
	if len(missing) > 0 {
		return verifiedToken{}, fmt.Errorf("%w: missing claims %s", domain.ErrInvalidToken, strings.Join(missing, ", "))
	}
	role, err := domain.ParseRole(c.Role)
	if err != nil {
		return verifiedToken{}, fmt.Errorf("%w: role: %w", domain.ErrInvalidToken, err)
	}
	from := c.IssuedAt.Time
	if c.NotBefore != nil && c.NotBefore.After(from) {
		from = c.NotBefore.Time
	}
	return verifiedToken{
		claims: ports.AccessClaims{
			UserID: c.Subject, Role: role, TokenVersion: c.Version, SessionID: c.SessionID, AuthMethods: c.AuthMethods,
		},
		from:  from.Add(-leeway),
		until: c.ExpiresAt.Time,
	}, nil
}

// key finds the key that verifies tok, after the parser checked that its
// alg is one of t.methods.
func (t *Tokens) key(tok *jwt.Token) (any, error) {
	alg := tok.Method.Alg()
	typ, _ := tok.Header["typ"].(string)
	kidValue, hasKID := tok.Header["kid"]
	if alg == jwt.SigningMethodHS256.Alg() {
		switch {
		case t.hmacKey == nil:
			return nil, errors.New("HS256 is not accepted")
		case hasKID:
			return nil, errors.New("an HS256 token names no kid")
		case !isAccessTokenType(typ) && !strings.EqualFold(typ, "JWT"):
			return nil, fmt.Errorf("typ %q is not an access token's", typ)
		}
		return t.hmacKey, nil
	}
	if !isAccessTokenType(typ) {
		return nil, fmt.Errorf("typ %q is not an access token's", typ)
	}
	kid, _ := kidValue.(string)
	k, ok := t.verifiers[kid]
	if !ok {
		return nil, fmt.Errorf("unknown kid %q", kid)
	}
	if k.alg != alg {
		return nil, fmt.Errorf("kid %q is a %s key, not %s", kid, k.alg, alg)
	}
	return k.public(), nil
}

// isAccessTokenType reports whether typ is at+jwt, with or without the
// "application/" of its media type (RFC 9068 §2.1, RFC 7515 §4.1.9).
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(strings.TrimPrefix(strings.ToLower(typ), "application/"), TypeAccessToken)
}
