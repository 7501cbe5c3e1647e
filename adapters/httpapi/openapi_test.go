package httpapi_test

// The OpenAPI document against the handlers: each operation is driven
// through the real server for its success and its failures, and every
// answer (and, where the document can tell, every request) is checked with
// kin-openapi's openapi3filter. At the end every status the document lists
// must have been seen: the document claims nothing the handlers never say.

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

func init() {
	// kin-openapi reads text/plain bodies but not pages; ours are strings.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// fetchOpenAPI gets GET /openapi.json from srv and loads it.
func fetchOpenAPI(tb testing.TB, srv http.Handler) *openapi3.T {
	tb.Helper()
	rec := serve(srv, newRequest(tb, http.MethodGet, "/openapi.json", "", nil))
	wantStatus(tb, rec, http.StatusOK)
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Errorf("GET /openapi.json: Content-Type %q, want application/json", ct)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(rec.Body.Bytes())
	if err != nil {
		tb.Fatalf("loading /openapi.json: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		tb.Fatalf("/openapi.json is not a valid OpenAPI document: %v", err)
	}
	return doc
}

// reqWant says what the document must say of a request.
type reqWant int

const (
	reqConforms reqWant = iota // the document accepts the request
	reqBreaks                  // the document refuses it (the handler must too)
	reqEither                  // the document cannot tell (a rule on values, a rate)
)

// apiChecker validates answers against the document and records which
// statuses of which operations were seen.
type apiChecker struct {
	doc    *openapi3.T
	router routers.Router

	mu   sync.Mutex
	seen map[string]map[int]bool // operationId → statuses
}

func newAPIChecker(tb testing.TB, doc *openapi3.T) *apiChecker {
	tb.Helper()
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	// Formats are annotations in JSON Schema 2020-12: assert the two the
	// handlers enforce. A uuid is any 8-4-4-4-12 hex string
	// (domain.CanonicalUserID); the email check is kin-openapi's loose one.
	doc.SetStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(uuidPattern))
	doc.SetStringFormatValidator("email", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForEmail))
	return &apiChecker{doc: doc, router: router, seen: map[string]map[int]bool{}}
}

const uuidPattern = `^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`

// bearerAuth is the document's security as the handlers read it: a
// request without "Authorization: Bearer …" does not conform.
func bearerAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	scheme, token, ok := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return in.NewError(errors.New("no bearer token"))
	}
	return nil
}

// check serves req, wants status, and validates the request (as want says)
// and the answer against the operation the request names.
func (c *apiChecker) check(tb testing.TB, srv http.Handler, req *http.Request, status int, want reqWant) *httptest.ResponseRecorder {
	tb.Helper()
	body, err := io.ReadAll(req.Body)
	if err != nil {
		tb.Fatal(err)
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	rec := serve(srv, req)
	if rec.Code != status {
		tb.Fatalf("%s %s: status %d, want %d; body: %.500s", req.Method, req.URL, rec.Code, status, rec.Body)
	}

	// The document writes paths without their trailing slash.
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	if p := vreq.URL.Path; p != "/" && strings.HasSuffix(p, "/") {
		vreq.URL.Path = strings.TrimSuffix(p, "/")
		vreq.URL.RawPath = ""
	}
	route, params, err := c.router.FindRoute(vreq)
	if err != nil {
		tb.Fatalf("%s %s: no operation in the document: %v", req.Method, req.URL, err)
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: bearerAuth, MultiError: true, SchemaValidationOptions: c.doc.GetSchemaValidationOptions(),
		},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	switch {
	case want == reqConforms && reqErr != nil:
		tb.Errorf("%s %s: the document refuses this request, which the handler answers %d: %v", req.Method, req.URL, rec.Code, reqErr)
	case want == reqBreaks && reqErr == nil:
		tb.Errorf("%s %s: the document accepts this request, which the handler refuses with %d", req.Method, req.URL, rec.Code)
	}

	rin := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true, MultiError: true, SchemaValidationOptions: c.doc.GetSchemaValidationOptions(),
		},
	}
	rin.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(context.Background(), rin); err != nil {
		tb.Errorf("%s %s → %d does not match the document: %v\nbody: %.1000s", req.Method, req.URL, rec.Code, err, rec.Body)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	op := route.Operation.OperationID
	if c.seen[op] == nil {
		c.seen[op] = map[int]bool{}
	}
	c.seen[op][rec.Code] = true
	return rec
}

// operations lists the document's operations by operationId.
func (c *apiChecker) operations() map[string]*openapi3.Operation {
	ops := map[string]*openapi3.Operation{}
	for _, item := range c.doc.Paths.Map() {
		for _, op := range item.Operations() {
			ops[op.OperationID] = op
		}
	}
	return ops
}

// documents reports whether the operation lists status.
func documents(op *openapi3.Operation, status int) bool {
	return op.Responses.Value(strconv.Itoa(status)) != nil
}

// opSample is a request that reaches an operation's use case, with a body
// the document accepts.
type opSample struct {
	method, path string
	body         any
	auth         bool
}

