package jwttoken_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/domain"
)

// signedTokens are tokens signed with s's key as kid.
func signedTokens(tb testing.TB, hmacKey []byte, keys ...json.RawMessage) *jwttoken.Tokens {
	tb.Helper()
	tk, err := jwttoken.NewWithKeys(parseSet(tb, jwks(keys...)), hmacKey, testIssuer, 15*time.Minute)
	if err != nil {
		tb.Fatal(err)
	}
	return tk
}

// forge signs body under header with s's key, as an attacker holding it
// (or a bug) would.
func forge(tb testing.TB, s testSigner, header, body map[string]any) string {
	tb.Helper()
	tok := jwt.NewWithClaims(jwt.GetSigningMethod(s.alg), jwt.MapClaims(body))
	tok.Header = header
	out, err := tok.SignedString(s.key)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// verifyIndependently checks tok as another service would: keyfunc (on
// MicahParks/jwkset) reads the published JWK Set, golang-jwt checks the
// signature and the claims.
func verifyIndependently(tb testing.TB, jwksJSON []byte, tok string) error {
	tb.Helper()
	kf, err := keyfunc.NewJWKSetJSON(jwksJSON)
	if err != nil {
		tb.Fatalf("keyfunc cannot read our JWK Set: %v\n%s", err, jwksJSON)
	}
	_, err = jwt.Parse(tok, kf.Keyfunc, jwt.WithIssuer(testIssuer), jwt.WithAudience("usersvc"),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(func() time.Time { return now }))
	return err
}

// privateMembers are the JWK members of a private key (RFC 7518 §6).
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

func TestSignedTokensForEachAlgorithm(t *testing.T) {
	t.Parallel()
	for _, alg := range jwttoken.Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			s := newSigner(t, alg, 0)
			old := newSigner(t, jwttoken.EdDSA, 0)
			tk := signedTokens(t, nil, old.jwk(t, "old", nil), s.jwk(t, "current", nil))
			tok, _, err := tk.Issue(claims, now)
			if err != nil {
				t.Fatal(err)
			}
			h := decodePart(t, tok, 0)
			if h["alg"] != alg || h["typ"] != "at+jwt" || h["kid"] != "current" {
				t.Errorf("header %v, want alg %s, typ at+jwt, kid current", h, alg)
			}
			if tk.SigningKeyID() != "current" {
				t.Errorf("SigningKeyID %q", tk.SigningKeyID())
			}
			got, err := tk.Verify(tok, now)
			if err != nil || got.UserID != claims.UserID || got.Role != claims.Role || got.SessionID != "s1" || got.TokenVersion != 3 {
				t.Fatalf("Verify = %+v, %v", got, err)
			}
			if err := verifyIndependently(t, tk.PublicJWKS(), tok); err != nil {
				t.Fatalf("another library refuses our token: %v", err)
			}
			// Every key verifies, not only the signing one.
			if _, err := tk.Verify(forge(t, old, map[string]any{"alg": "EdDSA", "typ": "at+jwt", "kid": "old"}, goodBody(now)), now); err != nil {
				t.Errorf("a token of the older key: %v", err)
			}

			var set struct {
				Keys []map[string]any `json:"keys"`
			}
			if err := json.Unmarshal(tk.PublicJWKS(), &set); err != nil || len(set.Keys) != 2 {
				t.Fatalf("PublicJWKS %s: %v", tk.PublicJWKS(), err)
			}
			wantKty := map[string]string{jwttoken.EdDSA: "OKP", jwttoken.ES256: "EC", jwttoken.RS256: "RSA"}[alg]
			if k := set.Keys[1]; k["kid"] != "current" || k["kty"] != wantKty || k["alg"] != alg || k["use"] != "sig" {
				t.Errorf("published key %v", k)
			}
			for _, k := range set.Keys {
				for _, m := range privateMembers {
					if _, ok := k[m]; ok {
						t.Errorf("the published key %v has the private member %q", k["kid"], m)
					}
				}
			}
		})
	}
}

// publicKeyEncodings are the forms of a public key an attacker may try as
// an HMAC secret (the alg-confusion attack of RFC 8725 §2.1).
func publicKeyEncodings(tb testing.TB, s testSigner, jwksJSON []byte) map[string][]byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(s.key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string][]byte{
		"DER":  der,
		"PEM":  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		"JWKS": jwksJSON,
	}
	switch k := s.key.Public().(type) {
	case ed25519.PublicKey:
		out["raw"] = k
	case *ecdsa.PublicKey:
		raw, _ := k.Bytes()
		out["raw"] = raw
	case *rsa.PublicKey:
		out["PKCS1 PEM"] = pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(k)})
	}
	return out
}

