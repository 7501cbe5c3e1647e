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

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

const testIssuer = "https://users.example.com"

var (
	key    = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	claims = ports.AccessClaims{UserID: "u1", Role: domain.RoleAdmin, TokenVersion: 3, SessionID: "s1", AuthMethods: []string{"pwd"}}
)

// roleEqual compares roles, whose fields are hidden.
var roleEqual = cmp.Comparer(func(a, b domain.Role) bool { return a == b })

func newTokens(t testing.TB) *jwttoken.Tokens {
	t.Helper()
	tk, err := jwttoken.New(key, testIssuer, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// decodePart decodes the header (0) or the claims (1) of a token.
func decodePart(t *testing.T, token string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("%q is not a JWS", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestIssueAndVerifyRoundTrip(t *testing.T) {
	tk := newTokens(t)
	tok, ttl, err := tk.Issue(claims, now)
	if err != nil || ttl != 15*time.Minute {
		t.Fatalf("Issue: %v, %v", ttl, err)
	}
	got, err := tk.Verify(tok, now.Add(time.Minute))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if diff := cmp.Diff(claims, got, roleEqual); diff != "" {
		t.Fatalf("Verify (-want +got):\n%s", diff)
	}
	// The claims the contract and RFC 9068 name are all there.
	m := decodePart(t, tok, 1)
	for _, c := range []string{"iss", "sub", "aud", "exp", "iat", "jti", "role", "amr", "sid", "ver", "nbf"} {
		if _, ok := m[c]; !ok {
			t.Errorf("claim %q missing from %v", c, m)
		}
	}
	h := decodePart(t, tok, 0)
	if h["typ"] != "at+jwt" || h["alg"] != "HS256" {
		t.Errorf("header %v, want typ at+jwt, alg HS256", h)
	}
	if _, ok := h["kid"]; ok {
		t.Errorf("an HS256 token names a kid: %v", h)
	}
}

// A token is valid until exp, not a moment after: the leeway for clock
// skew is for iat alone.
func TestTokenExpiresAtExp(t *testing.T) {
	tk := newTokens(t)
	tok, ttl, err := tk.Issue(claims, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(tok, now.Add(ttl-time.Second)); err != nil {
		t.Errorf("a second before exp: %v", err)
	}
	for _, at := range []time.Duration{ttl, ttl + time.Second, ttl + 59*time.Second} {
		if _, err := tk.Verify(tok, now.Add(at)); !errors.Is(err, domain.ErrInvalidToken) {
			t.Errorf("%s after issue, exp at %s: %v, want ErrInvalidToken", at, ttl, err)
		}
	}
	// A token from an instance whose clock runs 30 s ahead is valid at once.
	early, _, err := tk.Issue(claims, now.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Verify(early, now); err != nil {
		t.Errorf("a token issued 30 s ahead: %v", err)
	}
}

func TestIssueDefaultsAMRToPassword(t *testing.T) {
	tk := newTokens(t)
	c := claims
	c.AuthMethods = nil
	tok, _, err := tk.Issue(c, now)
	if err != nil {
		t.Fatal(err)
	}
	if amr := decodePart(t, tok, 1)["amr"]; !cmp.Equal(amr, []any{"pwd"}) {
		t.Errorf("amr %v, want [pwd]", amr)
	}
	got, err := tk.Verify(tok, now)
	if err != nil || !cmp.Equal(got.AuthMethods, []string{"pwd"}) {
		t.Errorf("Verify: %v, %v", got.AuthMethods, err)
	}
	c.AuthMethods = []string{"pwd", "otp"}
	tok, _, _ = tk.Issue(c, now)
	if got, err := tk.Verify(tok, now); err != nil || !cmp.Equal(got.AuthMethods, []string{"pwd", "otp"}) {
		t.Errorf("Verify: %v, %v", got.AuthMethods, err)
	}
}

// sign makes a token with arbitrary header and claims, HMAC-signed with k
// (or unsigned when k is nil).
func sign(t testing.TB, header, body map[string]any, k []byte) string {
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
		"iss": testIssuer, "sub": "u1", "aud": []string{"usersvc"},
		"exp": at.Add(15 * time.Minute).Unix(), "nbf": at.Unix(), "iat": at.Unix(), "jti": "J1",
		"role": "ADMIN", "ver": 3, "sid": "s1", "amr": []string{"pwd"},
	}
}

// without is goodBody(now) with claim k removed, or set to v.
func with(k string, v any) map[string]any {
	b := goodBody(now)
	if v == nil {
		delete(b, k)
	} else {
		b[k] = v
	}
	return b
}

// requiredClaims are the claims Verify refuses a token without.
var requiredClaims = []string{"iss", "sub", "aud", "exp", "iat", "jti", "sid", "role"}

func TestHS256TokensOfTheOldShapeStillVerify(t *testing.T) {
	tk := newTokens(t)
	// Before RFC 9068, tokens said typ JWT and had neither amr nor (before
	// it was added) anything else new; they live out their 15 minutes.
	body := goodBody(now)
	delete(body, "amr")
	got, err := tk.Verify(sign(t, map[string]any{"alg": "HS256", "typ": "JWT"}, body, key), now)
	if err != nil {
		t.Fatalf("a token of the old shape: %v", err)
	}
	if got.UserID != "u1" || got.SessionID != "s1" || got.AuthMethods != nil {
		t.Errorf("Verify = %+v", got)
	}
	for _, typ := range []string{"at+jwt", "application/at+jwt", "AT+JWT"} {
		if _, err := tk.Verify(sign(t, map[string]any{"alg": "HS256", "typ": typ}, goodBody(now), key), now); err != nil {
			t.Errorf("typ %q: %v", typ, err)
		}
	}
}

func TestForgedTokensAreRefused(t *testing.T) {
	tk := newTokens(t)
	hs256 := map[string]any{"alg": "HS256", "typ": "at+jwt"}
	valid, _, _ := tk.Issue(claims, now)
	parts := strings.Split(valid, ".")
	tamperedBody := goodBody(now)
	tamperedBody["sub"] = "someone-else"
	cases := map[string]string{
		"alg none":             sign(t, map[string]any{"alg": "none", "typ": "at+jwt"}, goodBody(now), nil),
		"alg none, typ JWT":    sign(t, map[string]any{"alg": "none", "typ": "JWT"}, goodBody(now), nil),
		"wrong key":            sign(t, hs256, goodBody(now), []byte("another key another key another key!")),
		"wrong algorithm":      sign(t, map[string]any{"alg": "HS512", "typ": "at+jwt"}, goodBody(now), key),
		"expired":              sign(t, hs256, goodBody(now.Add(-time.Hour)), key),
		"future dated":         sign(t, hs256, goodBody(now.Add(time.Hour)), key),
		"wrong issuer":         sign(t, hs256, with("iss", "https://evil.example.com"), key),
		"wrong audience":       sign(t, hs256, with("aud", []string{"other"}), key),
		"unknown role":         sign(t, hs256, with("role", "ROOT"), key),
		"empty subject":        sign(t, hs256, with("sub", ""), key),
		"empty jti":            sign(t, hs256, with("jti", ""), key),
		"tampered payload":     parts[0] + "." + base64.RawURLEncoding.EncodeToString(mustJSON(tamperedBody)) + "." + parts[2],
		"tampered signature":   parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2])),
		"not a token":          "hello",
		"empty":                "",
		"RS256 header on HMAC": sign(t, map[string]any{"alg": "RS256", "typ": "at+jwt"}, goodBody(now), key),
		"no typ":               sign(t, map[string]any{"alg": "HS256"}, goodBody(now), key),
		"wrong typ":            sign(t, map[string]any{"alg": "HS256", "typ": "id+jwt"}, goodBody(now), key),
		"a kid on HS256":       sign(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, goodBody(now), key),
	}
	for _, c := range requiredClaims {
		cases["no "+c] = sign(t, hs256, with(c, nil), key)
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := tk.Verify(tok, now); !errors.Is(err, domain.ErrInvalidToken) {
				t.Fatalf("Verify = %v, want ErrInvalidToken", err)
			}
		})
	}
	// The control: the same helper signs a token that passes.
	if _, err := tk.Verify(sign(t, hs256, goodBody(now), key), now); err != nil {
		t.Fatalf("the control token is refused: %v", err)
	}
}

// The leeway for clock skew between instances is a minute, and only for a
// token issued ahead of the verifier's clock (TestTokenExpiresAtExp: never
// past exp).
func TestClockSkewLeewayIsAtMostAMinute(t *testing.T) {
	tk := newTokens(t)
	tok, _, _ := tk.Issue(claims, now)
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
	if _, err := jwttoken.NewWithKeys(nil, nil, "iss", time.Minute); err == nil {
		t.Error("accepted no signing key")
	}
}

func TestHS256PublishesNoKeys(t *testing.T) {
	tk := newTokens(t)
	if got := string(tk.PublicJWKS()); got != `{"keys":[]}` {
		t.Errorf("PublicJWKS = %s, want {\"keys\":[]}", got)
	}
	if tk.Issuer() != testIssuer || tk.SigningKeyID() != "" {
		t.Errorf("Issuer %q, SigningKeyID %q", tk.Issuer(), tk.SigningKeyID())
	}
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
