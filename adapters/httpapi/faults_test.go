package httpapi_test

// Faults, injected where they belong.
//
// Most tests here check the HTTP edge: the kind→status table of STYLE.md,
// 500s that log but do not leak, 503s with Retry-After, and what each
// handler hands its use case. They fake the one interface the route's
// handler declares (a moq mock of it, see export_test.go) in a server
// that has nothing else: the real router and middleware run, and a route
// that reached any other use case would answer 500 and fail the test.
//
// portFaultServer instead fails the ports under the real use cases, as a
// database that is down does, for tests in which every route must meet a
// fault the way production would (the OpenAPI test's 500s and 503s).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports/portmock"
)

const (
	mockToken   = "mock-token"
	mockActorID = "0195a1b2-0000-7000-8000-00000000000a"
)

var mockActor = domain.Actor{ID: mockActorID, Role: domain.RoleAdmin}

// parts is the UseCases of a handler test: the handlers' interfaces it
// fakes, nothing else.
type parts = httpapi.UseCaseParts

// asAdmin is the Authenticator of handler tests: mockToken is mockActor,
// an ADMIN; any other token is invalid.
func asAdmin() *httpapi.AuthenticatorMock {
	return &httpapi.AuthenticatorMock{AuthenticateFunc: func(_ context.Context, token string) (domain.Actor, error) {
		if token != mockToken {
			return domain.Actor{}, domain.ErrInvalidToken
		}
		return mockActor, nil
	}}
}

// failing sets every method of the moq mock m to fail with err (and zero
// values), and returns m.
func failing[M any](m M, err error) M {
	v := reflect.ValueOf(m).Elem()
	errType := reflect.TypeFor[error]()
	for i := range v.NumField() {
		f := v.Field(i)
		if f.Kind() != reflect.Func || !f.CanSet() {
			continue
		}
		ft := f.Type()
		f.Set(reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value {
			out := make([]reflect.Value, ft.NumOut())
			for j := range out {
				out[j] = reflect.Zero(ft.Out(j))
				if ft.Out(j) == errType {
					out[j] = reflect.ValueOf(&err).Elem()
				}
			}
			return out
		}))
	}
	return m
}

// newMockServer serves m with default options, logging to the buffer it
// returns.
func newMockServer(m httpapi.UseCases) (http.Handler, *testsupport.Buffer) {
	logger, logs := newTestLogger()
	return httpapi.NewServer(logger, m, httpapi.Options{}), logs
}

// mockRoute is a request that reaches one use case, and how to fake it.
type mockRoute struct {
	name         string
	seed         bool // a route of the seed's contract
	method, path string
	body         any
	// fail sets in p the interface the route's handler declares, every
	// method failing with err.
	fail func(p *parts, err error)
}

// server serves the route's use case failing with err, for mockToken.
func (rt mockRoute) server(err error) (http.Handler, *testsupport.Buffer) {
	p := parts{Authenticator: asAdmin()}
	rt.fail(&p, err)
	return newMockServer(p)
}