func TestForgedSignedTokensAreRefused(t *testing.T) {
	t.Parallel()
	for _, alg := range jwttoken.Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			s := newSigner(t, alg, 0)
			stranger := newSigner(t, alg, 1)
			ed := newSigner(t, jwttoken.EdDSA, 0)
			keysOnly := signedTokens(t, nil, ed.jwk(t, "ed", nil), s.jwk(t, "k1", nil))
			withSecret := signedTokens(t, key, ed.jwk(t, "ed", nil), s.jwk(t, "k1", nil))
			at := map[string]any{"alg": alg, "typ": "at+jwt", "kid": "k1"}
			header := func(k string, v any) map[string]any {
				h := map[string]any{"alg": alg, "typ": "at+jwt", "kid": "k1"}
				if v == nil {
					delete(h, k)
				} else {
					h[k] = v
				}
				return h
			}
			cases := map[string]string{
				"unknown kid":            forge(t, stranger, header("kid", "k2"), goodBody(now)),
				"our kid, another key":   forge(t, stranger, at, goodBody(now)),
				"no kid":                 forge(t, s, header("kid", nil), goodBody(now)),
				"a kid that is a number": forge(t, s, header("kid", 1), goodBody(now)),
				"alg none":               sign(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": "k1"}, goodBody(now), nil),
				"alg none, no kid":       sign(t, map[string]any{"alg": "none", "typ": "at+jwt"}, goodBody(now), nil),
				"typ JWT":                forge(t, s, header("typ", "JWT"), goodBody(now)),
				"no typ":                 forge(t, s, header("typ", nil), goodBody(now)),
				"typ id_token":           forge(t, s, header("typ", "id_token+jwt"), goodBody(now)),
				"expired":                forge(t, s, at, goodBody(now.Add(-time.Hour))),
				"wrong issuer":           forge(t, s, at, with("iss", "https://evil.example.com")),
				"wrong audience":         forge(t, s, at, with("aud", "other")),
				"unknown role":           forge(t, s, at, with("role", "ROOT")),
			}
			for _, c := range requiredClaims {
				cases["no "+c] = forge(t, s, at, with(c, nil))
			}
			// Alg confusion across keys: our Ed25519 key's kid on a token
			// of this algorithm, and this key's kid under EdDSA.
			if alg != jwttoken.EdDSA {
				cases["kid of a key of another type"] = forge(t, s, header("kid", "ed"), goodBody(now))
				cases["alg of another type"] = forge(t, ed, header("alg", "EdDSA"), goodBody(now))
			}
			for enc, secret := range publicKeyEncodings(t, s, keysOnly.PublicJWKS()) {
				cases["HS256 keyed with the public key, "+enc] = sign(t, map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": "k1"}, goodBody(now), secret)
				cases["HS256 keyed with the public key, no kid, "+enc] = sign(t, map[string]any{"alg": "HS256", "typ": "at+jwt"}, goodBody(now), secret)
			}
			for name, tok := range cases {
				for cfg, tk := range map[string]*jwttoken.Tokens{"keys": keysOnly, "keys and secret": withSecret} {
					if _, err := tk.Verify(tok, now); !errors.Is(err, domain.ErrInvalidToken) {
						t.Errorf("%s (%s): Verify = %v, want ErrInvalidToken", name, cfg, err)
					}
				}
			}
			// The control: the same forge with the right key passes.
			if _, err := keysOnly.Verify(forge(t, s, at, goodBody(now)), now); err != nil {
				t.Fatalf("the control token is refused: %v", err)
			}
		})
	}
}