// samples holds one for every operation.
var samples = map[string]opSample{
	"healthz":              {http.MethodGet, "/healthz", nil, false},
	"healthzHead":          {http.MethodHead, "/healthz", nil, false},
	"readyz":               {http.MethodGet, "/readyz", nil, false},
	"readyzHead":           {http.MethodHead, "/readyz", nil, false},
	"metrics":              {http.MethodGet, "/metrics", nil, false},
	"register":             {http.MethodPost, "/register/", obj{"email": "sample@example.com", "password": testPassword}, false},
	"login":                {http.MethodPost, "/login/", form{"username": {"sample@example.com"}, "password": {testPassword}}, false},
	"verifyEmail":          {http.MethodGet, "/verify-email/" + unknownID + "/sometoken", nil, false},
	"refreshToken":         {http.MethodPost, "/token/refresh", obj{"refresh_token": "sometoken"}, false},
	"logout":               {http.MethodPost, "/logout", obj{"refresh_token": "sometoken"}, true},
	"requestPasswordReset": {http.MethodPost, "/password-reset/request", obj{"email": "sample@example.com"}, false},
	"confirmPasswordReset": {http.MethodPost, "/password-reset/confirm", obj{"token": "sometoken", "new_password": newPassword}, false},
	"passwordResetPage":    {http.MethodGet, "/password-reset?token=sometoken", nil, false},
	"passwordResetForm": {http.MethodPost, "/password-reset",
		form{"token": {"sometoken"}, "new_password": {newPassword}, "repeat_password": {newPassword}}, false},
	"resendVerification": {http.MethodPost, "/verify-email/resend", obj{"email": "sample@example.com"}, false},
	"unlockPage":         {http.MethodGet, "/unlock?token=sometoken", nil, false},
	"unlockWithToken":    {http.MethodPost, "/unlock", obj{"token": "sometoken"}, false},
	"lockUser":           {http.MethodPost, "/users/" + unknownID + "/lock", nil, true},
	"getMe":              {http.MethodGet, "/users/me", nil, true},
	"updateMe":           {http.MethodPatch, "/users/me", obj{"bio": "Hello"}, true},
	"deleteMe":           {http.MethodDelete, "/users/me", obj{"password": testPassword}, true},
	"changePassword":     {http.MethodPut, "/users/me/password", obj{"current_password": testPassword, "new_password": newPassword}, true},
	"listAuditEvents":    {http.MethodGet, "/audit-log?limit=5", nil, true},
	"listUsers":          {http.MethodGet, "/users/?skip=0&limit=10", nil, true},
	"createUser":         {http.MethodPost, "/users/", obj{"email": "sample@example.com", "password": testPassword}, true},
	"getUser":            {http.MethodGet, "/users/" + unknownID, nil, true},
	"updateUser":         {http.MethodPut, "/users/" + unknownID, obj{"bio": "Hello"}, true},
	"deleteUser":         {http.MethodDelete, "/users/" + unknownID, nil, true},
	"upgradeUser":        {http.MethodPost, "/users/" + unknownID + "/upgrade", nil, true},
	"unlockUser":         {http.MethodPost, "/users/" + unknownID + "/unlock", nil, true},
	"changeUserRole":     {http.MethodPatch, "/users/" + unknownID + "/role", obj{"role": "MANAGER"}, true},

	// The discovery routes (discovery.go).
	"jwks":                        {http.MethodGet, "/.well-known/jwks.json", nil, false},
	"authorizationServerMetadata": {http.MethodGet, "/.well-known/oauth-authorization-server", nil, false},

	// The second factor (mfa.go).
	"loginSecondFactor":       {http.MethodPost, "/login/mfa", obj{"mfa_token": "sometoken", "code": "123456"}, false},
	"enrolTOTP":               {http.MethodPost, "/users/me/mfa/totp", obj{"password": testPassword}, true},
	"disableTOTP":             {http.MethodDelete, "/users/me/mfa/totp", obj{"password": testPassword, "code": "123456"}, true},
	"confirmTOTP":             {http.MethodPost, "/users/me/mfa/totp/confirm", obj{"code": "123456"}, true},
	"regenerateRecoveryCodes": {http.MethodPost, "/users/me/mfa/recovery-codes", obj{"code": "123456"}, true},
	"resetSecondFactor":       {http.MethodPost, "/users/" + unknownID + "/mfa/reset", nil, true},
	// The account lifecycle (lifecycle_api_test.go).
	"listMySessions":     {http.MethodGet, "/users/me/sessions", nil, true},
	"endMyOtherSessions": {http.MethodDelete, "/users/me/sessions", nil, true},
	"endMySession":       {http.MethodDelete, "/users/me/sessions/" + unknownID, nil, true},
	"requestEmailChange": {http.MethodPost, "/users/me/email", obj{"new_email": "sample@example.com", "password": testPassword}, true},
	"emailChangePage":    {http.MethodGet, "/email-change?token=sometoken", nil, false},
	"confirmEmailChange": {http.MethodPost, "/email-change/confirm", obj{"token": "sometoken"}, false},
	"invitationPage":     {http.MethodGet, "/invitation?token=sometoken", nil, false},
	"acceptInvitation":   {http.MethodPost, "/invitations/accept", obj{"token": "sometoken", "password": newPassword}, false},
	"inviteUser":         {http.MethodPost, "/users/invite", obj{"email": "sample@example.com"}, true},
	"resendInvitation":   {http.MethodPost, "/users/" + unknownID + "/invitation", nil, true},
	"listUserSessions":   {http.MethodGet, "/users/" + unknownID + "/sessions", nil, true},
	"endUserSessions":    {http.MethodDelete, "/users/" + unknownID + "/sessions", nil, true},

	// The webhook routes (webhooks.go).
	"createWebhook":         {http.MethodPost, "/webhooks", obj{"url": "https://hooks.example.com/usersvc", "events": []string{"*"}}, true},
	"listWebhooks":          {http.MethodGet, "/webhooks", nil, true},
	"deleteWebhook":         {http.MethodDelete, "/webhooks/" + unknownID, nil, true},
	"listWebhookDeliveries": {http.MethodGet, "/webhooks/" + unknownID + "/deliveries", nil, true},
}

func (s opSample) request(tb testing.TB, token string) *http.Request {
	tb.Helper()
	if !s.auth {
		token = ""
	}
	return newRequest(tb, s.method, s.path, token, s.body)
}

