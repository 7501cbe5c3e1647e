package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// signedTokenKeys are tokens signed with a new key of each alg (the last
// one signs), as JWT_SIGNING_KEYS gives them.
func signedTokenKeys(tb testing.TB, algs ...string) *jwttoken.Tokens {
	tb.Helper()
	var keys []jwttoken.Key
	for _, alg := range algs {
		k, err := jwttoken.GenerateKey(alg, time.Now())
		if err != nil {
			tb.Fatal(err)
		}
		keys = append(keys, k)
	}
	set, err := jwttoken.NewKeySet(keys...)
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := jwttoken.NewWithKeys(set, nil, jwtIssuer, accessTTL)
	if err != nil {
		tb.Fatal(err)
	}
	return tokens
}

// hs256TokenKeys are the harness's HS256 tokens, which publish no key.
func hs256TokenKeys(tb testing.TB) *jwttoken.Tokens {
	tb.Helper()
	tokens, err := jwttoken.New(jwtKey, jwtIssuer, accessTTL)
	if err != nil {
		tb.Fatal(err)
	}
	return tokens
}

func discoveryServer(keys httpapi.TokenKeys, opts httpapi.Options) http.Handler {
	logger, _ := newTestLogger()
	opts.TokenKeys = keys
	return httpapi.NewServer(logger, httpapi.UseCaseParts{}, opts)
}

// TestAnotherServiceVerifiesOurTokens is what the JWKS is for: a service
// that holds no secret of ours, using another JOSE library (keyfunc over
// MicahParks/jwkset, with golang-jwt), fetches the keys over HTTP from a
// running server and verifies a token of each algorithm.
func TestAnotherServiceVerifiesOurTokens(t *testing.T) {
	t.Parallel()
	for _, alg := range jwttoken.Algorithms {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			tokens := signedTokenKeys(t, jwttoken.EdDSA, alg) // the last signs
			srv := httptest.NewServer(discoveryServer(tokens, httpapi.Options{}))
			defer srv.Close()
			tok, _, err := tokens.Issue(ports.AccessClaims{UserID: unknownID, Role: domain.RoleManager, SessionID: "s1"}, time.Now())
			if err != nil {
				t.Fatal(err)
			}

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			kf, err := keyfunc.NewDefaultCtx(ctx, []string{srv.URL + "/.well-known/jwks.json"})
			if err != nil {
				t.Fatalf("keyfunc: %v", err)
			}
			parsed, err := jwt.Parse(tok, kf.Keyfunc, jwt.WithIssuer(jwtIssuer), jwt.WithAudience("usersvc"),
				jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithValidMethods([]string{alg}))
			if err != nil {
				t.Fatalf("another library refuses our token: %v", err)
			}
			if parsed.Header["typ"] != "at+jwt" {
				t.Errorf("typ %v", parsed.Header["typ"])
			}
			sub, _ := parsed.Claims.GetSubject()
			if c, _ := parsed.Claims.(jwt.MapClaims); sub != unknownID || c["role"] != "MANAGER" || !slices.Equal(toStrings(c["amr"]), []string{"pwd"}) {
				t.Errorf("claims %v", parsed.Claims)
			}
			// A token it never saw the key of is refused by it too.
			other := signedTokenKeys(t, alg)
			forged, _, _ := other.Issue(ports.AccessClaims{UserID: unknownID, Role: domain.RoleAdmin, SessionID: "s1"}, time.Now())
			if _, err := jwt.Parse(forged, kf.Keyfunc); err == nil {
				t.Error("a token of an unpublished key verified")
			}
		})
	}
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

func TestJWKSPublishesPublicKeysOnly(t *testing.T) {
	t.Parallel()
	srv := discoveryServer(signedTokenKeys(t, jwttoken.Algorithms...), httpapi.Options{})
	for _, path := range []string{"/.well-known/jwks.json", "/.well-known/jwks.json/"} {
		rec := serve(srv, newRequest(t, http.MethodGet, path, "", nil))
		wantStatus(t, rec, http.StatusOK)
		if got := rec.Header().Get("Cache-Control"); got != "public, max-age=300" {
			t.Errorf("GET %s: Cache-Control %q, want public, max-age=300", path, got)
		}
		if got := rec.Header().Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: the other security headers are gone: %v", path, rec.Header())
		}
		var set struct {
			Keys []map[string]any `json:"keys"`
		}
		decodeBody(t, rec, &set)
		if len(set.Keys) != 3 {
			t.Fatalf("GET %s: %d keys, want 3: %s", path, len(set.Keys), rec.Body)
		}
		for i, k := range set.Keys {
			want := map[string]string{"alg": jwttoken.Algorithms[i], "kty": []string{"OKP", "EC", "RSA"}[i], "use": "sig"}
			for m, v := range want {
				if k[m] != v {
					t.Errorf("key %d: %s = %v, want %s", i, m, k[m], v)
				}
			}
			if kid, _ := k["kid"].(string); kid == "" {
				t.Errorf("key %d has no kid", i)
			}
			for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
				if _, ok := k[m]; ok {
					t.Errorf("key %d (%v) publishes the private member %q", i, k["kty"], m)
				}
			}
		}
	}
	// Only this route may be cached.
	for _, path := range []string{"/healthz", "/.well-known/oauth-authorization-server", "/openapi.json"} {
		if got := serve(srv, newRequest(t, http.MethodGet, path, "", nil)).Header().Get("Cache-Control"); got != "no-store" {
			t.Errorf("GET %s: Cache-Control %q, want no-store", path, got)
		}
	}
}

