// Package jwttoken issues and verifies access tokens as HS256 JWTs.
package jwttoken

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// MinKeyLen is the shortest HMAC key accepted: 256 bits, as HS256 needs.
const MinKeyLen = 32

// leeway tolerates clock skew between instances.
const leeway = 60 * time.Second

// Audience is the aud claim of every token.
const Audience = "usersvc"

// Tokens implements ports.TokenIssuer and ports.TokenVerifier.
type Tokens struct {
	key    []byte
	issuer string
	ttl    time.Duration
}

var (
	_ ports.TokenIssuer   = (*Tokens)(nil)
	_ ports.TokenVerifier = (*Tokens)(nil)
)

// New returns tokens signed with key, naming issuer in iss, valid for ttl.
func New(key []byte, issuer string, ttl time.Duration) (*Tokens, error) {
	switch {
	case len(key) < MinKeyLen:
		return nil, fmt.Errorf("JWT key must be at least %d bytes, got %d", MinKeyLen, len(key))
	case issuer == "":
		return nil, errors.New("JWT issuer is required")
	case ttl <= 0:
		return nil, errors.New("access token TTL must be positive")
	}
	return &Tokens{key: append([]byte(nil), key...), issuer: issuer, ttl: ttl}, nil
}

type claims struct {
	jwt.RegisteredClaims
	Role      string `json:"role"`
	Version   int    `json:"ver"`
	SessionID string `json:"sid"`
}

// Issue implements ports.TokenIssuer.
func (t *Tokens) Issue(c ports.AccessClaims, now time.Time) (string, time.Duration, error) {
	now = now.UTC().Truncate(time.Second)
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    t.issuer,
			Subject:   c.UserID,
			Audience:  jwt.ClaimStrings{Audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(t.ttl)),
			NotBefore: jwt.NewNumericDate(now),
			IssuedAt:  jwt.NewNumericDate(now),
			ID:        rand.Text(),
		},
		Role:      c.Role.String(),
		Version:   c.TokenVersion,
		SessionID: c.SessionID,
	})
	s, err := tok.SignedString(t.key)
	if err != nil {
		return "", 0, fmt.Errorf("sign token: %w", err)
	}
	return s, t.ttl, nil
}

// Verify implements ports.TokenVerifier. Only HS256 is accepted, which also
// rules out "alg: none"; iss, aud, exp and iat are required.
func (t *Tokens) Verify(token string, now time.Time) (ports.AccessClaims, error) {
	var c claims
	_, err := jwt.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) { return t.key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(t.issuer),
		jwt.WithAudience(Audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return ports.AccessClaims{}, fmt.Errorf("%w: %w", domain.ErrInvalidToken, err)
	}
	role, err := domain.ParseRole(c.Role)
	if err != nil || c.Subject == "" || c.SessionID == "" {
		return ports.AccessClaims{}, domain.ErrInvalidToken
	}
	return ports.AccessClaims{UserID: c.Subject, Role: role, TokenVersion: c.Version, SessionID: c.SessionID}, nil
}
