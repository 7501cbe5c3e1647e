package jwttoken_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/adapters/jwttoken"
)

// FuzzVerify: whatever arrives as a bearer token, Verify neither panics
// nor accepts a token it did not sign (HS256 and the three key types are
// configured at once).
func FuzzVerify(f *testing.F) {
	var keys []json.RawMessage
	for i, alg := range jwttoken.Algorithms {
		keys = append(keys, newSigner(f, alg, 0).jwk(f, "k"+string(rune('1'+i)), nil))
	}
	tk := signedTokens(f, key, keys...)
	hs := newTokens(f)
	for _, issuer := range []*jwttoken.Tokens{tk, hs} {
		tok, _, err := issuer.Issue(claims, now)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok)
		parts := strings.Split(tok, ".")
		f.Add(parts[0] + "." + parts[1] + ".")
	}
	f.Add(sign(f, map[string]any{"alg": "none", "typ": "at+jwt"}, goodBody(now), nil))
	f.Add("e30.e30.e30")
	f.Fuzz(func(t *testing.T, token string) {
		got, err := tk.Verify(token, now)
		if err == nil && (got.UserID != claims.UserID || got.SessionID != claims.SessionID) {
			t.Fatalf("accepted a token nobody signed: %+v", got)
		}
	})
}

// FuzzParseKeySet: a key file never panics the parser, and what it accepts
// survives a write and a read.
func FuzzParseKeySet(f *testing.F) {
	f.Add([]byte(`{"keys":[` + rfc8037Key + `]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"e","x":"","y":"","d":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB","d":"AQAB","p":"Aw","q":"Aw"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := jwttoken.ParseKeySet(data)
		if err != nil {
			return
		}
		out, err := json.Marshal(set)
		if err != nil {
			t.Fatalf("an accepted set does not marshal: %v", err)
		}
		if _, err := jwttoken.ParseKeySet(out); err != nil {
			t.Fatalf("an accepted set does not parse back: %v\n%s", err, out)
		}
	})
}