func TestJWKSIsEmptyUnderHS256(t *testing.T) {
	t.Parallel()
	rec := serve(discoveryServer(hs256TokenKeys(t), httpapi.Options{}), newRequest(t, http.MethodGet, "/.well-known/jwks.json", "", nil))
	wantStatus(t, rec, http.StatusOK)
	if got := rec.Body.String(); got != `{"keys":[]}` {
		t.Errorf("body %s, want {\"keys\":[]}", got)
	}
}

func TestDiscoveryIsNotFoundWithoutKeys(t *testing.T) {
	t.Parallel()
	srv := discoveryServer(nil, httpapi.Options{})
	for _, path := range []string{"/.well-known/jwks.json", "/.well-known/oauth-authorization-server"} {
		wantStatus(t, serve(srv, newRequest(t, http.MethodGet, path, "", nil)), http.StatusNotFound)
	}
}

// authMetadata is RFC 8414 metadata as a client reads it.
type authMetadata struct {
	Issuer                            string   `json:"issuer"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ServiceDocumentation              string   `json:"service_documentation"`
}

func TestAuthorizationServerMetadata(t *testing.T) {
	t.Parallel()
	tokens := signedTokenKeys(t, jwttoken.EdDSA)
	srv := httptest.NewServer(discoveryServer(tokens, httpapi.Options{}))
	defer srv.Close()

	get := func(url string, v any) *http.Response {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", url, resp.StatusCode, body)
		}
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", url, err, body)
		}
		return resp
	}
	var md authMetadata
	get(srv.URL+"/.well-known/oauth-authorization-server", &md)
	want := authMetadata{
		Issuer:                            jwtIssuer,
		TokenEndpoint:                     srv.URL + "/login/",
		JWKSURI:                           srv.URL + "/.well-known/jwks.json",
		ResponseTypesSupported:            []string{},
		GrantTypesSupported:               []string{"password", "refresh_token"},
		TokenEndpointAuthMethodsSupported: []string{"none"},
		ServiceDocumentation:              srv.URL + "/docs",
	}
	if md.Issuer != want.Issuer || md.TokenEndpoint != want.TokenEndpoint || md.JWKSURI != want.JWKSURI ||
		md.ResponseTypesSupported == nil || len(md.ResponseTypesSupported) != 0 ||
		!slices.Equal(md.GrantTypesSupported, want.GrantTypesSupported) ||
		!slices.Equal(md.TokenEndpointAuthMethodsSupported, want.TokenEndpointAuthMethodsSupported) ||
		md.ServiceDocumentation != want.ServiceDocumentation {
		t.Errorf("metadata\n%+v\nwant\n%+v", md, want)
	}
	// The jwks_uri it names serves the keys of the tokens it issues.
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	get(md.JWKSURI, &set)
	if len(set.Keys) != 1 || set.Keys[0]["kid"] != tokens.SigningKeyID() {
		t.Errorf("jwks_uri serves %v, want the key %s", set.Keys, tokens.SigningKeyID())
	}

	// Behind a proxy, PUBLIC_BASE_URL makes the links.
	rec := serve(discoveryServer(tokens, httpapi.Options{PublicBaseURL: "https://users.example.com/"}),
		newRequest(t, http.MethodGet, "/.well-known/oauth-authorization-server/", "", nil))
	wantStatus(t, rec, http.StatusOK)
	var behind authMetadata
	decodeBody(t, rec, &behind)
	if behind.TokenEndpoint != "https://users.example.com/login/" || behind.JWKSURI != "https://users.example.com/.well-known/jwks.json" {
		t.Errorf("behind a proxy: %+v", behind)
	}
}
