package jwttoken_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/usersvc/usersvc/adapters/jwttoken"
)

// rfc8037Key is the Ed25519 private key of RFC 8037 appendix A.1, with a
// kid that records no creation time: a key made elsewhere.
const rfc8037Key = `{"kty":"OKP","crv":"Ed25519","kid":"rfc8037-a1",
 "d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}`

// testSigner is a private key the test holds, to forge tokens with.
type testSigner struct {
	alg string
	key crypto.Signer
}

var (
	rsaOnce sync.Once
	rsaKeys [2]*rsa.PrivateKey
)

// newSigner makes a key for alg; RSA keys come from a small pool, since
// making them is slow.
func newSigner(tb testing.TB, alg string, n int) testSigner {
	tb.Helper()
	switch alg {
	case jwttoken.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		return testSigner{alg, k}
	case jwttoken.ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		return testSigner{alg, k}
	case jwttoken.RS256:
		rsaOnce.Do(func() {
			for i := range rsaKeys {
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					panic(err)
				}
				rsaKeys[i] = k
			}
		})
		return testSigner{alg, rsaKeys[n%len(rsaKeys)]}
	}
	tb.Fatalf("no algorithm %s", alg)
	return testSigner{}
}

// jwk is s's private JWK with kid (and extra members).
func (s testSigner) jwk(tb testing.TB, kid string, extra map[string]any) json.RawMessage {
	tb.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: s.key, KeyID: kid})
	if err != nil {
		tb.Fatal(err)
	}
	if len(extra) == 0 {
		return b
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ = json.Marshal(m)
	return b
}

// jwks is a JWK Set of the keys.
func jwks(keys ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func parseSet(tb testing.TB, data []byte) *jwttoken.KeySet {
	tb.Helper()
	set, err := jwttoken.ParseKeySet(data)
	if err != nil {
		tb.Fatalf("ParseKeySet: %v\n%s", err, data)
	}
	return set
}

func kids(keys []jwttoken.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID()
	}
	return out
}

func TestGenerateKeyForEachAlgorithm(t *testing.T) {
	t.Parallel()
	for _, alg := range jwttoken.Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k, err := jwttoken.GenerateKey(alg, now.Add(500*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			if k.Algorithm() != alg {
				t.Errorf("Algorithm %s", k.Algorithm())
			}
			if created, ok := k.Created(); !ok || !created.Equal(now) {
				t.Errorf("Created = %v, %v; want %v (to the second)", created, ok, now)
			}
			if !strings.HasPrefix(k.ID(), "20260102T030405Z-") {
				t.Errorf("kid %q does not start with its creation time", k.ID())
			}
			b, err := json.Marshal(k)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			wantKty := map[string]string{jwttoken.EdDSA: "OKP", jwttoken.ES256: "EC", jwttoken.RS256: "RSA"}[alg]
			if m["kty"] != wantKty || m["alg"] != alg || m["use"] != "sig" || m["kid"] != k.ID() || m["d"] == nil {
				t.Errorf("private JWK %s", b)
			}
			set := parseSet(t, jwks(b))
			if got := set.Keys(); len(got) != 1 || got[0].ID() != k.ID() || got[0].Algorithm() != alg {
				t.Errorf("parsed back as %v", kids(got))
			}
			other, _ := jwttoken.GenerateKey(alg, now)
			if other.ID() == k.ID() {
				t.Error("two keys made in the same second share a kid")
			}
		})
	}
	if _, err := jwttoken.GenerateKey("HS256", now); err == nil {
		t.Error("GenerateKey made an HS256 key")
	}
}

