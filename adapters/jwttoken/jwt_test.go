package jwttoken_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

var (
	key    = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	claims = ports.AccessClaims{UserID: "u1", Role: domain.RoleAdmin, TokenVersion: 3, SessionID: "s1"}
)

func newTokens(t *testing.T) *jwttoken.Tokens {
	t.Helper()
	tk, err := jwttoken.New(key, "https://users.example.com", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestIssueAndVerifyRoundTrip(t *testing.T) {
	tk := newTokens(t)
	tok, ttl, err := tk.Issue(claims, now)
	if err != nil || ttl != 15*time.Minute {
		t.Fatalf("Issue: %v, %v", ttl, err)
	}
	got, err := tk.Verify(tok, now.Add(time.Minute))
	if err != nil || got != claims {
		t.Fatalf("Verify = %+v, %v; want %+v", got, err, claims)
	}
	// The claims the contract names are all there.
	parts := strings.Split(tok, ".")
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	for _, c := range []string{"sub", "role", "exp", "iat", "iss", "aud", "nbf", "sid"} {
		if _, ok := m[c]; !ok {
			t.Errorf("claim %q missing from %s", c, body)
		}
	}
}

// sign makes a token with arbitrary header and claims, HMAC-signed with k
// (or unsigned when k is nil).
func sign(t *testing.T, header, body map[string]any, k []byte) string {
	t.Helper()
	h, _ := json.Marshal(header)
	b, _ := json.Marshal(body)
	unsigned := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(b)
	if k == nil {
		return unsigned + "."
	}
	mac := hmac.New(sha256.New, k)
	mac.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func goodBody(at time.Time) map[string]any {
	return map[string]any{
		"iss": "https://users.example.com", "sub": "u1", "aud": []string{"usersvc"},
		"exp": at.Add(15 * time.Minute).Unix(), "nbf": at.Unix(), "iat": at.Unix(),
		"role": "ADMIN", "ver": 3, "sid": "s1",
	}
}

func TestForgedTokensAreRefused(t *testing.T) {
	tk := newTokens(t)
	hs256 := map[string]any{"alg": "HS256", "typ": "JWT"}
	with := func(k string, v any) map[string]any {
		b := goodBody(now)
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
		return b
	}
	valid, _, _ := tk.Issue(claims, now)
	parts := strings.Split(valid, ".")
	tamperedBody := goodBody(now)
	tamperedBody["role"] = "ADMIN"
	tamperedBody["sub"] = "someone-else"
	cases := map[string]string{
		"alg none":             sign(t, map[string]any{"alg": "none", "typ": "JWT"}, goodBody(now), nil),
		"wrong key":            sign(t, hs256, goodBody(now), []byte("another key another key another key!")),
		"wrong algorithm":      sign(t, map[string]any{"alg": "HS512", "typ": "JWT"}, goodBody(now), key),
		"expired":              sign(t, hs256, goodBody(now.Add(-time.Hour)), key),
		"future dated":         sign(t, hs256, goodBody(now.Add(time.Hour)), key),
		"no expiry":            sign(t, hs256, with("exp", nil), key),
		"wrong issuer":         sign(t, hs256, with("iss", "https://evil.example.com"), key),
		"wrong audience":       sign(t, hs256, with("aud", []string{"other"}), key),
		"unknown role":         sign(t, hs256, with("role", "ROOT"), key),
		"no session":           sign(t, hs256, with("sid", nil), key),
		"tampered payload":     parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(tamperedBody)) + "." + parts[2],
		"tampered signature":   parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"not a token":          "hello",
		"empty":                "",
		"RS256 header on HMAC": sign(t, map[string]any{"alg": "RS256", "typ": "JWT"}, goodBody(now), key),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := tk.Verify(tok, now); !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
}

func TestClockSkewLeewayIsAtMostAMinute(t *testing.T) {
	tk := newTokens(t)
	tok, _, _ := tk.Issue(claims, now)
	if _, err := tk.Verify(tok, now.Add(15*time.Minute+59*time.Second)); err != nil {
		t.Errorf("within 60s of expiry: %v", err)
	}
	if _, err := tk.Verify(tok, now.Add(15*time.Minute+61*time.Second)); err == nil {
		t.Error("accepted more than 60s after expiry")
	}
	if _, err := tk.Verify(tok, now.Add(-59*time.Second)); err != nil {
		t.Errorf("59s before issue (clock skew): %v", err)
	}
	if _, err := tk.Verify(tok, now.Add(-61*time.Second)); err == nil {
		t.Error("accepted more than 60s before it was issued")
	}
}

func TestNewRefusesWeakKeys(t *testing.T) {
	if _, err := jwttoken.New([]byte("short"), "iss", time.Minute); err == nil {
		t.Error("accepted a 5-byte key")
	}
	if _, err := jwttoken.New(key, "", time.Minute); err == nil {
		t.Error("accepted an empty issuer")
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
