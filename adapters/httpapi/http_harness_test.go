package httpapi_test

// The HTTP harness: HTTP over the real use cases. newHarness serves
// app.Service on a fresh memory store through httpapi.NewServer, with the
// shared fake clock, a fast fake hasher, mail delivered by the real
// dispatcher to a recording mailer, and JSON logs in a buffer; its
// bootstrap ADMIN is logged in. Tests drive it with h.do (an
// httptest request, no network) and check answers with the want* helpers
// below. Variants: newHarnessWith (server options), newHarnessOn (a hook
// on the store's calls), newHarnessConfigured (use-case settings),
// newHarnessHooked (a hook before each user write).
//
// Helpers of one concern live with its tests: sessions and tokens in
// session_api_test.go, reset and unlock links in recovery_api_test.go, the
// audit log in audit_api_test.go, security headers in hardening_test.go.
// Handler tests that fake a use case do it at the handler's own interface
// (export_test.go) or at a port of the real use cases (faults_test.go).

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/adapters/secretbox"
	"github.com/usersvc/usersvc/adapters/system"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports"
)

// The settings every harness runs with.
const (
	publicBaseURL  = "http://localhost:8000"
	jwtIssuer      = "http://test"
	accessTTL      = 15 * time.Minute
	maxAttempts    = 3
	lockoutFor     = 15 * time.Minute
	verificationIn = 24 * time.Hour
	// testPassword is the password of every account the helpers create.
	testPassword = "Tr0ub4dor-and-3-horses"
	// wrongPassword is a valid password that belongs to nobody.
	wrongPassword = "Definitely-not-it-42"
)

var jwtKey = []byte("0123456789abcdef0123456789abcdef") // 32 bytes

// fakeHasher is a fast stand-in for argon2id: sha256 over a random salt and
// the password. It honours ctx as the real one does.
type fakeHasher struct {
	// beforeVerify, when set, runs at the start of every Verify: tests use
	// it to act while a password check is in flight.
	beforeVerify atomic.Pointer[func(password string)]
}

var _ ports.PasswordHasher = (*fakeHasher)(nil)

const fakeHashPrefix = "fakehash$"

func fakeDigest(salt, password string) string {
	sum := sha256.Sum256([]byte(salt + "\x00" + password))
	return hex.EncodeToString(sum[:])
}

func (*fakeHasher) Hash(ctx context.Context, password string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("hash: %w: %w", domain.ErrUnavailable, err)
	}
	salt := rand.Text()
	return fakeHashPrefix + salt + "$" + fakeDigest(salt, password), nil
}

func (f *fakeHasher) Verify(ctx context.Context, password, hash string) (bool, bool, error) {
	if hook := f.beforeVerify.Load(); hook != nil {
		(*hook)(password)
	}
	if err := ctx.Err(); err != nil {
		return false, false, fmt.Errorf("verify: %w: %w", domain.ErrUnavailable, err)
	}
	salt, digest, ok := strings.Cut(strings.TrimPrefix(hash, fakeHashPrefix), "$")
	if !ok || !strings.HasPrefix(hash, fakeHashPrefix) {
		return false, false, errors.New("verify: malformed hash")
	}
	return subtle.ConstantTimeCompare([]byte(fakeDigest(salt, password)), []byte(digest)) == 1, false, nil
}

// userAndSessionStore is what the memory store is to the use cases.
type userAndSessionStore interface {
	ports.UserStore
	ports.SessionStore
}

// fakeMailer records every message it is handed.
type fakeMailer struct {
	mu   sync.Mutex
	msgs []domain.Message
}

var _ ports.Mailer = (*fakeMailer)(nil)

