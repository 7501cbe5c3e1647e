package httpapi

import (
	"net/http"
	"strconv"
)

// TokenKeys is what the discovery routes publish of the access tokens, so
// that other services verify them without our secret (PRODUCT.md §8.5).
type TokenKeys interface {
	// Issuer is the tokens' iss claim.
	Issuer() string
	// PublicJWKS is the JWK Set (RFC 7517) of the public keys that verify
	// the tokens, as JSON: {"keys":[]} when none is published (HS256).
	PublicJWKS() []byte
}

// jwksCacheControl lets verifiers and proxies keep the key set five
// minutes. A verifier that meets a kid it does not know refetches the set
// (most libraries do), so a key that starts signing after a rotation is
// picked up at once.
const jwksCacheControl = "public, max-age=300"

// handleJWKS serves the public keys, the one answer of the API that may be
// cached. Without keys (nil) it is 404.
func handleJWKS(keys TokenKeys) http.Handler {
	if keys == nil {
		return notFound()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		body := keys.PublicJWKS()
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", strconv.Itoa(len(body)))
		h.Set("Cache-Control", jwksCacheControl) // securityHeaders said no-store
		_, _ = w.Write(body)
	})
}

// authServerMetadata is the OAuth 2.0 authorization server metadata of
// RFC 8414: what this service is, as an authorization server, honestly.
type authServerMetadata struct {
	Issuer        string `json:"issuer"`
	TokenEndpoint string `json:"token_endpoint"`
	JWKSURI       string `json:"jwks_uri"`
	// There is no authorization endpoint, hence no response type: the
	// member is REQUIRED, and its honest value is empty.
	ResponseTypesSupported            []string `json:"response_types_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	ServiceDocumentation              string   `json:"service_documentation"`
}

// handleAuthServerMetadata serves RFC 8414 metadata. issuer is the tokens'
// iss; the endpoints are absolute URLs on the public base URL (or the
// request's host), as every link of the API is. Without keys (nil) it is 404.
func handleAuthServerMetadata(keys TokenKeys) http.Handler {
	if keys == nil {
		return notFound()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		base := baseURL(r)
		writeJSON(w, http.StatusOK, authServerMetadata{
			Issuer:                            keys.Issuer(),
			TokenEndpoint:                     base + "/login/",
			JWKSURI:                           base + "/.well-known/jwks.json",
			ResponseTypesSupported:            []string{},
			GrantTypesSupported:               []string{"password", "refresh_token"},
			TokenEndpointAuthMethodsSupported: []string{"none"},
			ServiceDocumentation:              base + "/docs",
		})
	})
}

func notFound() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeDetail(w, http.StatusNotFound, "Not Found")
	})
}
