package httpapi

import (
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gorilla/mux"

	"github.com/usersvc/usersvc/domain"
)

// undocumentedRoutes are the routes the OpenAPI document leaves out: the
// document itself and its viewer, as FastAPI leaves out /openapi.json and
// /docs (include_in_schema=False).
var undocumentedRoutes = []string{"/openapi.json", "/docs", "/docs/{file}"}

// isConsoleRoute: the console's pages (/admin, /account) and its
// stylesheet are for people in a browser, with cookies and CSRF tokens,
// not an API for programs: the document leaves them out on purpose
// (console.go, PRODUCT.md 8.9).
func isConsoleRoute(path string) bool {
	for _, root := range []string{"/admin", "/account", "/assets"} {
		if path == root || strings.HasPrefix(path, root+"/") {
			return true
		}
	}
	return false
}

// loadOpenAPI loads and validates the embedded document with kin-openapi.
// For a 3.1 document kin-openapi validates the schemas with a JSON Schema
// 2020-12 validator (santhosh-tekuri/jsonschema), examples included.
func loadOpenAPI(tb testing.TB) *openapi3.T {
	tb.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(openAPIDocument)
	if err != nil {
		tb.Fatalf("loading openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		tb.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" || !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if !strings.Contains(doc.Info.Description, "trailing slash") {
		t.Error("info.description does not say that every path also answers with a trailing slash")
	}

	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		if path != "/" && strings.HasSuffix(path, "/") {
			t.Errorf("path %s: write paths without the trailing slash", path)
		}
		for method, op := range item.Operations() {
			where := method + " " + path
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", where)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %s is also %s's", where, op.OperationID, other)
			}
			ids[op.OperationID] = where
			if len(op.Tags) == 0 {
				t.Errorf("%s: no tag", where)
			}
			if op.Summary == "" {
				t.Errorf("%s: no summary", where)
			}
			if op.Security != nil && len(*op.Security) > 0 && op.Responses.Status(http.StatusUnauthorized) == nil {
				t.Errorf("%s: protected, but no 401", where)
			}
			if op.RequestBody != nil {
				for ct, mt := range op.RequestBody.Value.Content {
					if s := mt.Schema.Value; s.Type.Is("object") && (s.AdditionalProperties.Has == nil || *s.AdditionalProperties.Has) {
						t.Errorf("%s: the %s body schema does not say additionalProperties: false", where, ct)
					}
				}
			}
		}
	}

	oauth := doc.Components.SecuritySchemes["OAuth2Password"]
	if oauth == nil || oauth.Value.Type != "oauth2" || oauth.Value.Flows == nil || oauth.Value.Flows.Password == nil {
		t.Fatal("no OAuth2 password flow in components.securitySchemes")
	}
	if p := oauth.Value.Flows.Password; p.TokenURL != "/login/" || p.RefreshURL != "/login/" {
		t.Errorf("password flow tokenUrl %q, refreshUrl %q: want /login/", p.TokenURL, p.RefreshURL)
	}
	if b := doc.Components.SecuritySchemes["BearerJWT"]; b == nil || b.Value.Type != "http" || b.Value.Scheme != "bearer" || b.Value.BearerFormat != "JWT" {
		t.Error("no bearer JWT scheme in components.securitySchemes")
	}
}

// nopUseCases satisfies UseCases and implements none of it (a call
// panics): the router is built without calling any, and UseCaseParts
// (export_test.go) falls back on it for the use cases a test leaves unset.
type nopUseCases struct{ UseCases }

