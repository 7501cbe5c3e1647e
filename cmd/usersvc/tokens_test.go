package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports"
)

// testConfig is the configuration of env, which must load.
func testConfig(t *testing.T, env map[string]string) config {
	t.Helper()
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var testClaims = ports.AccessClaims{UserID: "u1", Role: domain.RoleAuthenticated, SessionID: "s1"}

func TestDevelopmentKeyIsGeneratedOnceAndReused(t *testing.T) {
	t.Parallel()
	c := testConfig(t, nil)
	c.DataDir = filepath.Join(t.TempDir(), "data")
	path := filepath.Join(c.DataDir, devKeyFile)
	logs := &testsupport.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))

	first, err := newTokens(c, log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "generated a development signing key") {
		t.Errorf("no warning that a development key was made:\n%s", logs)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want a 0600 file", path, info, err)
	}
	set, err := jwttoken.ReadKeySetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := set.Signer(); len(set.Keys()) != 1 || k.Algorithm() != jwttoken.EdDSA || k.ID() != first.SigningKeyID() {
		t.Fatalf("the development key set %v", kidsOf(set))
	}
	before, _ := os.ReadFile(path)
	tok, _, err := first.Issue(testClaims, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	second, err := newTokens(c, log)
	if err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(path)
	if !bytes.Equal(before, after) || second.SigningKeyID() != first.SigningKeyID() {
		t.Fatal("the development key changed on the second start")
	}
	if _, err := second.Verify(tok, time.Now()); err != nil {
		t.Errorf("a token of the first start after the second: %v", err)
	}
	if !strings.Contains(logs.String(), "using the development signing key") {
		t.Errorf("no warning that the development key is in use:\n%s", logs)
	}
}

