package httpapi_test

import (
	"slices"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// TestOpenAPIWhatLintersAsk pins what Redocly's recommended rules and
// Spectral's spectral:oas ask of the document (make lint-openapi runs
// them), so a change that breaks it fails here without Node.js: every
// operation says who may call it (public ones with security: []) and what
// it does, the document names a contact, the issued refresh token is
// required, and GET /users/ answers one object schema, not a oneOf that
// client generators cannot tell apart.
func TestOpenAPIWhatLintersAsk(t *testing.T) {
	t.Parallel()
	doc := fetchOpenAPI(t, newHarness(t).srv)
	if doc.Info.Contact == nil {
		t.Error("info has no contact")
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.Description == "" {
				t.Errorf("%s has no description", name)
			}
			if op.Security == nil {
				t.Errorf("%s has no security: public operations say security: []", name)
				continue
			}
			s, ok := samples[op.OperationID]
			if !ok {
				continue // TestOpenAPIMatchesTheHandlers reports it
			}
			public := len(*op.Security) == 0 || slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 })
			if public == s.auth {
				t.Errorf("%s: security %v, but the sample request sends a token: %v", name, *op.Security, s.auth)
			}
		}
	}
	token := doc.Components.Schemas["Token"].Value
	if !slices.Contains(token.Required, "refresh_token") {
		t.Errorf("Token requires %v, not refresh_token, which every login and refresh issues", token.Required)
	}
	list := doc.Paths.Find("/users").Get.Responses.Value("200").Value.Content.Get("application/json").Schema.Value
	if len(list.OneOf) > 0 || len(list.AnyOf) > 0 || !list.Type.Is("object") {
		t.Errorf("GET /users/ 200 is not one object schema: type %v, %d oneOf, %d anyOf", list.Type, len(list.OneOf), len(list.AnyOf))
	}
	for _, name := range []string{"ProfileUpdate", "UserUpdate"} {
		if doc.Components.Schemas[name].Value.Not == nil {
			t.Errorf("%s does not refuse a body of nulls that changes nothing", name)
		}
	}
}