var mockRoutes = []mockRoute{
	{"Register", true, http.MethodPost, "/register/", obj{"email": "a@example.com", "password": testPassword},
		func(p *parts, err error) { p.Registerer = failing(&httpapi.RegistererMock{}, err) }},
	{"Login", true, http.MethodPost, "/login/", form{"username": {"a@example.com"}, "password": {testPassword}},
		func(p *parts, err error) { p.Loginer = failing(&httpapi.LoginerMock{}, err) }},
	{"VerifyEmail", true, http.MethodGet, "/verify-email/" + unknownID + "/tok", nil,
		func(p *parts, err error) { p.EmailVerifier = failing(&httpapi.EmailVerifierMock{}, err) }},
	{"GetUser", true, http.MethodGet, "/users/" + unknownID, nil,
		func(p *parts, err error) { p.UserGetter = failing(&httpapi.UserGetterMock{}, err) }},
	{"UpdateUser", true, http.MethodPut, "/users/" + unknownID, obj{"bio": "x"},
		func(p *parts, err error) { p.UserUpdater = failing(&httpapi.UserUpdaterMock{}, err) }},
	{"DeleteUser", true, http.MethodDelete, "/users/" + unknownID, nil,
		func(p *parts, err error) { p.UserDeleter = failing(&httpapi.UserDeleterMock{}, err) }},
	{"CreateUser", true, http.MethodPost, "/users/", obj{"email": "a@example.com", "password": testPassword},
		func(p *parts, err error) { p.UserCreator = failing(&httpapi.UserCreatorMock{}, err) }},
	{"ListUsers", true, http.MethodGet, "/users/?skip=0&limit=10", nil,
		func(p *parts, err error) { p.UserLister = failing(&httpapi.UserListerMock{}, err) }},
	{"SearchUsers", true, http.MethodGet, "/users/?q=a&paging=cursor", nil,
		func(p *parts, err error) { p.UserLister = failing(&httpapi.UserListerMock{}, err) }},
	{"UpgradeToProfessional", true, http.MethodPost, "/users/" + unknownID + "/upgrade", nil,
		func(p *parts, err error) { p.ProfessionalUpgrader = failing(&httpapi.ProfessionalUpgraderMock{}, err) }},
	{"Unlock", false, http.MethodPost, "/users/" + unknownID + "/unlock", nil,
		func(p *parts, err error) { p.Unlocker = failing(&httpapi.UnlockerMock{}, err) }},
	{"ChangeRole", false, http.MethodPatch, "/users/" + unknownID + "/role", obj{"role": "MANAGER"},
		func(p *parts, err error) { p.RoleChanger = failing(&httpapi.RoleChangerMock{}, err) }},
	{"Me", false, http.MethodGet, "/users/me", nil,
		func(p *parts, err error) { p.MeReader = failing(&httpapi.MeReaderMock{}, err) }},
	{"UpdateMe", false, http.MethodPatch, "/users/me", obj{"bio": "x"},
		func(p *parts, err error) { p.MeUpdater = failing(&httpapi.MeUpdaterMock{}, err) }},
	{"LoginWithCode", false, http.MethodPost, "/login/", form{"username": {"a@example.com"}, "password": {testPassword}, "mfa_code": {"123456"}},
		func(p *parts, err error) { p.Loginer = failing(&httpapi.LoginerMock{}, err) }},
	{"LoginSecondFactor", false, http.MethodPost, "/login/mfa", obj{"mfa_token": "t", "code": "123456"},
		func(p *parts, err error) { p.SecondFactorLoginer = failing(&httpapi.SecondFactorLoginerMock{}, err) }},
	{"EnrolTOTP", false, http.MethodPost, "/users/me/mfa/totp", obj{"password": testPassword},
		func(p *parts, err error) { p.SecondFactorManager = failing(&httpapi.SecondFactorManagerMock{}, err) }},
	{"ConfirmTOTP", false, http.MethodPost, "/users/me/mfa/totp/confirm", obj{"code": "123456"},
		func(p *parts, err error) { p.SecondFactorManager = failing(&httpapi.SecondFactorManagerMock{}, err) }},
	{"DisableTOTP", false, http.MethodDelete, "/users/me/mfa/totp", obj{"password": testPassword, "code": "123456"},
		func(p *parts, err error) { p.SecondFactorManager = failing(&httpapi.SecondFactorManagerMock{}, err) }},
	{"RegenerateRecoveryCodes", false, http.MethodPost, "/users/me/mfa/recovery-codes", obj{"code": "123456"},
		func(p *parts, err error) { p.SecondFactorManager = failing(&httpapi.SecondFactorManagerMock{}, err) }},
	{"ResetSecondFactor", false, http.MethodPost, "/users/" + unknownID + "/mfa/reset", nil,
		func(p *parts, err error) { p.SecondFactorResetter = failing(&httpapi.SecondFactorResetterMock{}, err) }},
}