// TestOpenAPIDescribesEveryRoute walks the router addRoutes builds and the
// document: each route (trailing slash trimmed) and method must be an
// operation, and each operation a route.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	r := mux.NewRouter()
	log, lim := slog.New(slog.NewTextHandler(io.Discard, nil)), newLimits(Options{}, nil)
	addRoutes(r, deps{log: log, uc: nopUseCases{}, lim: lim, hooks: nopWebhooks{}})
	addConsoleRoutes(r, newConsole(consoleDeps{log: log, uc: nopUseCases{}, lim: lim}))

	routes := map[string]bool{}
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			return err
		}
		if tpl != "/" {
			tpl = strings.TrimSuffix(tpl, "/")
		}
		for _, m := range methods {
			routes[m+" "+tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	doc := loadOpenAPI(t)
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}

	for _, key := range slices.Sorted(maps.Keys(routes)) {
		_, path, _ := strings.Cut(key, " ")
		if slices.Contains(undocumentedRoutes, path) || isConsoleRoute(path) {
			if documented[key] {
				t.Errorf("%s is documented but listed in undocumentedRoutes", key)
			}
			continue
		}
		if !documented[key] {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}
	for _, key := range slices.Sorted(maps.Keys(documented)) {
		if !routes[key] {
			t.Errorf("openapi.json describes %s, which no route serves", key)
		}
	}
	if len(routes) == 0 || len(documented) == 0 {
		t.Fatalf("found %d routes and %d operations", len(routes), len(documented))
	}
}

// TestOpenAPIFieldSchemasFollowTheDomain checks the document's field
// schemas against the domain's rules on samples either side of each rule:
// the document accepts a value exactly when the domain does.
func TestOpenAPIFieldSchemasFollowTheDomain(t *testing.T) {
	t.Parallel()
	doc := loadOpenAPI(t)
	schema := func(name string) *openapi3.Schema {
		ref := doc.Components.Schemas[name]
		if ref == nil {
			t.Fatalf("no schema %s", name)
		}
		return ref.Value
	}
	docAccepts := func(name string, v any) bool {
		return schema(name).VisitJSON(v, openapi3.EnableJSONSchema2020()) == nil
	}
	profileErr := func(p domain.Profile) bool { return p.Validate() == nil }

	long := func(n int) string { return strings.Repeat("a", n) }
	cases := []struct {
		schema string
		value  string
		domain bool
	}{}
	add := func(schema string, ok func(string) bool, values ...string) {
		for _, v := range values {
			cases = append(cases, struct {
				schema string
				value  string
				domain bool
			}{schema, v, ok(v)})
		}
	}
	add("Nickname", func(s string) bool { return domain.ValidateNickname(s) == nil },
		"ab", "abc", "clever_otter_042", "a-b_C9", long(50), long(51), "with space", "émile", "dot.ted", "ünï", "abc\n")
	add("ProfilePictureURL", func(s string) bool { return profileErr(domain.Profile{ProfilePictureURL: s}) },
		"", "https://example.com/a.png", "http://example.com/x/y.JPEG", "HTTPS://Example.com/a.webp?size=2#top",
		"https://example.com/a.gif", "https://example.com:8443/a.jpg", "https://example.com/a.svg", "https://example.com/",
		"ftp://example.com/a.png", "https:///a.png", "https://user@example.com/a.png", "//example.com/a.png",
		"https://example.com/a b.png", "https://example.com/"+long(250)+".png")
	add("LinkedInProfileURL", func(s string) bool { return profileErr(domain.Profile{LinkedInProfileURL: s}) },
		"", "https://linkedin.com/in/ada", "https://www.linkedin.com/in/ada", "HTTP://WWW.LinkedIn.COM", "https://uk.linkedin.com:443/in/x?a=b",
		"https://notlinkedin.com/in/ada", "https://linkedin.com.evil.example/in/ada", "https://evil.example/linkedin.com",
		"mailto:ada@linkedin.com", "https://ada@linkedin.com/")
	add("GitHubProfileURL", func(s string) bool { return profileErr(domain.Profile{GitHubProfileURL: s}) },
		"", "https://github.com/ada", "https://gist.github.com/ada", "http://GitHub.com", "https://github.com#x",
		"https://github.community/ada", "https://github.com.evil.example", "https://evilgithub.com/ada", "github.com/ada")
	add("FirstName", func(s string) bool { return profileErr(domain.Profile{FirstName: s}) }, "", "Ada", long(100), long(101), strings.Repeat("é", 100))
	add("LastName", func(s string) bool { return profileErr(domain.Profile{LastName: s}) }, long(100), long(101))
	add("Bio", func(s string) bool { return profileErr(domain.Profile{Bio: s}) }, long(500), long(501))
	add("PreferredLanguage", func(s string) bool { return profileErr(domain.Profile{PreferredLanguage: s}) }, "en", long(50), long(51))
	add("NewPassword", func(s string) bool {
		err := domain.ValidatePassword("password", s, "", "")
		return err == nil
	}, "Short-1", "Eight-ch", "Tr0ub4dor-and-3-horses", long(127)+"!", long(128)+"!")
	add("Role", func(s string) bool { _, err := domain.ParseRole(s); return err == nil },
		"ANONYMOUS", "AUTHENTICATED", "MANAGER", "ADMIN", "admin", "ROOT", "")
	for _, e := range domain.AuditEvents() {
		add("AuditEventType", func(string) bool { return true }, string(e))
	}
	add("AuditEventType", func(string) bool { return false }, "nothing_happened")

	for _, c := range cases {
		if got := docAccepts(c.schema, c.value); got != c.domain {
			t.Errorf("%s %q: the document accepts it: %v; the domain: %v", c.schema, c.value, got, c.domain)
		}
	}
	// Profile fields are nullable: null clears them.
	for _, name := range []string{"FirstName", "LastName", "Bio", "PreferredLanguage", "ProfilePictureURL", "LinkedInProfileURL", "GitHubProfileURL"} {
		if !docAccepts(name, nil) {
			t.Errorf("%s does not accept null", name)
		}
	}
	if got, want := len(schema("Role").Enum), len(domain.Roles()); got != want {
		t.Errorf("Role lists %d roles, the domain %d", got, want)
	}
	if got, want := len(schema("AuditEventType").Enum), len(domain.AuditEvents()); got != want {
		t.Errorf("AuditEventType lists %d events, the domain %d", got, want)
	}
}