func multipartBody(tb testing.TB, fields map[string]string) rawBody {
	tb.Helper()
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if err := w.WriteField(k, fields[k]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return rawBody{w.FormDataContentType(), b.Bytes()}
}

// withAccept sets the Accept header of req.
func withAccept(req *http.Request, accept string) *http.Request {
	req.Header.Set("Accept", accept)
	return req
}

func TestOpenAPIMatchesTheHandlers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	c := newAPIChecker(t, fetchOpenAPI(t, h.srv))
	ops := c.operations()
	for id := range ops {
		if _, ok := samples[id]; !ok {
			t.Errorf("operation %s has no sample request", id)
		}
	}
	for id := range samples {
		if ops[id] == nil {
			t.Errorf("sample %s names no operation", id)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// do checks one request against the harness.
	do := func(t *testing.T, status int, want reqWant, method, target, token string, body any) *httptest.ResponseRecorder {
		t.Helper()
		return c.check(t, h.srv, newRequest(t, method, target, token, body), status, want)
	}

	// Failures every operation of a kind shares, from one sample each. The
	// 500s and 503s come from the real use cases on ports that fail
	// (portFaultServer): past authentication, so that each operation's own
	// use case meets the fault, and all the way down, as when the
	// database is down, so that authentication meets it first.
	t.Run("faults", func(t *testing.T) {
		unavailable, boom := h.portFaultServer(domain.ErrUnavailable, true), h.portFaultServer(errors.New("boom"), true)
		unavailableDown, boomDown := h.portFaultServer(domain.ErrUnavailable, false), h.portFaultServer(errors.New("boom"), false)
		// GET /users/me answers with the user its authentication read:
		// only authentication can fail it.
		answeredFromAuthentication := map[string]bool{"getMe": true}
		token := h.admin.Token
		// DELETE /users/me/sessions/{id} reaches the store only for a
		// session of the caller's.
		faultSample := func(id string) opSample {
			s := samples[id]
			if id == "endMySession" {
				s.path = "/users/me/sessions/" + h.sessionOf(token)
			}
			return s
		}
		logger, _ := newTestLogger()
		metricsOn := httpapi.NewServer(logger, h.svc, httpapi.Options{Metrics: prometheus.NewRegistry()})
		for _, id := range slices.Sorted(maps.Keys(ops)) {
			op, s := ops[id], faultSample(id)
			t.Run(id, func(t *testing.T) {
				t.Parallel() // the checker and the servers are safe for concurrent use
				if documents(op, 503) {
					if !answeredFromAuthentication[id] {
						c.check(t, unavailable, s.request(t, token), 503, reqConforms)
					}
					c.check(t, unavailableDown, s.request(t, token), 503, reqConforms)
				}
				if documents(op, 500) {
					if !answeredFromAuthentication[id] {
						c.check(t, boom, s.request(t, token), 500, reqConforms)
					}
					c.check(t, boomDown, s.request(t, token), 500, reqConforms)
				}
				if documents(op, 401) && s.auth {
					c.check(t, unavailable, s.request(t, ""), 401, reqBreaks)
					c.check(t, unavailable, s.request(t, "not-a-token"), 401, reqConforms)
				}
				if documents(op, 413) {
					// Two bytes past the 1 MiB cap (decode.go): refused all
					// the same, and half the copying under the race detector.
					huge := jsonBody(`"` + strings.Repeat("x", 1<<20) + `"`)
					c.check(t, unavailable, newRequest(t, s.method, s.path, token, huge), 413, reqBreaks)
				}
				if documents(op, 415) {
					c.check(t, unavailable, newRequest(t, s.method, s.path, token, rawBody{"text/plain", []byte("x")}), 415, reqBreaks)
				}
				if id == "metrics" {
					c.check(t, metricsOn, s.request(t, ""), 200, reqConforms)
					c.check(t, h.srv, s.request(t, ""), 404, reqConforms)
					// Production: the bearer of METRICS_TOKEN only; the
					// document cannot tell production from development.
					prod := httpapi.NewServer(logger, h.svc, httpapi.Options{Metrics: prometheus.NewRegistry(),
						ProtectMetrics: true, MetricsToken: "metrics-token"})
					c.check(t, prod, s.request(t, ""), 401, reqEither)
					c.check(t, prod, newRequest(t, s.method, s.path, "metrics-token", nil), 200, reqConforms)
					noToken := httpapi.NewServer(logger, h.svc, httpapi.Options{Metrics: prometheus.NewRegistry(), ProtectMetrics: true})
					c.check(t, noToken, newRequest(t, s.method, s.path, "anything", nil), 404, reqConforms)
				}
			})
		}
	})

	t.Run("rate limits", func(t *testing.T) {
		limited := newHarnessWith(t, httpapi.Options{RateLimits: true})
		for _, id := range slices.Sorted(maps.Keys(ops)) {
			if !documents(ops[id], 429) {
				continue
			}
			s := samples[id]
			t.Run(id, func(t *testing.T) {
				for range 100 {
					rec := serve(limited.srv, s.request(t, ""))
					if rec.Code == http.StatusTooManyRequests {
						c.check(t, limited.srv, s.request(t, ""), 429, reqEither)
						return
					}
				}
				t.Fatal("no 429 after 100 requests")
			})
		}
	})

	// Role failures: an AUTHENTICATED user on the staff routes, a MANAGER on the ADMIN ones.
	t.Run("roles", func(t *testing.T) {
		user := h.user(domain.RoleAuthenticated)
		mgr := h.user(domain.RoleManager)
		for _, id := range []string{"listUsers", "createUser", "getUser", "updateUser", "deleteUser", "upgradeUser", "unlockUser", "listAuditEvents", "changeUserRole"} {
			c.check(t, h.srv, samples[id].request(t, user.Token), 403, reqConforms)
		}
		for _, id := range []string{"listAuditEvents", "changeUserRole"} {
			c.check(t, h.srv, samples[id].request(t, mgr.Token), 403, reqConforms)
		}
		for _, id := range []string{"createWebhook", "listWebhooks", "deleteWebhook", "listWebhookDeliveries"} {
			c.check(t, h.srv, samples[id].request(t, user.Token), 403, reqConforms)
			c.check(t, h.srv, samples[id].request(t, mgr.Token), 403, reqConforms)
		}
	})

	t.Run("ops", func(t *testing.T) {
		for _, id := range []string{"healthz", "healthzHead", "readyz", "readyzHead"} {
			c.check(t, h.srv, samples[id].request(t, ""), 200, reqConforms)
		}
	})

	t.Run("discovery", func(t *testing.T) {
		logger, _ := newTestLogger()
		for name, keys := range map[string]httpapi.TokenKeys{
			"HS256": hs256TokenKeys(t), "signed": signedTokenKeys(t, jwttoken.Algorithms...),
		} {
			srv := httpapi.NewServer(logger, h.svc, httpapi.Options{TokenKeys: keys})
			for _, id := range []string{"jwks", "authorizationServerMetadata"} {
				t.Run(name+" "+id, func(t *testing.T) {
					c.check(t, srv, samples[id].request(t, ""), 200, reqConforms)
				})
			}
		}
	})

	t.Run("register", func(t *testing.T) {
		email := h.email("reg")
		do(t, 200, reqConforms, http.MethodPost, "/register/", "", obj{
			"email": email, "password": testPassword, "nickname": "ada_lovelace", "role": "ADMIN",
			"first_name": "Ada", "last_name": nil, "bio": "", "preferred_language": "en",
			"profile_picture_url": "https://example.com/ada.png", "linkedin_profile_url": "https://www.linkedin.com/in/ada",
			"github_profile_url": nil,
		})
		do(t, 200, reqConforms, http.MethodPost, "/register", "", obj{"email": h.email("reg"), "password": testPassword})
		do(t, 400, reqConforms, http.MethodPost, "/register/", "", obj{"email": email, "password": testPassword})
		do(t, 400, reqConforms, http.MethodPost, "/register/", "", obj{"email": h.email("reg"), "password": testPassword, "nickname": "ada_lovelace"})
		do(t, 422, reqBreaks, http.MethodPost, "/register/", "", obj{"email": h.email("reg")})
		do(t, 422, reqBreaks, http.MethodPost, "/register/", "", obj{"email": h.email("reg"), "password": testPassword, "is_admin": true})
		do(t, 422, reqBreaks, http.MethodPost, "/register/", "", obj{"email": h.email("reg"), "password": testPassword, "nickname": "no spaces"})
		do(t, 422, reqBreaks, http.MethodPost, "/register/", "", obj{"email": h.email("reg"), "password": testPassword, "github_profile_url": "https://gitlab.com/x"})
		do(t, 422, reqConforms, http.MethodPost, "/register/", "", obj{"email": h.email("reg"), "password": "password"}) // too common
		do(t, 422, reqBreaks, http.MethodPost, "/register/", "", `[]`)
	})

	t.Run("login", func(t *testing.T) {
		a := h.verified("login")
		do(t, 200, reqConforms, http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "grant_type": {"password"}, "scope": {""}})
		do(t, 200, reqConforms, http.MethodPost, "/login", "", obj{"email": a.Email, "password": a.Password})
		do(t, 200, reqConforms, http.MethodPost, "/login/", "", obj{"username": a.Email, "password": a.Password, "grant_type": nil})
		do(t, 200, reqConforms, http.MethodPost, "/login/", "", multipartBody(t, map[string]string{"username": a.Email, "password": a.Password}))
		s := h.session(a.Email, a.Password)
		do(t, 200, reqConforms, http.MethodPost, "/login/", "", form{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken}})
		do(t, 401, reqConforms, http.MethodPost, "/login/", "", form{"grant_type": {"refresh_token"}, "refresh_token": {s.RefreshToken}}) // rotated
		do(t, 401, reqConforms, http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {wrongPassword}})
		do(t, 401, reqConforms, http.MethodPost, "/login/", "", form{"username": {h.register("unverified").Email}, "password": {testPassword}})
		locked := h.verified("locked")
		h.lockByHTTP(locked.Email)
		do(t, 400, reqConforms, http.MethodPost, "/login/", "", form{"username": {locked.Email}, "password": {locked.Password}})
		do(t, 422, reqBreaks, http.MethodPost, "/login/", "", form{"username": {a.Email}})
		do(t, 422, reqBreaks, http.MethodPost, "/login/", "", form{"grant_type": {"refresh_token"}})
		do(t, 422, reqBreaks, http.MethodPost, "/login/", "", form{"grant_type": {"client_credentials"}, "username": {a.Email}, "password": {a.Password}})
		do(t, 422, reqBreaks, http.MethodPost, "/login/", "", obj{"email": a.Email, "password": a.Password, "remember_me": true})
	})

	t.Run("verify email", func(t *testing.T) {
		for _, accept := range []string{"application/json", "text/html"} {
			u := h.register("verify")
			id, token := h.verificationToken(u.Email)
			c.check(t, h.srv, withAccept(newRequest(t, http.MethodGet, "/verify-email/"+id+"/"+token, "", nil), accept), 200, reqConforms)
			c.check(t, h.srv, withAccept(newRequest(t, http.MethodGet, "/verify-email/"+id+"/"+token, "", nil), accept), 400, reqConforms)
		}
		do(t, 422, reqBreaks, http.MethodGet, "/verify-email/not-a-uuid/sometoken", "", nil)
	})

	t.Run("refresh and logout", func(t *testing.T) {
		a := h.verified("session")
		s := h.session(a.Email, a.Password)
		rec := do(t, 200, reqConforms, http.MethodPost, "/token/refresh", "", obj{"refresh_token": s.RefreshToken})
		s = decodeTokens(t, rec)
		do(t, 401, reqConforms, http.MethodPost, "/token/refresh/", "", obj{"refresh_token": "not-a-refresh-token"})
		do(t, 422, reqBreaks, http.MethodPost, "/token/refresh", "", obj{})
		do(t, 422, reqBreaks, http.MethodPost, "/token/refresh", "", obj{"refresh_token": nil})

		do(t, 422, reqBreaks, http.MethodPost, "/logout", s.AccessToken, obj{"token": s.RefreshToken})
		do(t, 204, reqConforms, http.MethodPost, "/logout", s.AccessToken, obj{"refresh_token": s.RefreshToken})
		do(t, 401, reqConforms, http.MethodPost, "/logout", s.AccessToken, nil) // that token is refused now
		s = h.session(a.Email, a.Password)
		do(t, 204, reqConforms, http.MethodPost, "/logout/", s.AccessToken, nil)
	})

	t.Run("password reset", func(t *testing.T) {
		a := h.verified("reset")
		do(t, 202, reqConforms, http.MethodPost, "/password-reset/request", "", obj{"email": a.Email})
		do(t, 202, reqConforms, http.MethodPost, "/password-reset/request", "", obj{"email": "nobody@example.com"})
		do(t, 422, reqBreaks, http.MethodPost, "/password-reset/request", "", obj{"email": "not-an-email"})
		do(t, 422, reqEither, http.MethodPost, "/password-reset/request", "", obj{"email": "two@at@example.com"}) // kin-openapi's email check is loose
		do(t, 422, reqBreaks, http.MethodPost, "/password-reset/request", "", obj{})

		token := h.resetToken(a.Email)
		do(t, 422, reqConforms, http.MethodPost, "/password-reset/confirm", "", obj{"token": token, "new_password": "password"})
		do(t, 422, reqBreaks, http.MethodPost, "/password-reset/confirm", "", obj{"token": token, "new_password": "short"})
		do(t, 200, reqConforms, http.MethodPost, "/password-reset/confirm", "", obj{"token": token, "new_password": newPassword})
		do(t, 400, reqConforms, http.MethodPost, "/password-reset/confirm", "", obj{"token": token, "new_password": newPassword})

		do(t, 200, reqConforms, http.MethodGet, "/password-reset?token=sometoken", "", nil)
		do(t, 400, reqBreaks, http.MethodGet, "/password-reset", "", nil)
		do(t, 400, reqBreaks, http.MethodGet, "/password-reset?token="+strings.Repeat("x", 513), "", nil)

		token = h.requestReset(a.Email)
		do(t, 422, reqConforms, http.MethodPost, "/password-reset", "", form{"token": {token}, "new_password": {testPassword}, "repeat_password": {newPassword}})
		do(t, 422, reqConforms, http.MethodPost, "/password-reset", "", form{"token": {token}, "new_password": {"password"}, "repeat_password": {"password"}})
		do(t, 200, reqConforms, http.MethodPost, "/password-reset", "", form{"token": {token}, "new_password": {testPassword}, "repeat_password": {testPassword}})
		do(t, 400, reqConforms, http.MethodPost, "/password-reset", "", form{"token": {token}, "new_password": {testPassword}, "repeat_password": {testPassword}})
		do(t, 400, reqBreaks, http.MethodPost, "/password-reset", "", obj{"token": token})

		locked := h.verified("unlockme")
		h.lockByHTTP(locked.Email)
		unlock := h.unlockToken(locked.Email)
		do(t, 200, reqConforms, http.MethodGet, "/unlock?token="+unlock, "", nil)
		do(t, 400, reqBreaks, http.MethodGet, "/unlock", "", nil)
		do(t, 422, reqBreaks, http.MethodPost, "/unlock", "", obj{})
		do(t, 422, reqBreaks, http.MethodPost, "/unlock", "", obj{"token": unlock, "extra": 1})
		do(t, 400, reqConforms, http.MethodPost, "/unlock", "", obj{"token": "not-the-token"})
		do(t, 200, reqConforms, http.MethodPost, "/unlock", "", obj{"token": unlock})
		do(t, 400, reqConforms, http.MethodPost, "/unlock", "", obj{"token": unlock}) // single use
		h.lockByHTTP(locked.Email)
		do(t, 200, reqConforms, http.MethodPost, "/unlock", "", form{"token": {h.unlockToken(locked.Email)}})
		do(t, 400, reqConforms, http.MethodPost, "/unlock", "", form{"token": {"not-the-token"}})

		u := h.register("resend")
		do(t, 202, reqConforms, http.MethodPost, "/verify-email/resend", "", obj{"email": u.Email})
		do(t, 422, reqBreaks, http.MethodPost, "/verify-email/resend/", "", obj{"email": 42})
	})

	t.Run("me", func(t *testing.T) {
		a := h.user(domain.RoleAuthenticated)
		other := h.user(domain.RoleAuthenticated)
		do(t, 200, reqConforms, http.MethodGet, "/users/me", a.Token, nil)
		do(t, 200, reqConforms, http.MethodPatch, "/users/me/", a.Token, obj{
			"nickname": "me_myself", "bio": "Hi", "first_name": nil, "github_profile_url": "https://github.com/me",
		})
		do(t, 403, reqBreaks, http.MethodPatch, "/users/me", a.Token, obj{"role": "ADMIN"})
		do(t, 403, reqBreaks, http.MethodPatch, "/users/me", a.Token, obj{"bio": "x", "is_locked": false})
		do(t, 400, reqConforms, http.MethodPatch, "/users/me", a.Token, obj{"nickname": h.getUser(other.ID).Nickname})
		do(t, 422, reqBreaks, http.MethodPatch, "/users/me", a.Token, obj{})
		// null is "unchanged", as on PUT /users/{user_id}: nothing left to
		// change, refused by the handler and the document alike.
		do(t, 422, reqBreaks, http.MethodPatch, "/users/me", a.Token, obj{"nickname": nil})
		do(t, 200, reqConforms, http.MethodPatch, "/users/me", a.Token, obj{"nickname": nil, "bio": nil}) // a null profile field clears it
		do(t, 422, reqBreaks, http.MethodPatch, "/users/me", a.Token, obj{"bio": strings.Repeat("x", 501)})
		do(t, 422, reqBreaks, http.MethodPatch, "/users/me", a.Token, obj{"profile_picture_url": "https://example.com/me.svg"})

		do(t, 400, reqConforms, http.MethodPut, "/users/me/password", a.Token, obj{"current_password": wrongPassword, "new_password": newPassword})
		do(t, 422, reqBreaks, http.MethodPut, "/users/me/password", a.Token, obj{"current_password": a.Password, "new_password": "short"})
		do(t, 422, reqBreaks, http.MethodPut, "/users/me/password", a.Token, obj{"current_password": a.Password})
		do(t, 204, reqConforms, http.MethodPut, "/users/me/password/", a.Token, obj{"current_password": a.Password, "new_password": newPassword})

		do(t, 400, reqConforms, http.MethodDelete, "/users/me", a.Token, obj{"password": wrongPassword})
		do(t, 422, reqBreaks, http.MethodDelete, "/users/me", a.Token, nil)
		do(t, 204, reqConforms, http.MethodDelete, "/users/me", a.Token, obj{"password": newPassword})
	})

	t.Run("audit log", func(t *testing.T) {
		rec := do(t, 200, reqConforms, http.MethodGet, "/audit-log?limit=1", h.admin.Token, nil)
		var page auditPage
		decodeBody(t, rec, &page)
		if page.NextCursor == nil {
			t.Fatalf("no next_cursor: %s", rec.Body)
		}
		do(t, 200, reqConforms, http.MethodGet, "/audit-log/?cursor="+*page.NextCursor+"&limit=100&actor="+h.admin.ID+
			"&event=login_succeeded&since=2020-01-01T00:00:00Z&until=2100-01-01T00:00:00.5%2B02:00", h.admin.Token, nil)
		do(t, 200, reqConforms, http.MethodGet, "/audit-log", h.admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/audit-log?limit=0", h.admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/audit-log?limit=101", h.admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/audit-log?event=nothing_happened", h.admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/audit-log?target=someone", h.admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/audit-log?actor=someone", h.admin.Token, nil)
		// The command line acts as "operator": its events list, and filter, as such.
		if _, err := h.svc.Unlock(context.Background(), app.Operator(), h.verified("operated").ID); err != nil {
			t.Fatal(err)
		}
		if _, err := h.svc.ChangeRole(context.Background(), app.Operator(), h.verified("promoted").ID, domain.RoleManager); err != nil {
			t.Fatal(err)
		}
		rec = do(t, 200, reqConforms, http.MethodGet, "/audit-log?actor=operator", h.admin.Token, nil)
		decodeBody(t, rec, &page)
		if len(page.Items) != 1 || page.Items[0].Event != "role_changed" {
			t.Errorf("the operator's events: %s", rec.Body)
		}
		do(t, 422, reqBreaks, http.MethodGet, "/audit-log?since=yesterday", h.admin.Token, nil)
		do(t, 422, reqConforms, http.MethodGet, "/audit-log?since=2025-01-02T00:00:00Z&until=2025-01-01T00:00:00Z", h.admin.Token, nil)
	})

	t.Run("users", func(t *testing.T) {
		admin := h.admin
		mgr := h.user(domain.RoleManager)
		otherAdmin := h.user(domain.RoleAdmin)
		do(t, 200, reqConforms, http.MethodGet, "/users/?skip=1&limit=2", admin.Token, nil)
		do(t, 200, reqConforms, http.MethodGet, "/users", mgr.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?limit=101", admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?skip=-1", admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?limit=ten", admin.Token, nil)

		// Search: paged by offset, and by cursor (the other page shape).
		do(t, 200, reqConforms, http.MethodGet, "/users/?q=ROOT&role=ADMIN&is_professional=false&email_verified=true&is_locked=false&sort=-nickname&skip=0&limit=5", mgr.Token, nil)
		var cp struct {
			NextCursor *string `json:"next_cursor"`
		}
		decodeBody(t, do(t, 200, reqConforms, http.MethodGet, "/users?paging=cursor&limit=1&role=ADMIN&sort=-email", admin.Token, nil), &cp)
		if cp.NextCursor == nil {
			t.Fatal("the first cursor page has no next_cursor")
		}
		do(t, 200, reqConforms, http.MethodGet, "/users/?cursor="+*cp.NextCursor+"&limit=1&role=ADMIN&sort=-email", admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?q=", admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?q="+strings.Repeat("x", 101), admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?role=ROOT", admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?is_locked=maybe", admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?sort=name", admin.Token, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/users/?paging=pages", admin.Token, nil)
		do(t, 422, reqConforms, http.MethodGet, "/users/?cursor=garbage", admin.Token, nil)
		do(t, 422, reqConforms, http.MethodGet, "/users/?cursor="+*cp.NextCursor+"&limit=1&role=ADMIN", admin.Token, nil) // another sort
		do(t, 422, reqConforms, http.MethodGet, "/users/?paging=cursor&skip=3", admin.Token, nil)

		email := h.email("created")
		rec := do(t, 201, reqConforms, http.MethodPost, "/users/", admin.Token, obj{
			"email": email, "password": testPassword, "nickname": "made_by_admin", "role": "MANAGER", "bio": "New",
		})
		created := decodeUser(t, rec)
		do(t, 201, reqConforms, http.MethodPost, "/users", mgr.Token, obj{"email": h.email("created"), "password": testPassword, "role": nil})
		do(t, 400, reqConforms, http.MethodPost, "/users/", admin.Token, obj{"email": email, "password": testPassword})
		do(t, 403, reqConforms, http.MethodPost, "/users/", mgr.Token, obj{"email": h.email("created"), "password": testPassword, "role": "AUTHENTICATED"})
		do(t, 422, reqBreaks, http.MethodPost, "/users/", admin.Token, obj{"email": h.email("created"), "password": testPassword, "role": "ROOT"})
		do(t, 422, reqBreaks, http.MethodPost, "/users/", admin.Token, obj{"email": h.email("created"), "password": testPassword, "is_locked": true})

		do(t, 200, reqConforms, http.MethodGet, "/users/"+created.ID, mgr.Token, nil)
		do(t, 404, reqConforms, http.MethodGet, "/users/"+unknownID, admin.Token, nil)
		do(t, 404, reqBreaks, http.MethodGet, "/users/not-a-uuid", admin.Token, nil)

		do(t, 200, reqConforms, http.MethodPut, "/users/"+created.ID, admin.Token, obj{
			"email": nil, "nickname": "renamed_by_admin", "role": "AUTHENTICATED", "first_name": "Grace", "linkedin_profile_url": "",
		})
		do(t, 200, reqConforms, http.MethodPut, "/users/"+created.ID+"/", mgr.Token, obj{"bio": nil})
		do(t, 400, reqConforms, http.MethodPut, "/users/"+created.ID, admin.Token, obj{"email": otherAdmin.Email})
		do(t, 403, reqConforms, http.MethodPut, "/users/"+otherAdmin.ID, mgr.Token, obj{"bio": "x"})
		do(t, 403, reqConforms, http.MethodPut, "/users/"+created.ID, mgr.Token, obj{"role": "MANAGER"})
		do(t, 404, reqConforms, http.MethodPut, "/users/"+unknownID, admin.Token, obj{"bio": "x"})
		do(t, 422, reqBreaks, http.MethodPut, "/users/"+created.ID, admin.Token, obj{})
		// null leaves email, nickname and role unchanged: a body of nothing
		// else changes nothing, and both the handler and the document refuse it.
		do(t, 422, reqBreaks, http.MethodPut, "/users/"+created.ID, admin.Token, obj{"email": nil})
		do(t, 422, reqBreaks, http.MethodPut, "/users/"+created.ID, admin.Token, obj{"nickname": nil, "role": nil})
		do(t, 200, reqConforms, http.MethodPut, "/users/"+created.ID, admin.Token, obj{"nickname": nil, "bio": "x"})

		do(t, 200, reqConforms, http.MethodPost, "/users/"+created.ID+"/upgrade", mgr.Token, nil)
		do(t, 200, reqConforms, http.MethodPost, "/users/"+created.ID+"/upgrade/", admin.Token, nil)
		do(t, 404, reqConforms, http.MethodPost, "/users/"+unknownID+"/upgrade", admin.Token, nil)

		locked := h.verified("lockme")
		h.lockByHTTP(locked.Email)
		do(t, 200, reqConforms, http.MethodPost, "/users/"+locked.ID+"/unlock", mgr.Token, nil)
		do(t, 403, reqConforms, http.MethodPost, "/users/"+otherAdmin.ID+"/unlock", mgr.Token, nil)
		do(t, 404, reqConforms, http.MethodPost, "/users/"+unknownID+"/unlock", admin.Token, nil)

		do(t, 200, reqConforms, http.MethodPatch, "/users/"+created.ID+"/role", admin.Token, obj{"role": "MANAGER"})
		do(t, 404, reqConforms, http.MethodPatch, "/users/"+unknownID+"/role", admin.Token, obj{"role": "MANAGER"})
		do(t, 422, reqBreaks, http.MethodPatch, "/users/"+created.ID+"/role", admin.Token, obj{"role": "ROOT"})
		do(t, 422, reqBreaks, http.MethodPatch, "/users/"+created.ID+"/role", admin.Token, obj{"role": nil})

		plain := h.verified("lockedbystaff")
		do(t, 200, reqConforms, http.MethodPost, "/users/"+plain.ID+"/lock", mgr.Token, nil)
		do(t, 200, reqConforms, http.MethodPost, "/users/"+plain.ID+"/lock/", admin.Token, nil)
		do(t, 403, reqConforms, http.MethodPost, "/users/"+created.ID+"/lock", mgr.Token, nil) // a MANAGER now
		do(t, 403, reqConforms, http.MethodPost, "/users/"+admin.ID+"/lock", admin.Token, nil) // oneself
		do(t, 404, reqConforms, http.MethodPost, "/users/"+unknownID+"/lock", admin.Token, nil)

		do(t, 403, reqConforms, http.MethodDelete, "/users/"+otherAdmin.ID, mgr.Token, nil)
		do(t, 403, reqConforms, http.MethodDelete, "/users/"+created.ID, mgr.Token, nil) // a MANAGER now
		do(t, 204, reqConforms, http.MethodDelete, "/users/"+created.ID, admin.Token, nil)
		do(t, 404, reqConforms, http.MethodDelete, "/users/"+created.ID, admin.Token, nil)
	})

	t.Run("second factor", func(t *testing.T) { checkSecondFactorOperations(t, h, do) })
	t.Run("account lifecycle", func(t *testing.T) { lifecycleOpenAPIRows(t, h, do) })

	t.Run("webhooks", func(t *testing.T) {
		admin := h.admin.Token
		rec := do(t, 201, reqConforms, http.MethodPost, "/webhooks", admin, obj{"url": "http://127.0.0.1:9/hook", "events": []string{"user.created", "user.deleted"}})
		var hook struct {
			ID string `json:"id"`
		}
		decodeBody(t, rec, &hook)
		do(t, 201, reqConforms, http.MethodPost, "/webhooks/", admin, obj{"url": "https://hooks.example.com/all", "events": []string{"*"}})
		do(t, 422, reqBreaks, http.MethodPost, "/webhooks", admin, obj{"url": "https://hooks.example.com/", "events": []string{"user.exploded"}})
		do(t, 422, reqBreaks, http.MethodPost, "/webhooks", admin, obj{"url": "https://hooks.example.com/", "events": []string{}})
		do(t, 422, reqBreaks, http.MethodPost, "/webhooks", admin, obj{"url": "https://hooks.example.com/"})
		do(t, 422, reqBreaks, http.MethodPost, "/webhooks", admin, obj{"url": "https://hooks.example.com/", "events": []string{"*"}, "secret": "mine"})
		do(t, 422, reqEither, http.MethodPost, "/webhooks", admin, obj{"url": "ftp://hooks.example.com/", "events": []string{"*"}}) // the document's uri format takes any scheme
		do(t, 200, reqConforms, http.MethodGet, "/webhooks", admin, nil)
		h.register("hooked") // a user.created for the first endpoint
		rec = do(t, 200, reqConforms, http.MethodGet, "/webhooks/"+hook.ID+"/deliveries", admin, nil)
		if !strings.Contains(rec.Body.String(), `"user.created"`) {
			t.Errorf("no delivery of user.created: %s", rec.Body)
		}
		do(t, 200, reqConforms, http.MethodGet, "/webhooks/"+hook.ID+"/deliveries/?limit=1", admin, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/webhooks/"+hook.ID+"/deliveries?limit=0", admin, nil)
		do(t, 422, reqBreaks, http.MethodGet, "/webhooks/"+hook.ID+"/deliveries?limit=1001", admin, nil)
		do(t, 404, reqConforms, http.MethodGet, "/webhooks/"+unknownID+"/deliveries", admin, nil)
		do(t, 204, reqConforms, http.MethodDelete, "/webhooks/"+hook.ID, admin, nil)
		do(t, 404, reqConforms, http.MethodDelete, "/webhooks/"+hook.ID+"/", admin, nil)
		do(t, 404, reqBreaks, http.MethodDelete, "/webhooks/not-a-uuid", admin, nil)
	})

	t.Run("the last admin", func(t *testing.T) {
		solo := newHarness(t) // its bootstrap ADMIN is the only one
		lastCheck := func(status int, want reqWant, method, target string, body any) {
			t.Helper()
			c.check(t, solo.srv, newRequest(t, method, target, solo.admin.Token, body), status, want)
		}
		lastCheck(409, reqConforms, http.MethodPut, "/users/"+solo.admin.ID, obj{"role": "MANAGER"})
		lastCheck(409, reqConforms, http.MethodPatch, "/users/"+solo.admin.ID+"/role", obj{"role": "AUTHENTICATED"})
		lastCheck(409, reqConforms, http.MethodDelete, "/users/"+solo.admin.ID, nil)
		lastCheck(409, reqConforms, http.MethodDelete, "/users/me", obj{"password": solo.admin.Password})
	})

	if t.Failed() {
		return
	}
	// Every status the document lists was answered and matched.
	for _, id := range slices.Sorted(maps.Keys(ops)) {
		for _, code := range slices.Sorted(maps.Keys(ops[id].Responses.Map())) {
			status, err := strconv.Atoi(code)
			if err != nil {
				t.Errorf("%s: response %q is not a status", id, code)
				continue
			}
			if !c.seen[id][status] {
				t.Errorf("%s: the document lists %d, which no test request was answered", id, status)
			}
		}
	}
}

func TestOpenAPIAndDocsAreServed(t *testing.T) {
	t.Parallel()
	srv, _ := newMockServer(httpapi.UseCaseParts{})
	get := func(t *testing.T, path string) *httptest.ResponseRecorder {
		t.Helper()
		rec := serve(srv, newRequest(t, http.MethodGet, path, "", nil))
		wantStatus(t, rec, http.StatusOK)
		wantSecurityHeaders(t, rec)
		return rec
	}

	for _, path := range []string{"/openapi.json", "/openapi.json/"} {
		rec := get(t, path)
		var doc struct {
			OpenAPI string `json:"openapi"`
		}
		decodeBody(t, rec, &doc)
		if doc.OpenAPI != "3.1.0" {
			t.Errorf("GET %s: openapi %q", path, doc.OpenAPI)
		}
	}
	for _, path := range []string{"/openapi.json", "/docs", "/docs/swagger-ui.css"} {
		// net/http drops the body of a HEAD answer; the recorder keeps it.
		if rec := serve(srv, newRequest(t, http.MethodHead, path, "", nil)); rec.Code != http.StatusOK {
			t.Errorf("HEAD %s: %d", path, rec.Code)
		}
	}

	scriptTag := regexp.MustCompile(`<script[^>]*>`)
	assetRef := regexp.MustCompile(`(?:src|href)="(/docs/[^"]+)"`)
	for _, path := range []string{"/docs", "/docs/"} {
		rec := get(t, path)
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("GET %s: Content-Type %q", path, ct)
		}
		csp := rec.Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self';", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP %q allows eval", path, csp)
		}
		page := rec.Body.String()
		for _, tag := range scriptTag.FindAllString(page, -1) {
			if !strings.Contains(tag, ` src="/docs/`) {
				t.Errorf("GET %s: %s is not a script of ours from a file (the CSP forbids inline scripts)", path, tag)
			}
		}
		if strings.Count(page, "<script") != strings.Count(page, "></script>") {
			t.Errorf("GET %s: a script element with content (the CSP forbids inline scripts):\n%s", path, page)
		}
		var assets []string
		for _, m := range assetRef.FindAllStringSubmatch(page, -1) {
			assets = append(assets, m[1])
		}
		for _, want := range []string{"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"} {
			if !slices.Contains(assets, want) {
				t.Errorf("GET %s: the page does not load %s", path, want)
			}
		}
		for _, a := range assets {
			rec := get(t, a)
			if rec.Body.Len() == 0 {
				t.Errorf("GET %s: empty", a)
			}
			ct := rec.Header().Get("Content-Type")
			switch {
			case strings.HasSuffix(a, ".js") && ct != "text/javascript; charset=utf-8",
				strings.HasSuffix(a, ".css") && ct != "text/css; charset=utf-8",
				strings.HasSuffix(a, ".png") && ct != "image/png":
				t.Errorf("GET %s: Content-Type %q", a, ct)
			}
		}
	}

	init := get(t, "/docs/init.js").Body.String()
	for _, want := range []string{`url: "/openapi.json"`, "persistAuthorization: false", "validatorUrl: null"} {
		if !strings.Contains(init, want) {
			t.Errorf("/docs/init.js lacks %s:\n%s", want, init)
		}
	}
	if bundle := get(t, "/docs/swagger-ui-bundle.js").Body.String(); !strings.Contains(bundle, "SwaggerUIBundle") {
		t.Error("/docs/swagger-ui-bundle.js is not Swagger UI's bundle")
	}
	for _, licence := range []string{"/docs/LICENSE", "/docs/NOTICE", "/docs/swagger-ui-bundle.js.LICENSE.txt"} {
		if rec := get(t, licence); !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
			t.Errorf("GET %s: Content-Type %q", licence, rec.Header().Get("Content-Type"))
		}
	}
	for _, missing := range []string{"/docs/index.html", "/docs/swagger-ui.js", "/docs/.."} {
		rec := serve(srv, newRequest(t, http.MethodGet, missing, "", nil))
		if rec.Code == http.StatusOK {
			t.Errorf("GET %s: 200, want no such file", missing)
		}
	}
}