// portFaultServer serves the use cases of h, built as h's are, on ports
// that all fail with err: the user store, the session store and the audit
// log (moq mocks, ports/portmock). It is what a request meets when
// the database is down. With pastAuthentication, the one read that
// authenticates a request (SessionStore.SessionWithUser) still reaches h's
// store, so a token of h (h.admin.Token) gets through and the route's own
// use case meets the fault. It is never ready, and its webhook use cases
// fail with err too.
func (h *harness) portFaultServer(err error, pastAuthentication bool) http.Handler {
	h.tb.Helper()
	sessions := failing(&portmock.SessionStoreMock{}, err)
	if pastAuthentication {
		sessions.SessionWithUserFunc = h.store.SessionWithUser
	}
	d := h.deps
	d.Users, d.Sessions, d.Audit = failing(&portmock.UserStoreMock{}, err), sessions, failing(&portmock.AuditLogMock{}, err)
	svc, e := app.New(d, h.cfg)
	if e != nil {
		h.tb.Fatal(e)
	}
	logger, _ := newTestLogger()
	return httpapi.NewServer(logger, svc, httpapi.Options{Ready: func(context.Context) error { return err },
		Webhooks: failingWebhooks{err}})
}

// wantInternal checks a 500 that says nothing but "internal error" and the
// request id, and that the log holds the error with that id.
func wantInternal(tb testing.TB, rec *httptest.ResponseRecorder, logs *testsupport.Buffer, secret string) {
	tb.Helper()
	body := rec.Body.String()
	if rec.Code != http.StatusInternalServerError {
		tb.Fatalf("status = %d, want 500; body: %s", rec.Code, body)
	}
	id := rec.Header().Get("X-Request-ID")
	if id == "" {
		tb.Fatal("no X-Request-ID")
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		tb.Fatalf("500 body is not JSON: %s", body)
	}
	if diff := cmp.Diff(map[string]any{"detail": "internal error", "request_id": id}, got); diff != "" {
		tb.Errorf("500 body (-want +got):\n%s", diff)
	}
	if strings.Contains(body, secret) {
		tb.Errorf("the 500 body leaks the error: %s", body)
	}
	for _, rec := range logs.JSONLines(tb) {
		if rec["request_id"] == id && rec["level"] == "ERROR" && strings.Contains(fmt.Sprint(rec["error"], rec["panic"]), secret) {
			return
		}
	}
	tb.Errorf("no ERROR log line with request_id %s and %q:\n%s", id, secret, logs)
}

func TestUnexpectedErrorIs500(t *testing.T) {
	t.Parallel()
	const secret = "db down: dial tcp 10.0.0.7:5432"
	for _, rt := range mockRoutes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			srv, logs := rt.server(fmt.Errorf("%s: %w", strings.ToLower(rt.name), errors.New(secret)))
			rec := serve(srv, newRequest(t, rt.method, rt.path, mockToken, rt.body))
			wantInternal(t, rec, logs, secret)
		})
	}

	t.Run("the caller's request id is the one logged and returned", func(t *testing.T) {
		t.Parallel()
		srv, logs := newMockServer(parts{Authenticator: asAdmin(), UserGetter: failing(&httpapi.UserGetterMock{}, errors.New(secret))})
		req := newRequest(t, http.MethodGet, "/users/"+unknownID, mockToken, nil)
		req.Header.Set("X-Request-ID", "trace-42")
		rec := serve(srv, req)
		wantInternal(t, rec, logs, secret)
		if !strings.Contains(rec.Body.String(), `"request_id":"trace-42"`) {
			t.Errorf("body %s does not carry trace-42", rec.Body)
		}
	})

	t.Run("authentication failing unexpectedly", func(t *testing.T) {
		t.Parallel()
		auth := failing(&httpapi.AuthenticatorMock{}, fmt.Errorf("authenticate: %w", errors.New(secret)))
		me := &httpapi.MeReaderMock{MeFunc: func(context.Context, domain.Actor) (*domain.User, error) { return mockUser(t), nil }}
		srv, logs := newMockServer(parts{Authenticator: auth, MeReader: me})
		rec := serve(srv, newRequest(t, http.MethodGet, "/users/me", mockToken, nil))
		wantInternal(t, rec, logs, secret)
		if len(me.MeCalls()) != 0 {
			t.Error("the handler ran after authentication failed")
		}
	})

	t.Run("panic", func(t *testing.T) {
		t.Parallel()
		get := &httpapi.UserGetterMock{GetUserFunc: func(context.Context, domain.Actor, string) (*domain.User, error) {
			panic(secret)
		}}
		srv, logs := newMockServer(parts{Authenticator: asAdmin(), UserGetter: get})
		rec := serve(srv, newRequest(t, http.MethodGet, "/users/"+unknownID, mockToken, nil))
		wantInternal(t, rec, logs, secret)
	})
}