func TestDevelopmentKeyOfAnOlderVersionIsReplaced(t *testing.T) {
	t.Parallel()
	c := testConfig(t, nil)
	c.DataDir = t.TempDir()
	path := filepath.Join(c.DataDir, devKeyFile)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(bytes.Repeat([]byte{7}, 32))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens, err := newTokens(c, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if set, err := jwttoken.ReadKeySetFile(path); err != nil || kidsOf(set)[0] != tokens.SigningKeyID() {
		t.Fatalf("the old key file was not replaced by a key set: %v", err)
	}
	// Anything else is not guessed at.
	if err := os.WriteFile(path, []byte(`{"keys":"no"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newTokens(c, slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("a damaged key file: %v", err)
	}
}

func TestTokensFollowTheConfiguration(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys.json")
	keyFile(t, keys, time.Now())
	secret := strings.Repeat("s", 32)
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	hs256, err := jwttoken.New([]byte(secret), "http://localhost:8000", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	oldToken, _, _ := hs256.Issue(testClaims, time.Now())
	alg := func(tok string) string {
		b, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
		var h map[string]any
		_ = json.Unmarshal(b, &h)
		s, _ := h["alg"].(string)
		return s
	}

	cases := map[string]struct {
		env                   map[string]string
		wantAlg               string
		acceptsHS256, publish bool
	}{
		"JWT_SECRET alone is HS256, as before":  {map[string]string{"JWT_SECRET": secret}, "HS256", true, false},
		"JWT_SIGNING_KEYS alone":                {map[string]string{"JWT_SIGNING_KEYS": keys}, "EdDSA", false, true},
		"both: keys sign, HS256 still verifies": {map[string]string{"JWT_SIGNING_KEYS": keys, "JWT_SECRET": secret}, "EdDSA", true, true},
		"production with keys":                  {map[string]string{"JWT_SIGNING_KEYS": keys, "APP_ENV": "production", "PUBLIC_BASE_URL": "http://localhost:8000", "SECRETS_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}, "EdDSA", false, true},
	}
	for name, tc := range cases {
		c := testConfig(t, tc.env)
		c.DataDir = filepath.Join(dir, "no-dev-key-here")
		tokens, err := newTokens(c, discard)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		tok, _, _ := tokens.Issue(testClaims, time.Now())
		if got := alg(tok); got != tc.wantAlg {
			t.Errorf("%s: a new token is %s, want %s", name, got, tc.wantAlg)
		}
		if _, err := tokens.Verify(oldToken, time.Now()); (err == nil) != tc.acceptsHS256 {
			t.Errorf("%s: an HS256 token of JWT_SECRET: %v", name, err)
		}
		if published := string(tokens.PublicJWKS()) != `{"keys":[]}`; published != tc.publish {
			t.Errorf("%s: JWKS %s", name, tokens.PublicJWKS())
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "no-dev-key-here")); err == nil {
		t.Error("a development key was made although keys were configured")
	}

	// Production never makes a key of its own.
	c := testConfig(t, map[string]string{"JWT_SECRET": secret})
	c.JWTSecret, c.Production, c.DataDir = "", true, filepath.Join(dir, "prod")
	if _, err := newTokens(c, discard); err == nil || !strings.Contains(err.Error(), "JWT_SIGNING_KEYS") {
		t.Errorf("production without keys: %v", err)
	}
	if _, err := os.Stat(c.DataDir); err == nil {
		t.Error("production made a development key")
	}
	// A bad JWT_SIGNING_KEYS is refused with a line that names it.
	for name, content := range map[string]string{
		"missing": "", "public only": `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"p","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`,
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".json")
		if content != "" {
			_ = os.WriteFile(path, []byte(content), 0o600)
		}
		c := testConfig(t, map[string]string{"JWT_SIGNING_KEYS": path})
		if _, err := newTokens(c, discard); err == nil || !strings.Contains(err.Error(), "JWT_SIGNING_KEYS") || strings.Contains(err.Error(), "\n") {
			t.Errorf("JWT_SIGNING_KEYS %s: %v", name, err)
		}
	}
}

// login returns an access token of the bootstrap admin.
func (s *server) login(t *testing.T) string {
	t.Helper()
	resp, err := http.PostForm(s.base+"/login/", url.Values{"username": {"root@example.com"}, "password": {"a long admin passphrase"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK || body.AccessToken == "" {
		t.Fatalf("login: %d, %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

// me is the status of GET /users/me with token.
func (s *server) me(t *testing.T, token string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+"/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// verifyElsewhere verifies token as another service does: keyfunc fetches
// the server's JWKS over HTTP and golang-jwt checks the token with it.
func (s *server) verifyElsewhere(t *testing.T, token string) *jwt.Token {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{s.base + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatalf("keyfunc: %v", err)
	}
	tok, err := jwt.Parse(token, kf.Keyfunc, jwt.WithIssuer("http://localhost:8000"), jwt.WithAudience("usersvc"),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("another service refuses our token: %v", err)
	}
	return tok
}

// TestRotatedKeysServeTokensOtherServicesVerify boots the service on a key
// set, rotates it twice (EdDSA, then ES256, then RS256) with restarts, as
// an operator would: each new key signs, another service verifies every
// token through the JWKS, and tokens signed before a rotation keep working.
func TestRotatedKeysServeTokensOtherServicesVerify(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "signing.json")
	env := map[string]string{
		"DATABASE_URL":     "sqlite:" + filepath.Join(dir, "db.sqlite"),
		"JWT_SIGNING_KEYS": keys,
		"HASH_MEMORY_KIB":  "8192",
		// The issuer of every token: stable across the restarts on other ports.
		"PUBLIC_BASE_URL": "http://localhost:8000",
		"ADMIN_EMAIL":     "root@example.com",
		"ADMIN_PASSWORD":  "a long admin passphrase",
	}
	var earlier []string
	for _, alg := range jwttoken.Algorithms {
		if status, _, errOut := runKeys(t, env, "keys", "rotate", "--alg", alg); status != 0 {
			t.Fatalf("keys rotate: %s", errOut)
		}
		kids := readKids(t, keys)
		srv := startServer(t, env)
		token := srv.login(t)
		tok := srv.verifyElsewhere(t, token)
		if tok.Header["alg"] != alg || tok.Header["kid"] != kids[len(kids)-1] || tok.Header["typ"] != "at+jwt" {
			t.Errorf("%s: header %v, want the new key %s", alg, tok.Header, kids[len(kids)-1])
		}
		if status := srv.me(t, token); status != http.StatusOK {
			t.Errorf("%s: GET /users/me with a new token: %d", alg, status)
		}
		for i, old := range earlier {
			if status := srv.me(t, old); status != http.StatusOK {
				t.Errorf("%s: a token of the key %s: %d", alg, jwttoken.Algorithms[i], status)
			}
			srv.verifyElsewhere(t, old)
		}
		earlier = append(earlier, token)

		// The metadata agrees with the tokens.
		resp, err := http.Get(srv.base + "/.well-known/oauth-authorization-server")
		if err != nil {
			t.Fatal(err)
		}
		var md map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&md)
		resp.Body.Close()
		// Its links are under PUBLIC_BASE_URL, the issuer.
		if iss, _ := tok.Claims.GetIssuer(); md["issuer"] != iss || md["jwks_uri"] != iss+"/.well-known/jwks.json" ||
			md["token_endpoint"] != iss+"/login/" {
			t.Errorf("metadata %v, token issuer %s", md, iss)
		}
		srv.stop()
	}
}

func TestServeRefusesABadKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{
		"DATABASE_URL":     "sqlite:" + filepath.Join(dir, "db.sqlite"),
		"JWT_SIGNING_KEYS": filepath.Join(dir, "missing.json"),
		"HTTP_ADDR":        testsupport.FreeAddr(t),
	}
	err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "JWT_SIGNING_KEYS") || exitCode(err) != 1 {
		t.Fatalf("serve with a missing key file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "db.sqlite")); err == nil {
		t.Error("the database was opened before the keys were checked")
	}
}