// TestSecretAndKeysTogether: during a migration from JWT_SECRET to signing
// keys, HS256 tokens already out keep working; new ones are signed.
func TestSecretAndKeysTogether(t *testing.T) {
	t.Parallel()
	hs, err := jwttoken.New(key, testIssuer, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	before, _, _ := hs.Issue(claims, now)
	ed := newSigner(t, jwttoken.EdDSA, 0)
	both := signedTokens(t, key, ed.jwk(t, "ed", nil))
	if _, err := both.Verify(before, now); err != nil {
		t.Errorf("an HS256 token issued before the migration: %v", err)
	}
	legacy := goodBody(now)
	delete(legacy, "amr")
	if _, err := both.Verify(sign(t, map[string]any{"alg": "HS256", "typ": "JWT"}, legacy, key), now); err != nil {
		t.Errorf("an HS256 token of the old shape: %v", err)
	}
	after, _, _ := both.Issue(claims, now)
	if h := decodePart(t, after, 0); h["alg"] != "EdDSA" || h["kid"] != "ed" {
		t.Errorf("a new token has header %v, want EdDSA signed by ed", h)
	}
	if _, err := hs.Verify(after, now); err == nil {
		t.Error("the HS256-only verifier accepted an EdDSA token")
	}
	keysOnly := signedTokens(t, nil, ed.jwk(t, "ed", nil))
	if _, err := keysOnly.Verify(before, now); !errors.Is(err, domain.ErrInvalidToken) {
		t.Errorf("without the secret, an HS256 token: %v", err)
	}
	if got := string(both.PublicJWKS()); strings.Contains(got, `"oct"`) || strings.Count(got, `"kid"`) != 1 {
		t.Errorf("PublicJWKS publishes the secret or misses the key: %s", got)
	}
}

// TestRotationKeepsOldTokensUntilTheyExpire follows a rotation through the
// services it restarts: tokens signed before still verify, new ones are
// signed with the new key, and the old key goes once its tokens expired.
func TestRotationKeepsOldTokensUntilTheyExpire(t *testing.T) {
	t.Parallel()
	const ttl = 15 * time.Minute
	set := parseSet(t, jwks(keyAt(t, now.Add(-30*24*time.Hour))))
	oldKey, _ := set.Signer()
	before, err := jwttoken.NewWithKeys(set, nil, testIssuer, ttl)
	if err != nil {
		t.Fatal(err)
	}
	oldToken, _, _ := before.Issue(claims, now)

	rotated, newKey, _, err := set.Rotate(jwttoken.ES256, now, ttl)
	if err != nil {
		t.Fatal(err)
	}
	after, err := jwttoken.NewWithKeys(rotated, nil, testIssuer, ttl)
	if err != nil {
		t.Fatal(err)
	}
	newToken, _, _ := after.Issue(claims, now)
	if h := decodePart(t, newToken, 0); h["kid"] != newKey.ID() || h["alg"] != "ES256" {
		t.Errorf("after the rotation a token has header %v, want kid %s", h, newKey.ID())
	}
	for name, tok := range map[string]string{"old": oldToken, "new": newToken} {
		if _, err := after.Verify(tok, now.Add(2*time.Minute)); err != nil {
			t.Errorf("the %s token after the rotation: %v", name, err)
		}
		if err := verifyIndependently(t, after.PublicJWKS(), tok); err != nil {
			t.Errorf("another library refuses the %s token: %v", name, err)
		}
	}
	// Past the lifetime, the next rotation drops the old key: its tokens
	// have expired (and would no longer verify anyway).
	later := now.Add(ttl + time.Minute)
	third, _, dropped, err := rotated.Rotate(jwttoken.EdDSA, later, ttl)
	if err != nil || len(dropped) != 1 || dropped[0].ID() != oldKey.ID() {
		t.Fatalf("Rotate: dropped %v, %v; want %s", kids(dropped), err, oldKey.ID())
	}
	if _, err := after.Verify(oldToken, later.Add(leewayPlus)); err == nil {
		t.Error("the old token outlived its lifetime")
	}
	final, _ := jwttoken.NewWithKeys(third, nil, testIssuer, ttl)
	if _, err := final.Verify(newToken, now.Add(3*time.Minute)); err != nil {
		t.Errorf("the token of the previous key after a second rotation: %v", err)
	}
	if _, err := final.Verify(oldToken, now.Add(3*time.Minute)); err == nil {
		t.Error("a token of the dropped key verifies")
	}
}

// leewayPlus is past the clock-skew allowance.
const leewayPlus = 61 * time.Second

func ExampleKeySet_Rotate() {
	set, _ := jwttoken.ParseKeySet([]byte(`{"keys":[` + rfc8037Key + `]}`))
	next, added, dropped, _ := set.Rotate(jwttoken.EdDSA, time.Date(2026, 12, 5, 10, 15, 0, 0, time.UTC), 15*time.Minute)
	fmt.Println(len(next.Keys()), strings.HasPrefix(added.ID(), "20261205T101500Z-"), len(dropped))
	// Output: 2 true 0
}