func TestUnavailableIs503(t *testing.T) {
	t.Parallel()
	for _, rt := range mockRoutes {
		t.Run(rt.name, func(t *testing.T) {
			t.Parallel()
			srv, logs := rt.server(fmt.Errorf("store: %w: connection refused", domain.ErrUnavailable))
			rec := serve(srv, newRequest(t, rt.method, rt.path, mockToken, rt.body))
			wantDetail(t, rec, http.StatusServiceUnavailable, "Service temporarily unavailable, try again shortly")
			if rec.Header().Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			if rec.Header().Get("X-Request-ID") == "" {
				t.Error("no X-Request-ID")
			}
			if strings.Contains(rec.Body.String(), "connection refused") {
				t.Errorf("the 503 body leaks the error: %s", rec.Body)
			}
			if strings.Contains(logs.String(), `"level":"ERROR"`) {
				t.Errorf("a 503 was logged as an error:\n%s", logs)
			}
		})
	}

	t.Run("while authenticating", func(t *testing.T) {
		t.Parallel()
		srv, _ := newMockServer(parts{Authenticator: failing(&httpapi.AuthenticatorMock{}, fmt.Errorf("authenticate: %w", domain.ErrUnavailable))})
		rec := serve(srv, newRequest(t, http.MethodGet, "/users/", mockToken, nil))
		wantStatus(t, rec, http.StatusServiceUnavailable)
		if rec.Header().Get("Retry-After") == "" {
			t.Error("503 without Retry-After")
		}
	})
}

// TestEveryKindHasOneStatus walks the kind→status table: each error kind
// is answered with its one status on every route, a 401 always names the
// Bearer scheme and a 503 always says when to retry; no other status
// carries either header.
func TestEveryKindHasOneStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		kind   error
		status int
	}{
		{domain.ErrInvalid, http.StatusUnprocessableEntity},
		{domain.ErrRejected, http.StatusBadRequest},
		{domain.ErrUnauthenticated, http.StatusUnauthorized},
		{domain.ErrForbidden, http.StatusForbidden},
		{domain.ErrNotFound, http.StatusNotFound},
		{domain.ErrConflict, http.StatusConflict},
		{domain.ErrUnavailable, http.StatusServiceUnavailable},
	} {
		for _, rt := range mockRoutes {
			t.Run(tc.kind.Error()+"/"+rt.name, func(t *testing.T) {
				t.Parallel()
				srv, _ := rt.server(fmt.Errorf("some use case: %w", tc.kind))
				rec := serve(srv, newRequest(t, rt.method, rt.path, mockToken, rt.body))
				wantStatus(t, rec, tc.status)
				wantAuth, wantRetry := "", ""
				switch tc.status {
				case http.StatusUnauthorized:
					wantAuth = "Bearer"
				case http.StatusServiceUnavailable:
					wantRetry = "1"
				}
				if got := rec.Header().Get("WWW-Authenticate"); got != wantAuth {
					t.Errorf("WWW-Authenticate = %q, want %q", got, wantAuth)
				}
				if got := rec.Header().Get("Retry-After"); got != wantRetry {
					t.Errorf("Retry-After = %q, want %q", got, wantRetry)
				}
			})
		}
	}
}

