package app_test

// The use-case harness: the real use cases (app.Service) on a fresh memory
// store, with moq mocks for the other ports (mailer, hasher, token issuer
// and verifier, ids, secrets) and the shared fake clock, so a test reads
// and injects faults at any port. newEnv builds one; opts swap a port or
// the config before the service is built.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/adapters/secretbox"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/portmock"
)

// t0 is when every test starts; the clock moves only when a test moves it.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const (
	baseURL     = "https://users.example.com"
	goodPass    = "correct-Horse-7"
	wrongPass   = "wrong-Battery-8"
	maxAttempts = 3
	lockFor     = 15 * time.Minute
	verifyTTL   = 24 * time.Hour
	tokenTTL    = 15 * time.Minute
	fakePrefix  = "fake$"
	stalePrefix = "old$"
)

var (
	errBoom     = errors.New("boom")
	defaultCfg  = app.Config{Lockout: domain.LockoutPolicy{MaxAttempts: maxAttempts, Duration: lockFor}, VerificationTTL: verifyTTL, PublicBaseURL: baseURL + "/"}
	dummyHash   = fakeHash("dummy password")
	roleEqual   = cmp.Comparer(func(a, b domain.Role) bool { return a == b })
	adminActor  = domain.Actor{ID: "00000000-0000-4000-8000-00000000a000", Role: domain.RoleAdmin}
	nobodyActor = domain.Actor{ID: "00000000-0000-4000-8000-00000000b000", Role: domain.RoleAuthenticated}
)

// fakeHash is the fast stand-in for argon2id used by every test.
func fakeHash(password string) string {
	sum := sha256.Sum256([]byte(password))
	return fakePrefix + hex.EncodeToString(sum[:])
}

// staleHash is a hash of password "made with old parameters".
func staleHash(password string) string {
	return stalePrefix + strings.TrimPrefix(fakeHash(password), fakePrefix)
}

// sha256Hex is how the service stores email-link secrets.
func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// newHasher is a portmock.PasswordHasherMock running the fake hash; tests replace
// VerifyFunc or HashFunc to inject faults, and read the recorded calls.
func newHasher() *portmock.PasswordHasherMock {
	return &portmock.PasswordHasherMock{
		HashFunc: func(ctx context.Context, password string) (string, error) { return fakeHash(password), nil },
		VerifyFunc: func(ctx context.Context, password, hash string) (bool, bool, error) {
			if rest, ok := strings.CutPrefix(hash, stalePrefix); ok {
				return fakePrefix+rest == fakeHash(password), true, nil
			}
			return hash == fakeHash(password), false, nil
		},
	}
}

// newClock returns the fake clock every test starts with, stopped at t0.
func newClock() *testsupport.Clock { return testsupport.NewClock(t0) }

// Tokens are "tok|id|ROLE|version|session": the fake issuer writes them, the
// fake verifier reads them, and tests can forge one to reach a single check.
func tokenFor(c ports.AccessClaims) string {
	return fmt.Sprintf("tok|%s|%s|%d|%s", c.UserID, c.Role, c.TokenVersion, c.SessionID)
}

func newIssuer() *portmock.TokenIssuerMock {
	return &portmock.TokenIssuerMock{IssueFunc: func(c ports.AccessClaims, now time.Time) (string, time.Duration, error) {
		return tokenFor(c), tokenTTL, nil
	}}
}

func newVerifier() *portmock.TokenVerifierMock {
	return &portmock.TokenVerifierMock{VerifyFunc: func(token string, now time.Time) (ports.AccessClaims, error) {
		parts := strings.Split(token, "|")
		if len(parts) != 5 || parts[0] != "tok" {
			return ports.AccessClaims{}, domain.ErrInvalidToken
		}
		role, err := domain.ParseRole(parts[2])
		if err != nil {
			return ports.AccessClaims{}, domain.ErrInvalidToken
		}
		v, err := strconv.Atoi(parts[3])
		if err != nil {
			return ports.AccessClaims{}, domain.ErrInvalidToken
		}
		return ports.AccessClaims{UserID: parts[1], Role: role, TokenVersion: v, SessionID: parts[4]}, nil
	}}
}

