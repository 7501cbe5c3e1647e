package httpapi_test

//go:generate go tool moq -pkg httpapi_test -out mocks_test.go . UseCases

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

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
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

// logBuffer is a goroutine-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns the decoded JSON log records.
func (l *logBuffer) lines(tb testing.TB) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.String()), "\n") {
		if line == "" {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			tb.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

func newTestLogger() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
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
	clock  *fakeClock
	mail   *outbox
	logs   *logBuffer
	hasher *fakeHasher
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
	clock := &fakeClock{now: time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)}
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
	svc, err := app.New(app.Deps{
		Users: users, Sessions: users, Audit: store, Stats: store, Hasher: hasher, Issuer: tokens, Verifier: tokens,
		Clock: clock, IDs: system.IDs{}, Secrets: system.Secrets{}, SecretBox: testBox(tb), Log: logger, DummyHash: dummy,
	}, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	hooks := newWebhookAdmin(tb, store, clock, true)
	h := &harness{
		tb: tb, svc: svc, srv: httpapi.NewServer(logger, svc, httpapi.Options{Webhooks: hooks}),
		clock: clock, mail: mail, logs: logs, hasher: hasher, store: store, hooks: hooks,
	}
	u, err := svc.CreateAdmin(context.Background(), "root@example.com", testPassword)
	if err != nil {
		tb.Fatalf("create admin: %v", err)
	}
	h.admin = account{ID: u.ID(), Email: u.Email(), Password: testPassword}
	h.admin.Token = h.login(h.admin.Email, h.admin.Password)
	return h
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