// TestErrorStatusTable covers the seed's words: each specific error keeps
// its kind's status and has the detail the seed gave it, on a route of the
// seed's contract and on one of ours alike.
func TestErrorStatusTable(t *testing.T) {
	t.Parallel()
	invalidEmail := domain.FieldInvalid(domain.FieldError{Field: "email", Code: domain.CodeEmailSyntax})
	for _, tc := range []struct {
		name    string
		err     error
		status  int
		detail  string
		header  string // a header the answer must carry
		fastAPI bool   // a FastAPI 422 list rather than a detail string
	}{
		{"validation", invalidEmail, 422, "", "", true},
		{"invalid", domain.ErrInvalid, 422, "Invalid input", "", false},
		{"rejected", domain.ErrRejected, 400, "Request rejected", "", false},
		{"email taken", domain.ErrEmailTaken, 400, "Email already exists", "", false},
		{"nickname taken", domain.ErrNicknameTaken, 400, "Nickname already exists", "", false},
		{"account locked", domain.ErrAccountLocked, 400, "Account locked due to too many failed login attempts.", "", false},
		{"invalid verification", domain.ErrInvalidVerification, 400, "Invalid or expired verification token", "", false},
		{"invalid reset token", domain.ErrInvalidResetToken, 400, "Invalid or expired reset token", "", false},
		{"wrong password", domain.ErrWrongPassword, 400, "Incorrect password", "", false},
		{"not found", domain.ErrNotFound, 404, "User not found", "", false},
		{"user not found", domain.ErrUserNotFound, 404, "User not found", "", false},
		{"session not found", domain.ErrSessionNotFound, 404, "Session not found", "", false},
		{"conflict", domain.ErrConflict, 409, "Conflict", "", false},
		{"last admin", domain.ErrLastAdmin, 409, "The last admin cannot be deleted or demoted", "", false},
		{"unauthenticated", domain.ErrUnauthenticated, 401, "Could not validate credentials", "WWW-Authenticate", false},
		{"invalid token", domain.ErrInvalidToken, 401, "Could not validate credentials", "WWW-Authenticate", false},
		{"invalid credentials", domain.ErrInvalidCredentials, 401, "Incorrect email or password.", "WWW-Authenticate", false},
		{"email not verified", domain.ErrEmailNotVerified, 401, "Email not verified.", "WWW-Authenticate", false},
		{"invalid refresh token", domain.ErrInvalidRefreshToken, 401, "Invalid refresh token", "WWW-Authenticate", false},
		{"refresh token reused", domain.ErrRefreshTokenReused, 401, "Invalid refresh token", "WWW-Authenticate", false},
		{"forbidden", domain.ErrForbidden, 403, "Operation not permitted", "", false},
		{"not permitted", domain.ErrNotPermitted, 403, "Operation not permitted", "", false},
		{"unavailable", domain.ErrUnavailable, 503, "Service temporarily unavailable, try again shortly", "Retry-After", false},
		{"login busy", domain.ErrLoginBusy, 503, "Service temporarily unavailable, try again shortly", "Retry-After", false},
		{"nickname exhausted", domain.ErrNicknameExhausted, 503, "Service temporarily unavailable, try again shortly", "Retry-After", false},
		{"invalid code", domain.ErrInvalidCode, 400, "Invalid code", "", false},
		{"second factor failed", domain.ErrSecondFactorFailed, 401, "Invalid code", "WWW-Authenticate", false},
		{"invalid mfa token", domain.ErrInvalidMFAToken, 401, "Invalid or expired MFA token", "WWW-Authenticate", false},
		{"second factor required", domain.ErrSecondFactorRequired, 403, "Second factor required", "", false},
		{"mfa enabled", domain.ErrMFAEnabled, 409, "Second factor already enabled", "", false},
		{"mfa not enabled", domain.ErrMFANotEnabled, 409, "Second factor not enabled", "", false},
		{"no pending mfa", domain.ErrNoPendingMFA, 409, "No second factor pending confirmation", "", false},
		{"deadline", context.DeadlineExceeded, 503, "Service temporarily unavailable, try again shortly", "Retry-After", false},
	} {
		for _, rt := range []struct{ method, path string }{
			{http.MethodPut, "/users/" + unknownID},
			{http.MethodPatch, "/users/me"},
		} {
			t.Run(tc.name+"/"+rt.method+" "+rt.path, func(t *testing.T) {
				t.Parallel()
				err := fmt.Errorf("some use case: %w", tc.err)
				srv, _ := newMockServer(parts{Authenticator: asAdmin(),
					UserUpdater: failing(&httpapi.UserUpdaterMock{}, err), MeUpdater: failing(&httpapi.MeUpdaterMock{}, err)})
				rec := serve(srv, newRequest(t, rt.method, rt.path, mockToken, obj{"bio": "x"}))
				switch {
				case tc.fastAPI:
					wantValidation(t, rec, "body", "email")
				default:
					wantDetail(t, rec, tc.status, tc.detail)
				}
				if tc.header != "" && rec.Header().Get(tc.header) == "" {
					t.Errorf("no %s header", tc.header)
				}
			})
		}
	}

	t.Run("login", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			err    error
			status int
			detail string
			header string
		}{
			{domain.ErrInvalidCredentials, 401, "Incorrect email or password.", "WWW-Authenticate"},
			{domain.ErrEmailNotVerified, 401, "Email not verified.", "WWW-Authenticate"},
			{domain.ErrAccountLocked, 400, "Account locked due to too many failed login attempts.", ""},
			{domain.ErrUnavailable, 503, "Service temporarily unavailable, try again shortly", "Retry-After"},
		} {
			srv, _ := newMockServer(parts{Loginer: failing(&httpapi.LoginerMock{}, fmt.Errorf("login: %w", tc.err))})
			rec := serve(srv, newRequest(t, http.MethodPost, "/login/", "", form{"username": {"a@example.com"}, "password": {"x"}}))
			wantDetail(t, rec, tc.status, tc.detail)
			if tc.header != "" && rec.Header().Get(tc.header) == "" {
				t.Errorf("%v: no %s header", tc.err, tc.header)
			}
		}
	})

	t.Run("verify email", func(t *testing.T) {
		t.Parallel()
		srv, _ := newMockServer(parts{EmailVerifier: failing(&httpapi.EmailVerifierMock{}, fmt.Errorf("verify email: %w", domain.ErrInvalidVerification))})
		rec := serve(srv, newRequest(t, http.MethodGet, "/verify-email/x/y", "", nil))
		wantDetail(t, rec, http.StatusBadRequest, "Invalid or expired verification token")
	})
}