// deps are the ports of one service under test.
type deps struct {
	store    ports.UserStore
	sessions ports.SessionStore
	mem      *memory.UserStore // the store behind store, for setting up and inspecting state
	hasher   *portmock.PasswordHasherMock
	issuer   *portmock.TokenIssuerMock
	verifier *portmock.TokenVerifierMock
	mailer   *portmock.MailerMock
	clock    *testsupport.Clock
	ids      *portmock.IDsMock
	secrets  *portmock.SecretsMock
	cfg      app.Config
}

// env is a service under test and its ports.
type env struct {
	deps
	svc        *app.Service
	dispatcher *app.Dispatcher
}

// newEnv builds a service on a fresh memory store and fakes; opts may swap
// any port or the config before the service is built.
func newEnv(tb testing.TB, opts ...func(*deps)) *env {
	tb.Helper()
	var nextID, nextSecret atomic.Int64
	mem := memory.NewUserStore()
	d := deps{
		store:    mem,
		sessions: mem,
		mem:      mem,
		hasher:   newHasher(),
		issuer:   newIssuer(),
		verifier: newVerifier(),
		mailer:   &portmock.MailerMock{SendFunc: func(ctx context.Context, m domain.Message) error { return nil }},
		clock:    newClock(),
		ids: &portmock.IDsMock{NewIDFunc: func() string {
			return fmt.Sprintf("00000000-0000-4000-8000-%012d", nextID.Add(1))
		}},
		secrets: &portmock.SecretsMock{NewSecretFunc: func() (string, error) {
			return fmt.Sprintf("secret-%d", nextSecret.Add(1)), nil
		}},
		cfg: defaultCfg,
	}
	for _, o := range opts {
		o(&d)
	}
	svc, err := app.New(app.Deps{Users: d.store, Sessions: d.sessions, Audit: d.mem, Stats: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: d.clock, IDs: d.ids, Secrets: d.secrets, SecretBox: testBox(tb), Log: slog.New(slog.DiscardHandler), DummyHash: dummyHash}, d.cfg)
	if err != nil {
		tb.Fatalf("app.New: %v", err)
	}
	disp, err := app.NewDispatcher(d.mem, d.mailer, d.clock, app.DispatcherConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatalf("app.NewDispatcher: %v", err)
	}
	return &env{deps: d, svc: svc, dispatcher: disp}
}

// register signs up email with goodPass and returns the new user.
func (e *env) register(tb testing.TB, email string) *domain.User {
	tb.Helper()
	u, err := e.svc.Register(context.Background(), app.NewUserInput{Email: email, Password: goodPass})
	if err != nil {
		tb.Fatalf("Register(%q): %v", email, err)
	}
	return u
}

// verified signs up email, follows the verification link and returns the user.
func (e *env) verified(tb testing.TB, email string) *domain.User {
	tb.Helper()
	u := e.register(tb, email)
	id, token := e.linkFor(tb, u.Email())
	if err := e.svc.VerifyEmail(context.Background(), id, token); err != nil {
		tb.Fatalf("VerifyEmail: %v", err)
	}
	return e.user(tb, u.ID())
}

// withRole signs up and verifies email, then gives it role directly in the store.
func (e *env) withRole(tb testing.TB, email string, role domain.Role) domain.Actor {
	tb.Helper()
	u := e.verified(tb, email)
	err := e.mem.UpdateUser(context.Background(), u.ID(), func(u *domain.User) error {
		u.SetRole(role, e.clock.Now())
		return nil
	})
	if err != nil {
		tb.Fatalf("setting role: %v", err)
	}
	return domain.Actor{ID: u.ID(), Role: role}
}

// admin creates a verified ADMIN and returns it as an actor.
func (e *env) admin(tb testing.TB, email string) domain.Actor {
	tb.Helper()
	u, err := e.svc.CreateAdmin(context.Background(), email, goodPass)
	if err != nil {
		tb.Fatalf("CreateAdmin: %v", err)
	}
	return domain.Actor{ID: u.ID(), Role: domain.RoleAdmin}
}