func (m *fakeMailer) Send(_ context.Context, msg domain.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

// outbox delivers what the store queued to a fakeMailer, on demand: tests
// read mail through sent, which first delivers everything due.
type outbox struct {
	tb         testing.TB
	dispatcher *app.Dispatcher
	mailer     *fakeMailer
}

// sent delivers every due message, then returns those of kind sent to address.
func (o *outbox) sent(to string, kind domain.MessageKind) []domain.Message {
	o.tb.Helper()
	for {
		n, err := o.dispatcher.DeliverDue(context.Background())
		if err != nil {
			o.tb.Fatalf("delivering the outbox: %v", err)
		}
		if n == 0 {
			break
		}
	}
	o.mailer.mu.Lock()
	defer o.mailer.mu.Unlock()
	var out []domain.Message
	for _, msg := range o.mailer.msgs {
		if msg.To == to && msg.Kind == kind {
			out = append(out, msg)
		}
	}
	return out
}

// newTestLogger is a JSON logger at debug level into a fresh buffer.
func newTestLogger() (*slog.Logger, *testsupport.Buffer) {
	buf := &testsupport.Buffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// account is a user the harness made, with its password and, once logged
// in, its bearer token.
type account struct {
	ID       string
	Email    string
	Password string
	Token    string
}

func (a account) actor(role domain.Role) domain.Actor { return domain.Actor{ID: a.ID, Role: role} }

// harness is one isolated service: its own memory store (and outbox),
// clock, mailer and logs, served by httpapi.NewServer. Mail goes the real
// way, store outbox → app.Dispatcher → fakeMailer, delivered when a test
// reads it through h.mail.sent.
type harness struct {
	tb     testing.TB
	svc    *app.Service
	srv    http.Handler
	clock  *testsupport.Clock
	mail   *outbox
	logs   *testsupport.Buffer
	hasher *fakeHasher
	// deps and cfg are what svc was built with: portFaultServer builds the
	// same use cases on failing ports.
	deps app.Deps
	cfg  app.Config
	// store is the memory store behind svc and hooks (its webhook outbox
	// included); hooks are the webhook use cases the server serves.
	store *memory.UserStore
	hooks *webhookAdmin
	// admin is the bootstrap ADMIN, logged in.
	admin account
	seq   atomic.Int64
}

func newHarness(tb testing.TB) *harness {
	tb.Helper()
	return newHarnessOn(tb, nil)
}

// newHarnessOn is newHarness whose use cases reach the sessions through
// wrap(store), when wrap is not nil: a test can hook a session call.
func newHarnessOn(tb testing.TB, wrap func(*memory.UserStore) userAndSessionStore) *harness {
	tb.Helper()
	return newHarnessConfigured(tb, wrap, nil)
}

// newHarnessConfigured is newHarnessOn whose use cases run with the
// harness's settings changed by configure, when it is not nil.
func newHarnessConfigured(tb testing.TB, wrap func(*memory.UserStore) userAndSessionStore, configure func(*app.Config)) *harness {
	tb.Helper()
	logger, logs := newTestLogger()
	tokens, err := jwttoken.New(jwtKey, jwtIssuer, accessTTL)
	if err != nil {
		tb.Fatal(err)
	}
	clock := testsupport.NewClock(time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC))
	hasher := &fakeHasher{}
	dummy, err := hasher.Hash(context.Background(), "dummy password")
	if err != nil {
		tb.Fatal(err)
	}
	store := memory.NewUserStore()
	var users userAndSessionStore = store
	if wrap != nil {
		users = wrap(store)
	}
	mailer := &fakeMailer{}
	dispatcher, err := app.NewDispatcher(store, mailer, clock, app.DispatcherConfig{}, logger)
	if err != nil {
		tb.Fatal(err)
	}
	mail := &outbox{tb: tb, dispatcher: dispatcher, mailer: mailer}
	cfg := app.Config{
		Lockout:         domain.LockoutPolicy{MaxAttempts: maxAttempts, Duration: lockoutFor},
		VerificationTTL: verificationIn,
		PublicBaseURL:   publicBaseURL,
	}
	if configure != nil {
		configure(&cfg)
	}
	deps := app.Deps{
		Users: users, Sessions: users, Audit: store, Stats: store, Hasher: hasher, Issuer: tokens, Verifier: tokens,
		Clock: clock, IDs: system.IDs{}, Secrets: system.Secrets{}, SecretBox: testBox(tb), Log: logger, DummyHash: dummy,
	}
	svc, err := app.New(deps, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	hooks := newWebhookAdmin(tb, store, clock, true)
	h := &harness{
		tb: tb, svc: svc, srv: httpapi.NewServer(logger, svc, httpapi.Options{Webhooks: hooks}),
		clock: clock, mail: mail, logs: logs, hasher: hasher, store: store, hooks: hooks, deps: deps, cfg: cfg,
	}
	u, err := svc.CreateAdmin(context.Background(), "root@example.com", testPassword)
	if err != nil {
		tb.Fatalf("create admin: %v", err)
	}
	h.admin = account{ID: u.ID(), Email: u.Email(), Password: testPassword}
	h.admin.Token = h.login(h.admin.Email, h.admin.Password)
	return h
}

// newHarnessWith is newHarness serving with opts (rate limits, CORS…).
// The server logs to the harness's buffer, as newHarness's does.
func newHarnessWith(tb testing.TB, opts httpapi.Options) *harness {
	tb.Helper()
	h := newHarness(tb)
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if opts.Webhooks == nil {
		opts.Webhooks = h.hooks
	}
	h.srv = httpapi.NewServer(logger, h.svc, opts)
	return h
}

// hookedStore is the memory store with a hook run each time the use cases
// write a user, before the write reaches the store: a test acts there as a
// request arriving at that moment would.
type hookedStore struct {
	*memory.UserStore
	beforeUpdate atomic.Pointer[func()]
}

func (s *hookedStore) UpdateUser(ctx context.Context, id string, fn func(*domain.User) error) error {
	if hook := s.beforeUpdate.Load(); hook != nil {
		(*hook)()
	}
	return s.UserStore.UpdateUser(ctx, id, fn)
}

// newHarnessHooked is newHarness whose use cases reach the store through
// hookedStore.
func newHarnessHooked(tb testing.TB) (*harness, *hookedStore) {
	tb.Helper()
	var hooked *hookedStore
	h := newHarnessOn(tb, func(store *memory.UserStore) userAndSessionStore {
		hooked = &hookedStore{UserStore: store}
		return hooked
	})
	return h, hooked
}

// countVerifies counts the fake hasher's Verify calls until the test ends.
func countVerifies(tb testing.TB, h *harness) *atomic.Int64 {
	tb.Helper()
	var n atomic.Int64
	hook := func(string) { n.Add(1) }
	if !h.hasher.beforeVerify.CompareAndSwap(nil, &hook) {
		tb.Fatal("the hasher already has a beforeVerify hook")
	}
	tb.Cleanup(func() { h.hasher.beforeVerify.Store(nil) })
	return &n
}

// email returns a fresh address.
func (h *harness) email(prefix string) string {
	return fmt.Sprintf("%s%d@example.com", prefix, h.seq.Add(1))
}

// register signs a user up (ANONYMOUS, unverified) through the use case.
func (h *harness) register(prefix string) account {
	h.tb.Helper()
	email := h.email(prefix)
	u, err := h.svc.Register(context.Background(), app.NewUserInput{Email: email, Password: testPassword})
	if err != nil {
		h.tb.Fatalf("register %s: %v", email, err)
	}
	return account{ID: u.ID(), Email: u.Email(), Password: testPassword}
}

// verificationPath is the path of the last verification link mailed to email.
func (h *harness) verificationPath(email string) string {
	h.tb.Helper()
	msgs := h.mail.sent(email, domain.MessageVerifyEmail)
	if len(msgs) == 0 {
		h.tb.Fatalf("no verification email sent to %s", email)
	}
	link := msgs[len(msgs)-1].Link
	path, ok := strings.CutPrefix(link, publicBaseURL+"/verify-email/")
	if !ok {
		h.tb.Fatalf("verification link %q does not start with %s/verify-email/", link, publicBaseURL)
	}
	return "/verify-email/" + path
}

// verificationToken splits the last verification link mailed to email.
func (h *harness) verificationToken(email string) (userID, token string) {
	h.tb.Helper()
	rest := strings.TrimPrefix(h.verificationPath(email), "/verify-email/")
	userID, token, ok := strings.Cut(rest, "/")
	if !ok || token == "" || strings.Contains(token, "/") {
		h.tb.Fatalf("malformed verification path %q", rest)
	}
	return userID, token
}

// verified registers and verifies a user (AUTHENTICATED), not logged in.
func (h *harness) verified(prefix string) account {
	h.tb.Helper()
	a := h.register(prefix)
	id, token := h.verificationToken(a.Email)
	if err := h.svc.VerifyEmail(context.Background(), id, token); err != nil {
		h.tb.Fatalf("verify %s: %v", a.Email, err)
	}
	return a
}

// setRole has the bootstrap ADMIN change a user's role.
func (h *harness) setRole(id string, role domain.Role) {
	h.tb.Helper()
	if _, err := h.svc.ChangeRole(context.Background(), h.admin.actor(domain.RoleAdmin), id, role); err != nil {
		h.tb.Fatalf("change role of %s to %s: %v", id, role, err)
	}
}

// user returns a logged-in user of role. An ANONYMOUS user with a token is a
// verified user an ADMIN demoted, who logged in again afterwards.
func (h *harness) user(role domain.Role) account {
	h.tb.Helper()
	var a account
	switch role {
	case domain.RoleAdmin:
		u, err := h.svc.CreateAdmin(context.Background(), h.email("admin"), testPassword)
		if err != nil {
			h.tb.Fatalf("create admin: %v", err)
		}
		a = account{ID: u.ID(), Email: u.Email(), Password: testPassword}
	case domain.RoleAuthenticated:
		a = h.verified("user")
	case domain.RoleManager, domain.RoleAnonymous:
		a = h.verified(strings.ToLower(role.String()))
		h.setRole(a.ID, role)
	default:
		h.tb.Fatalf("no such role %v", role)
	}
	a.Token = h.login(a.Email, a.Password)
	return a
}

// login logs in through POST /login/ with the OAuth2 form and returns the
// access token.
func (h *harness) login(email, password string) string {
	h.tb.Helper()
	rec := h.do(http.MethodPost, "/login/", "", form{"username": {email}, "password": {password}})
	if rec.Code != http.StatusOK {
		h.tb.Fatalf("login %s: status %d: %s", email, rec.Code, rec.Body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	decodeBody(h.tb, rec, &tok)
	if tok.AccessToken == "" {
		h.tb.Fatalf("login %s: no access_token in %s", email, rec.Body)
	}
	return tok.AccessToken
}

// failLogins makes n wrong-password logins through the use case.
func (h *harness) failLogins(email string, n int) {
	h.tb.Helper()
	for range n {
		if _, err := h.svc.Login(context.Background(), email, wrongPassword); err == nil {
			h.tb.Fatalf("login of %s with a wrong password succeeded", email)
		}
	}
}

// form is an application/x-www-form-urlencoded body.
type form = url.Values

// rawBody is a body sent as is, with its Content-Type ("" sends none).
type rawBody struct {
	contentType string
	data        []byte
}

// newRequest builds a request. body is nil (none), a form, a rawBody, or
// anything else, sent as JSON.
func newRequest(tb testing.TB, method, target, token string, body any) *http.Request {
	tb.Helper()
	var (
		r  io.Reader
		ct string
	)
	switch b := body.(type) {
	case nil:
	case form:
		r, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case rawBody:
		r, ct = bytes.NewReader(b.data), b.contentType
	case string:
		r, ct = strings.NewReader(b), "application/json"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			tb.Fatal(err)
		}
		r, ct = bytes.NewReader(data), "application/json"
	}
	req := httptest.NewRequest(method, target, r)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req
}

// do serves one request.
func (h *harness) do(method, target, token string, body any) *httptest.ResponseRecorder {
	h.tb.Helper()
	return serve(h.srv, newRequest(h.tb, method, target, token, body))
}

// doFrom serves one request whose peer is addr ("ip:port"), with extra headers.
func (h *harness) doFrom(addr string, hdr http.Header, method, target, token string, body any) *httptest.ResponseRecorder {
	h.tb.Helper()
	req := newRequest(h.tb, method, target, token, body)
	req.RemoteAddr = addr
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	return serve(h.srv, req)
}

func serve(srv http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	return rec
}

// obj is a JSON object literal.
type obj = map[string]any

func decodeBody(tb testing.TB, rec *httptest.ResponseRecorder, v any) {
	tb.Helper()
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("Content-Type = %q, want application/json (body %s)", ct, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		tb.Fatalf("body is not the JSON expected: %v: %s", err, rec.Body)
	}
}

func wantStatus(tb testing.TB, rec *httptest.ResponseRecorder, want int) {
	tb.Helper()
	if rec.Code != want {
		tb.Fatalf("status = %d, want %d; body: %s", rec.Code, want, rec.Body)
	}
}

// wantDetail checks a {"detail": "…"} error.
func wantDetail(tb testing.TB, rec *httptest.ResponseRecorder, status int, detail string) {
	tb.Helper()
	wantStatus(tb, rec, status)
	var body struct {
		Detail any `json:"detail"`
	}
	decodeBody(tb, rec, &body)
	if body.Detail != detail {
		tb.Errorf("detail = %#v, want %q", body.Detail, detail)
	}
}

// wantUnauthorized checks a 401 with WWW-Authenticate: Bearer.
func wantUnauthorized(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	wantStatus(tb, rec, http.StatusUnauthorized)
	if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
		tb.Errorf("WWW-Authenticate = %q, want Bearer", got)
	}
	var body struct {
		Detail string `json:"detail"`
	}
	decodeBody(tb, rec, &body)
	if body.Detail == "" {
		tb.Errorf("401 without a detail: %s", rec.Body)
	}
}

// wantForbidden checks the seed's 403.
func wantForbidden(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	wantDetail(tb, rec, http.StatusForbidden, "Operation not permitted")
}

// wantSameAnswer checks that two answers cannot be told apart: status,
// headers (but the request id and date) and body.
func wantSameAnswer(tb testing.TB, what string, a, b *httptest.ResponseRecorder) {
	tb.Helper()
	if a.Code != b.Code {
		tb.Errorf("%s: status %d vs %d", what, a.Code, b.Code)
	}
	if a.Body.String() != b.Body.String() {
		tb.Errorf("%s: bodies differ:\n%s\n%s", what, a.Body, b.Body)
	}
	ha, hb := a.Header().Clone(), b.Header().Clone()
	for _, k := range []string{"X-Request-Id", "Date"} {
		ha.Del(k)
		hb.Del(k)
	}
	if !reflect.DeepEqual(ha, hb) {
		tb.Errorf("%s: headers differ:\n%v\n%v", what, ha, hb)
	}
}

// validationItem is one entry of a FastAPI 422 body.
type validationItem struct {
	Loc  []any  `json:"loc"`
	Msg  string `json:"msg"`
	Type string `json:"type"`
}

// wantValidation checks a FastAPI-shaped 422 and that one item points at loc.
func wantValidation(tb testing.TB, rec *httptest.ResponseRecorder, loc ...any) []validationItem {
	tb.Helper()
	wantStatus(tb, rec, http.StatusUnprocessableEntity)
	var body struct {
		Detail []validationItem `json:"detail"`
	}
	decodeBody(tb, rec, &body)
	if len(body.Detail) == 0 {
		tb.Fatalf("422 without items: %s", rec.Body)
	}
	for _, it := range body.Detail {
		if len(it.Loc) == 0 || it.Msg == "" || it.Type == "" {
			tb.Errorf("incomplete validation item %+v in %s", it, rec.Body)
		}
	}
	if loc == nil {
		return body.Detail
	}
	want := fmt.Sprintf("%v", loc)
	for _, it := range body.Detail {
		if fmt.Sprintf("%v", it.Loc) == want {
			return body.Detail
		}
	}
	tb.Errorf("no validation item at loc %v in %s", want, rec.Body)
	return body.Detail
}

// userBody is a user as the API shows it.
type userBody struct {
	ID                          string     `json:"id"`
	Email                       string     `json:"email"`
	Nickname                    string     `json:"nickname"`
	FirstName                   *string    `json:"first_name"`
	LastName                    *string    `json:"last_name"`
	Bio                         *string    `json:"bio"`
	Role                        string     `json:"role"`
	IsProfessional              bool       `json:"is_professional"`
	ProfessionalStatusUpdatedAt *time.Time `json:"professional_status_updated_at"`
	EmailVerified               bool       `json:"email_verified"`
	IsLocked                    bool       `json:"is_locked"`
	LastLoginAt                 *time.Time `json:"last_login_at"`
	InvitationPending           bool       `json:"invitation_pending"`
	Links                       []linkBody `json:"links"`
}

type linkBody struct {
	Rel    string `json:"rel"`
	Href   string `json:"href"`
	Method string `json:"method"`
}

func decodeUser(tb testing.TB, rec *httptest.ResponseRecorder) userBody {
	tb.Helper()
	var u userBody
	decodeBody(tb, rec, &u)
	return u
}

// getUser reads a user through GET /users/{id} as the bootstrap ADMIN.
func (h *harness) getUser(id string) userBody {
	h.tb.Helper()
	rec := h.do(http.MethodGet, "/users/"+id, h.admin.Token, nil)
	wantStatus(h.tb, rec, http.StatusOK)
	return decodeUser(h.tb, rec)
}

// wantUserMissing checks that GET /users/{id} is a 404.
func (h *harness) wantUserMissing(id string) {
	h.tb.Helper()
	wantDetail(h.tb, h.do(http.MethodGet, "/users/"+id, h.admin.Token, nil), http.StatusNotFound, "User not found")
}

// unknownID is a well-formed id no user has.
const unknownID = "0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"

// testBox is a secret box under a random key.
func testBox(tb testing.TB) *secretbox.Box {
	tb.Helper()
	key, err := secretbox.ParseKey(secretbox.NewKey())
	if err != nil {
		tb.Fatal(err)
	}
	b, err := secretbox.New(key)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