// checkSecondFactorOperations drives the second factor's operations
// (PRODUCT.md 8.1) through every status the document gives them. Accounts
// are fresh where a row's failures would otherwise add up to a lock.
func checkSecondFactorOperations(t *testing.T, h *harness,
	do func(t *testing.T, status int, want reqWant, method, target, token string, body any) *httptest.ResponseRecorder) {
	a := h.verified("openapi-mfa")
	a.Token = h.login(a.Email, a.Password)
	do(t, 409, reqConforms, http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": "123456"})
	do(t, 409, reqConforms, http.MethodPost, "/users/me/mfa/recovery-codes", a.Token, obj{"code": "123456"})
	do(t, 409, reqConforms, http.MethodDelete, "/users/me/mfa/totp", a.Token, obj{"password": a.Password, "code": "123456"})
	do(t, 400, reqConforms, http.MethodPost, "/users/me/mfa/totp", a.Token, obj{"password": wrongPassword})
	do(t, 422, reqBreaks, http.MethodPost, "/users/me/mfa/totp", a.Token, obj{})
	do(t, 422, reqBreaks, http.MethodPost, "/users/me/mfa/totp", a.Token, obj{"password": a.Password, "remember": true})
	rec := do(t, 200, reqConforms, http.MethodPost, "/users/me/mfa/totp", a.Token, obj{"password": a.Password})
	var e struct {
		Secret string `json:"secret"`
	}
	decodeBody(t, rec, &e)
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil {
		t.Fatal(err)
	}
	do(t, 400, reqConforms, http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": "000000"})
	do(t, 422, reqBreaks, http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": 123456})
	do(t, 200, reqConforms, http.MethodPost, "/users/me/mfa/totp/confirm/", a.Token, obj{"code": h.totpCode(key)})
	do(t, 409, reqConforms, http.MethodPost, "/users/me/mfa/totp", a.Token, obj{"password": a.Password})

	// The login's two steps, and one.
	rec = do(t, 403, reqConforms, http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}})
	var challenge struct {
		MFAToken string `json:"mfa_token"`
	}
	decodeBody(t, rec, &challenge)
	do(t, 401, reqConforms, http.MethodPost, "/login/mfa", "", obj{"mfa_token": challenge.MFAToken, "code": "000000"})
	do(t, 401, reqConforms, http.MethodPost, "/login/mfa", "", obj{"mfa_token": "not-the-token", "code": "123456"})
	do(t, 422, reqBreaks, http.MethodPost, "/login/mfa", "", obj{"code": "123456"})
	do(t, 200, reqConforms, http.MethodPost, "/login/mfa/", "", obj{"mfa_token": challenge.MFAToken, "code": h.totpCode(key)})
	do(t, 401, reqConforms, http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "mfa_code": {"000000"}})
	do(t, 200, reqConforms, http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "mfa_code": {h.totpCode(key)}})
	do(t, 200, reqConforms, http.MethodPost, "/login", "", obj{"email": a.Email, "password": a.Password, "mfa_code": h.totpCode(key)})

	// New recovery codes, then off (the failure count was reset by the logins).
	do(t, 400, reqConforms, http.MethodPost, "/users/me/mfa/recovery-codes", a.Token, obj{"code": "000000"})
	do(t, 422, reqBreaks, http.MethodPost, "/users/me/mfa/recovery-codes", a.Token, obj{})
	do(t, 200, reqConforms, http.MethodPost, "/users/me/mfa/recovery-codes/", a.Token, obj{"code": h.totpCode(key)})
	do(t, 400, reqConforms, http.MethodDelete, "/users/me/mfa/totp", a.Token, obj{"password": a.Password, "code": "000000"})
	do(t, 422, reqBreaks, http.MethodDelete, "/users/me/mfa/totp", a.Token, obj{"code": "000000"})
	do(t, 204, reqConforms, http.MethodDelete, "/users/me/mfa/totp/", a.Token, obj{"password": a.Password, "code": h.totpCode(key)})

	// Locked by wrong codes: the second step answers 400.
	b := h.mfaUser("openapi-locked")
	token := h.challenge(b.Email, b.Password)
	for range maxAttempts {
		do(t, 401, reqConforms, http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": "000000"})
	}
	do(t, 400, reqConforms, http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": h.totpCode(b.Key)})

	// The ADMIN's reset.
	c := h.mfaUser("openapi-reset")
	mgr := h.user(domain.RoleManager)
	do(t, 403, reqConforms, http.MethodPost, "/users/"+c.ID+"/mfa/reset", mgr.Token, nil)
	do(t, 404, reqConforms, http.MethodPost, "/users/"+unknownID+"/mfa/reset", h.admin.Token, nil)
	do(t, 200, reqConforms, http.MethodPost, "/users/"+c.ID+"/mfa/reset/", h.admin.Token, nil)
}