// user reads a user straight from the store.
func (e *env) user(tb testing.TB, id string) *domain.User {
	tb.Helper()
	u, err := e.mem.UserByID(context.Background(), id)
	if err != nil {
		tb.Fatalf("UserByID(%q): %v", id, err)
	}
	return u
}

// sent returns the messages mailed so far, in order.
func (e *env) sent() []domain.Message {
	e.flush()
	calls := e.mailer.SendCalls()
	out := make([]domain.Message, len(calls))
	for i, c := range calls {
		out[i] = c.M
		out[i].ID = "" // the outbox row's; tests compare the content
	}
	return out
}

// flush runs the dispatcher over every message due now.
func (e *env) flush() {
	for {
		n, err := e.dispatcher.DeliverDue(context.Background())
		if err != nil {
			panic(err)
		}
		if n == 0 {
			return
		}
	}
}

// sentTo returns the messages of kind mailed to address.
func (e *env) sentTo(address string, kind domain.MessageKind) []domain.Message {
	var out []domain.Message
	for _, m := range e.sent() {
		if m.To == address && m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// linkFor returns the user id and token of the last verification link
// mailed to address.
func (e *env) linkFor(tb testing.TB, address string) (id, token string) {
	tb.Helper()
	msgs := e.sentTo(address, domain.MessageVerifyEmail)
	if len(msgs) == 0 {
		tb.Fatalf("no verification email sent to %s", address)
	}
	rest, ok := strings.CutPrefix(msgs[len(msgs)-1].Link, baseURL+"/verify-email/")
	if !ok {
		tb.Fatalf("verification link %q is not under %s/verify-email/", msgs[len(msgs)-1].Link, baseURL)
	}
	id, token, ok = strings.Cut(rest, "/")
	if !ok || id == "" || token == "" || strings.Contains(token, "/") {
		tb.Fatalf("verification link %q is not .../verify-email/{id}/{token}", msgs[len(msgs)-1].Link)
	}
	return id, token
}

// login logs in with password.
func (e *env) login(email, password string) (app.LoginResult, error) {
	return e.svc.Login(context.Background(), email, password)
}

// wantErr fails unless errors.Is(err, want); want nil means success.
func wantErr(tb testing.TB, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("error = %v, want %v", err, want)
	}
}

// wantInvalid asserts a validation error on exactly fields, in order.
func wantInvalid(tb testing.TB, err error, fields ...string) {
	tb.Helper()
	var ve *domain.ValidationError
	if !errors.As(err, &ve) || !errors.Is(err, domain.ErrInvalid) {
		tb.Fatalf("error = %v, want a *domain.ValidationError", err)
	}
	got := make([]string, 0, len(ve.Fields))
	for _, f := range ve.Fields {
		got = append(got, f.Field)
	}
	if diff := cmp.Diff(fields, got); diff != "" {
		tb.Errorf("invalid fields mismatch (-want +got):\n%s", diff)
	}
}

func ptr[T any](v T) *T { return &v }

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// sessionOf reads a session straight from the store.
func (e *env) sessionOf(tb testing.TB, id string) domain.Session {
	tb.Helper()
	sess, _, err := e.mem.SessionWithUser(context.Background(), id)
	if err != nil {
		tb.Fatalf("SessionWithUser(%q): %v", id, err)
	}
	return sess
}

// sessionAlive reports whether a session may still be used by its user now.
func (e *env) sessionAlive(tb testing.TB, id string) bool {
	tb.Helper()
	sess, u, err := e.mem.SessionWithUser(context.Background(), id)
	if err != nil {
		return false
	}
	return sess.ValidFor(u, e.clock.Now())
}

// setHash puts a hash of the user's password in place directly (a hash
// made with old parameters, say), as an upgrade would.
func (e *env) setHash(tb testing.TB, id, hash string) {
	tb.Helper()
	if err := e.mem.UpdateUser(context.Background(), id, func(u *domain.User) error {
		u.UpgradePasswordHash(u.PasswordHash(), hash)
		return nil
	}); err != nil {
		tb.Fatal(err)
	}
}

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