// TestKeySetSurvivesARoundTrip: what the file says (order, kids, creation
// times, algorithms) is what a write and a read give back.
func TestKeySetSurvivesARoundTrip(t *testing.T) {
	t.Parallel()
	var raw []json.RawMessage
	for i, alg := range jwttoken.Algorithms {
		k, err := jwttoken.GenerateKey(alg, now.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(k)
		raw = append(raw, b)
	}
	raw = append(raw, json.RawMessage(rfc8037Key))
	set := parseSet(t, jwks(raw...))
	first, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	again := parseSet(t, first)
	second, _ := json.Marshal(again)
	if string(first) != string(second) {
		t.Errorf("a round trip changed the set:\n%s\n%s", first, second)
	}
	got := again.Keys()
	if want := kids(set.Keys()); !slices.Equal(kids(got), want) || len(got) != 4 {
		t.Fatalf("kids %v, want %v", kids(got), want)
	}
	for i, k := range got[:3] {
		if created, ok := k.Created(); !ok || !created.Equal(now.Add(time.Duration(i)*time.Hour)) {
			t.Errorf("key %d: Created %v, %v", i, created, ok)
		}
	}
	if _, ok := got[3].Created(); ok {
		t.Error("the RFC 8037 key has a creation time")
	}
	if signer, _ := again.Signer(); signer.ID() != "rfc8037-a1" {
		t.Errorf("Signer %s, want the last key", signer.ID())
	}
}

func TestParseKeySetRefusesWhatItCannotSignWith(t *testing.T) {
	t.Parallel()
	ed := newSigner(t, jwttoken.EdDSA, 0)
	ec := newSigner(t, jwttoken.ES256, 0)
	ec2 := newSigner(t, jwttoken.ES256, 0)
	rs := newSigner(t, jwttoken.RS256, 0)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	public := func(s testSigner, kid string) json.RawMessage {
		b, _ := json.Marshal(jose.JSONWebKey{Key: s.key.Public(), KeyID: kid})
		return b
	}
	var mismatched map[string]any
	_ = json.Unmarshal(ec.jwk(t, "x", nil), &mismatched)
	var ec2m map[string]any
	_ = json.Unmarshal(ec2.jwk(t, "x", nil), &ec2m)
	cases := map[string]struct {
		data []byte
		want string
	}{
		"not JSON":            {[]byte("{"), "JWK Set"},
		"not a set":           {[]byte(`{"kty":"OKP"}`), "JWK Set"},
		"an empty set":        {[]byte(`{"keys":[]}`), "JWK Set"},
		"a symmetric key":     {jwks(json.RawMessage(`{"kty":"oct","kid":"s","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}`)), "oct"},
		"EC P-384":            {jwks(testSigner{"ES384", p384}.jwk(t, "p384", nil)), "P-384"},
		"OKP X25519":          {jwks(json.RawMessage(`{"kty":"OKP","crv":"X25519","kid":"x","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo","d":"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo"}`)), "X25519"},
		"RSA 1024":            {jwks(testSigner{"RS256", small}.jwk(t, "small", nil)), "2048"},
		"no kid":              {jwks(ed.jwk(t, "", nil)), "kid"},
		"duplicate kids":      {jwks(ed.jwk(t, "same", nil), ec.jwk(t, "same", nil)), "same"},
		"a public Ed25519":    {jwks(public(ed, "pub")), "public"},
		"a public EC":         {jwks(public(ec, "pub")), "public"},
		"a public RSA":        {jwks(public(rs, "pub")), "public"},
		"alg of another type": {jwks(ed.jwk(t, "ed", map[string]any{"alg": "ES256"})), "alg"},
		"alg HS256":           {jwks(ec.jwk(t, "ec", map[string]any{"alg": "HS256"})), "alg"},
		"RSA as PS256":        {jwks(rs.jwk(t, "rs", map[string]any{"alg": "PS256"})), "alg"},
		"use enc":             {jwks(rs.jwk(t, "rs", map[string]any{"use": "enc"})), "use"},
		"key_ops verify only": {jwks(ed.jwk(t, "ed", map[string]any{"key_ops": []string{"verify"}})), "key_ops"},
		"EC d of another key": {jwks(ec.jwk(t, "ec", map[string]any{"d": ec2m["d"]})), "does not match"},
		"Ed25519 x of another key": {jwks(ed.jwk(t, "ed", map[string]any{
			"x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})), "ed"},
		"one bad key among good": {jwks(ed.jwk(t, "good", nil), public(ec, "bad")), "key 2"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := jwttoken.ParseKeySet(tc.data)
			if err == nil {
				t.Fatalf("ParseKeySet accepted %s", tc.data)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
	// The control: each type, with alg, use and key_ops that fit.
	parseSet(t, jwks(ed.jwk(t, "ed", map[string]any{"alg": "EdDSA", "use": "sig", "key_ops": []string{"sign", "verify"}}),
		ec.jwk(t, "ec", map[string]any{"alg": "ES256"}), rs.jwk(t, "rs", map[string]any{"alg": "RS256"}),
		json.RawMessage(rfc8037Key)))
}

// keyAt is an EdDSA key made at t.
func keyAt(tb testing.TB, t time.Time) json.RawMessage {
	tb.Helper()
	k, err := jwttoken.GenerateKey(jwttoken.EdDSA, t)
	if err != nil {
		tb.Fatal(err)
	}
	b, _ := json.Marshal(k)
	return b
}

func TestRotateDropsKeysRetiredLongerThanTheTokenLifetime(t *testing.T) {
	t.Parallel()
	const ttl = 15 * time.Minute
	t0 := now
	set := parseSet(t, jwks(keyAt(t, t0)))
	a, _ := set.Signer()

	rotate := func(at time.Time, wantDropped ...string) (*jwttoken.KeySet, jwttoken.Key) {
		t.Helper()
		next, added, dropped, err := set.Rotate(jwttoken.EdDSA, at, ttl)
		if err != nil {
			t.Fatal(err)
		}
		if got := kids(dropped); !slices.Equal(got, wantDropped) && (len(got) > 0 || len(wantDropped) > 0) {
			t.Fatalf("at %v: dropped %v, want %v", at.Sub(t0), got, wantDropped)
		}
		if signer, _ := next.Signer(); signer.ID() != added.ID() {
			t.Fatalf("the new key %s does not sign; %s does", added.ID(), signer.ID())
		}
		if created, _ := added.Created(); !created.Equal(at.Truncate(time.Second)) {
			t.Fatalf("the new key was made at %v, not %v", created, at)
		}
		set = next
		return next, added
	}
	// A is retired when B comes, at t0+1h; still needed 15 minutes later.
	_, b := rotate(t0.Add(time.Hour))
	_, c := rotate(t0.Add(time.Hour + ttl))
	if got := kids(set.Keys()); !slices.Equal(got, []string{a.ID(), b.ID(), c.ID()}) {
		t.Fatalf("keys %v", got)
	}
	// Past 15 minutes (to the second), A goes; B, retired at t0+1h15m, stays.
	_, d := rotate(t0.Add(time.Hour+ttl+time.Second), a.ID())
	if got := kids(set.Keys()); !slices.Equal(got, []string{b.ID(), c.ID(), d.ID()}) {
		t.Fatalf("keys %v", got)
	}
	// Much later, only the new key and the one it retires this instant remain.
	_, e := rotate(t0.Add(48*time.Hour), b.ID(), c.ID())
	if got := kids(set.Keys()); !slices.Equal(got, []string{d.ID(), e.ID()}) {
		t.Fatalf("keys %v", got)
	}
}

func TestRotateKeepsWhatItCannotDate(t *testing.T) {
	t.Parallel()
	const ttl = 15 * time.Minute
	// The signing key is never dropped, even one made elsewhere long ago.
	set := parseSet(t, jwks(json.RawMessage(rfc8037Key)))
	next, added, dropped, err := set.Rotate(jwttoken.ES256, now, ttl)
	if err != nil || len(dropped) != 0 || !slices.Equal(kids(next.Keys()), []string{"rfc8037-a1", added.ID()}) {
		t.Fatalf("Rotate: %v, dropped %v, keys %v", err, kids(dropped), kids(next.Keys()))
	}
	// Retired at the creation of the key after it: dropped once that is
	// long enough ago.
	next, _, dropped, _ = next.Rotate(jwttoken.EdDSA, now.Add(ttl+time.Minute), ttl)
	if !slices.Equal(kids(dropped), []string{"rfc8037-a1"}) || len(next.Keys()) != 2 {
		t.Fatalf("dropped %v, keys %v", kids(dropped), kids(next.Keys()))
	}
	// A key followed only by undated ones cannot be dated: kept.
	old := keyAt(t, now.Add(-24*time.Hour))
	foreign := json.RawMessage(strings.Replace(rfc8037Key, "rfc8037-a1", "elsewhere", 1))
	set = parseSet(t, jwks(old, foreign))
	_, _, dropped, _ = set.Rotate(jwttoken.EdDSA, now, ttl)
	if len(dropped) != 0 {
		t.Fatalf("dropped %v, whose retirement time is unknown", kids(dropped))
	}
	// Followed by an undated key and then a dated one, it was retired by
	// the dated one's creation at the latest.
	set = parseSet(t, jwks(old, foreign, keyAt(t, now.Add(-time.Hour))))
	next, _, dropped, _ = set.Rotate(jwttoken.EdDSA, now, ttl)
	if got := kids(dropped); len(got) != 2 || got[1] != "elsewhere" || len(next.Keys()) != 2 {
		t.Fatalf("dropped %v, keys %v", got, kids(next.Keys()))
	}
}

func TestKeySetFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.json")
	if _, err := jwttoken.ReadKeySetFile(path); err == nil {
		t.Fatal("read a file that is not there")
	}
	set := parseSet(t, jwks(keyAt(t, now)))
	got, created, err := jwttoken.CreateKeySetFile(path, set)
	if err != nil || !created || got != set {
		t.Fatalf("CreateKeySetFile: %v, %v", created, err)
	}
	// A second creation finds the first file and keeps it.
	other := parseSet(t, jwks(keyAt(t, now)))
	got, created, err = jwttoken.CreateKeySetFile(path, other)
	if err != nil || created || !slices.Equal(kids(got.Keys()), kids(set.Keys())) {
		t.Fatalf("CreateKeySetFile over a file: %v, %v, %v", kids(got.Keys()), created, err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := jwttoken.WriteKeySetFile(path, other); err != nil {
		t.Fatal(err)
	}
	read, err := jwttoken.ReadKeySetFile(path)
	if err != nil || !slices.Equal(kids(read.Keys()), kids(other.Keys())) {
		t.Fatalf("ReadKeySetFile: %v, %v", err, read)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, %v; want 0600", info.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("files left beside the key file: %v", entries)
	}
	if err := os.WriteFile(path, []byte(`{"keys":[{"kty":"oct"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := jwttoken.ReadKeySetFile(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a bad file: %v, want an error naming it", err)
	}
}