// mockUser is a user for the mock to return.
func mockUser(tb testing.TB) *domain.User {
	tb.Helper()
	u, err := domain.NewUser(domain.NewUserParams{
		ID: unknownID, Email: "mock@example.com", Nickname: "mocked", PasswordHash: fakeHashPrefix + "s$d",
		Role: domain.RoleAuthenticated, Now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestHandlersPassInputs checks what the handlers hand their use cases:
// each subtest fakes only the interface of the handler it calls.
func TestHandlersPassInputs(t *testing.T) {
	t.Parallel()
	u := mockUser(t)
	str := func(s string) *string { return &s }

	t.Run("register ignores role and does not normalise", func(t *testing.T) {
		t.Parallel()
		m := &httpapi.RegistererMock{RegisterFunc: func(context.Context, app.NewUserInput) (*domain.User, error) { return u, nil }}
		srv, _ := newMockServer(parts{Registerer: m})
		wantStatus(t, serve(srv, newRequest(t, http.MethodPost, "/register", "", obj{
			"email": " A@Example.com", "password": testPassword, "nickname": "nick", "role": "ADMIN", "bio": "b", "last_name": nil,
		})), http.StatusOK)
		calls := m.RegisterCalls()
		if len(calls) != 1 {
			t.Fatalf("%d Register calls", len(calls))
		}
		want := app.NewUserInput{Email: " A@Example.com", Password: testPassword, Nickname: "nick", Profile: domain.Profile{Bio: "b"}}
		if diff := cmp.Diff(want, calls[0].In, cmp.Comparer(func(a, b domain.Role) bool { return a == b })); diff != "" {
			t.Errorf("Register input (-want +got):\n%s", diff)
		}
	})

	t.Run("create user passes the role and the actor", func(t *testing.T) {
		t.Parallel()
		auth := asAdmin()
		m := &httpapi.UserCreatorMock{CreateUserFunc: func(context.Context, domain.Actor, app.NewUserInput) (*domain.User, error) { return u, nil }}
		srv, _ := newMockServer(parts{Authenticator: auth, UserCreator: m})
		wantStatus(t, serve(srv, newRequest(t, http.MethodPost, "/users", mockToken, obj{
			"email": "a@example.com", "password": testPassword, "role": "MANAGER",
		})), http.StatusCreated)
		c := m.CreateUserCalls()[0]
		if c.Actor != mockActor || c.In.Role == nil || *c.In.Role != domain.RoleManager {
			t.Errorf("CreateUser got actor %+v, role %v", c.Actor, c.In.Role)
		}
		if got := auth.AuthenticateCalls(); len(got) != 1 || got[0].Token != mockToken {
			t.Errorf("Authenticate calls = %+v, want one with the bare token", got)
		}
	})

	t.Run("update user passes only what was sent", func(t *testing.T) {
		t.Parallel()
		m := &httpapi.UserUpdaterMock{UpdateUserFunc: func(context.Context, domain.Actor, string, app.UpdateUserInput) (*domain.User, error) { return u, nil }}
		srv, _ := newMockServer(parts{Authenticator: asAdmin(), UserUpdater: m})
		wantStatus(t, serve(srv, newRequest(t, http.MethodPut, "/users/ABC", mockToken, obj{
			"nickname": "nn", "bio": nil, "first_name": "F",
		})), http.StatusOK)
		c := m.UpdateUserCalls()[0]
		want := app.UpdateUserInput{Nickname: str("nn"), Profile: domain.ProfilePatch{Bio: str(""), FirstName: str("F")}}
		if c.UserID != "ABC" {
			t.Errorf("user id %q, want the path's ABC", c.UserID)
		}
		if diff := cmp.Diff(want, c.In, cmp.Comparer(func(a, b domain.Role) bool { return a == b })); diff != "" {
			t.Errorf("UpdateUser input (-want +got):\n%s", diff)
		}
	})

	t.Run("update me", func(t *testing.T) {
		t.Parallel()
		m := &httpapi.MeUpdaterMock{UpdateMeFunc: func(context.Context, domain.Actor, app.UpdateMeInput) (*domain.User, error) { return u, nil }}
		srv, _ := newMockServer(parts{Authenticator: asAdmin(), MeUpdater: m})
		wantStatus(t, serve(srv, newRequest(t, http.MethodPatch, "/users/me", mockToken, obj{"github_profile_url": "https://github.com/x"})), http.StatusOK)
		c := m.UpdateMeCalls()[0]
		if c.Actor != mockActor || c.In.Nickname != nil || c.In.Profile.GitHubProfileURL == nil || *c.In.Profile.GitHubProfileURL != "https://github.com/x" {
			t.Errorf("UpdateMe got %+v", c)
		}
	})

	changeRole := func() *httpapi.RoleChangerMock {
		return &httpapi.RoleChangerMock{ChangeRoleFunc: func(context.Context, domain.Actor, string, domain.Role) (*domain.User, error) { return u, nil }}
	}

	t.Run("change role", func(t *testing.T) {
		t.Parallel()
		m := changeRole()
		srv, _ := newMockServer(parts{Authenticator: asAdmin(), RoleChanger: m})
		wantStatus(t, serve(srv, newRequest(t, http.MethodPatch, "/users/"+unknownID+"/role", mockToken, obj{"role": "ANONYMOUS"})), http.StatusOK)
		if c := m.ChangeRoleCalls()[0]; c.Role != domain.RoleAnonymous || c.UserID != unknownID {
			t.Errorf("ChangeRole got %+v", c)
		}
	})

	t.Run("change role refuses a MANAGER before the body", func(t *testing.T) {
		t.Parallel()
		m := changeRole()
		asManager := &httpapi.AuthenticatorMock{AuthenticateFunc: func(context.Context, string) (domain.Actor, error) {
			return domain.Actor{ID: mockActorID, Role: domain.RoleManager}, nil
		}}
		srv, _ := newMockServer(parts{Authenticator: asManager, RoleChanger: m})
		wantForbidden(t, serve(srv, newRequest(t, http.MethodPatch, "/users/"+unknownID+"/role", mockToken, jsonBody(`not json`))))
		if len(m.ChangeRoleCalls()) != 0 {
			t.Error("ChangeRole called for a MANAGER")
		}
	})

	t.Run("login", func(t *testing.T) {
		t.Parallel()
		for _, body := range []any{
			form{"username": {"U@example.com"}, "password": {"pw pw pw"}},
			form{"username": {"U@example.com"}, "password": {"pw pw pw"}, "grant_type": {"password"}, "scope": {"a b"}, "client_id": {"swagger"}},
			obj{"email": "U@example.com", "password": "pw pw pw"},
			obj{"username": "U@example.com", "password": "pw pw pw"},
		} {
			m := &httpapi.LoginerMock{LoginFunc: func(context.Context, string, string) (app.LoginResult, error) {
				return app.LoginResult{AccessToken: "tok", ExpiresIn: time.Minute, User: u}, nil
			}}
			srv, _ := newMockServer(parts{Loginer: m})
			rec := serve(srv, newRequest(t, http.MethodPost, "/login/", "", body))
			wantStatus(t, rec, http.StatusOK)
			c := m.LoginCalls()
			if len(c) != 1 || c[0].Email != "U@example.com" || c[0].Password != "pw pw pw" {
				t.Errorf("%v: Login calls %+v", body, c)
			}
			var tok map[string]any
			decodeBody(t, rec, &tok)
			if diff := cmp.Diff(map[string]any{"access_token": "tok", "token_type": "bearer", "expires_in": 60.0}, tok); diff != "" {
				t.Errorf("token body (-want +got):\n%s", diff)
			}
		}
	})

	t.Run("verify email", func(t *testing.T) {
		t.Parallel()
		m := &httpapi.EmailVerifierMock{VerifyEmailFunc: func(context.Context, string, string) error { return nil }}
		srv, _ := newMockServer(parts{EmailVerifier: m})
		wantStatus(t, serve(srv, newRequest(t, http.MethodGet, "/verify-email/some-id/some-token/", "", nil)), http.StatusOK)
		if c := m.VerifyEmailCalls()[0]; c.UserID != "some-id" || c.Token != "some-token" {
			t.Errorf("VerifyEmail got %+v", c)
		}
	})

	t.Run("list users", func(t *testing.T) {
		t.Parallel()
		for query, want := range map[string][2]int{
			"":                   {0, 10},
			"?skip=5":            {5, 10},
			"?limit=7":           {0, 7},
			"?skip=30&limit=100": {30, 100},
		} {
			m := &httpapi.UserListerMock{ListUsersFunc: func(_ context.Context, _ domain.Actor, skip, limit int) (app.UserPage, error) {
				return app.UserPage{Users: []*domain.User{u}, Total: 1, Skip: skip, Limit: limit}, nil
			}}
			srv, _ := newMockServer(parts{Authenticator: asAdmin(), UserLister: m})
			wantStatus(t, serve(srv, newRequest(t, http.MethodGet, "/users/"+query, mockToken, nil)), http.StatusOK)
			if c := m.ListUsersCalls()[0]; c.Skip != want[0] || c.Limit != want[1] {
				t.Errorf("%q: ListUsers(skip %d, limit %d), want %v", query, c.Skip, c.Limit, want)
			}
		}
	})

	t.Run("a refused body never reaches the use case", func(t *testing.T) {
		t.Parallel()
		// No use case at all: one reached would panic, and the 500 fail
		// the status check.
		srv, _ := newMockServer(parts{Authenticator: asAdmin()})
		for _, rt := range mockRoutes {
			if rt.body == nil {
				continue
			}
			for _, body := range []any{jsonBody(`[]`), jsonBody(`{"unknown":1}`), rawBody{"text/plain", []byte(`{}`)}} {
				rec := serve(srv, newRequest(t, rt.method, rt.path, mockToken, body))
				if !slices.Contains([]int{413, 415, 422}, rec.Code) {
					t.Errorf("%s with %v: status %d", rt.name, body, rec.Code)
				}
			}
		}
	})
}
