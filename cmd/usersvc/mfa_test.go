package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/argon2hash"
	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/jwttoken"
	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/adapters/secretbox"
	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/adapters/system"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports"
)

// The second factor (PRODUCT.md 8.1) through the HTTP API and the real use
// cases, on each store: memory, SQLite and PostgreSQL. Each row of the
// section's table and each of its rules is exercised on all three; the
// finer cases live in app (memory) and httpapi.

// mfaStore is what the use cases and the dispatcher need of a store.
type mfaStore interface {
	ports.UserStore
	ports.SessionStore
	ports.AuditLog
	ports.UserStats
	ports.Outbox
}

// storedSecret reads what a store keeps of a user's TOTP secret and
// recovery codes, as an intruder with a copy of the database would.
type storedSecret func(t *testing.T, userID string) string

// mailbox records the messages the dispatcher sends.
type mailbox struct {
	mu   sync.Mutex
	msgs []domain.Message
}

func (m *mailbox) Send(_ context.Context, msg domain.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.msgs = append(m.msgs, msg)
	return nil
}

// mfaEnv is the API on one store.
type mfaEnv struct {
	t      *testing.T
	srv    http.Handler
	svc    *app.Service
	clock  *testsupport.Clock
	disp   *app.Dispatcher
	mail   *mailbox
	stored storedSecret
}

func TestSecondFactorOnEveryStore(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(t *testing.T) (mfaStore, storedSecret){
		"memory": func(t *testing.T) (mfaStore, storedSecret) {
			s := memory.NewUserStore()
			return s, func(t *testing.T, id string) string {
				u, err := s.UserByID(context.Background(), id)
				if err != nil {
					t.Fatal(err)
				}
				st := u.State()
				return st.TOTPSecret + " " + st.TOTPPendingSecret + " " + strings.Join(st.RecoveryCodeHashes[:], ",")
			}
		},
		"sqlite": func(t *testing.T) (mfaStore, storedSecret) {
			path := filepath.Join(t.TempDir(), "usersvc.db")
			return openMFAStore(t, "sqlite:"+path), rawColumns("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)", "?")
		},
		"postgres": func(t *testing.T) (mfaStore, storedSecret) {
			dbURL := sqlstoretest.NewPostgresURL(t)
			return openMFAStore(t, dbURL), rawColumns("postgres", dbURL, "$1")
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store, stored := open(t)
			for _, tc := range []struct {
				name string
				fn   func(e *mfaEnv)
			}{
				{"EnrolConfirmAndLogIn", testMFAEnrolConfirmLogin},
				{"DisableRegenerateReset", testMFADisableRegenerateReset},
				{"WrongCodesLockExactly", testMFAConcurrentWrongCodes},
				{"PasswordResetLeavesItOn", testMFAPasswordReset},
			} {
				t.Run(tc.name, func(t *testing.T) { tc.fn(newMFAEnv(t, store, stored)) })
			}
		})
	}
}

func openMFAStore(t *testing.T, dbURL string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// rawColumns reads the columns that hold a user's second factor with a
// connection of its own.
func rawColumns(driver, dsn, param string) storedSecret {
	return func(t *testing.T, id string) string {
		t.Helper()
		db, err := sql.Open(driver, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var secret, pending, recovery sql.NullString
		if err := db.QueryRowContext(context.Background(),
			"SELECT totp_secret, totp_pending_secret, recovery_code_hashes FROM users WHERE id = "+param, id).
			Scan(&secret, &pending, &recovery); err != nil {
			t.Fatal(err)
		}
		return secret.String + " " + pending.String + " " + recovery.String
	}
}

func newMFAEnv(t *testing.T, store mfaStore, stored storedSecret) *mfaEnv {
	t.Helper()
	return newMFAEnvOn(t, store, stored, testsupport.NewClock(time.Now().UTC().Truncate(time.Second)))
}

// newMFAEnvOn is newMFAEnv on a given clock: instances that share a store
// share it too.
func newMFAEnvOn(t *testing.T, store mfaStore, stored storedSecret, clock *testsupport.Clock) *mfaEnv {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hasher, err := argon2hash.New(argon2hash.Params{MemoryKiB: 1024, Iterations: 1, Parallelism: 1}, 4)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := jwttoken.New([]byte(strings.Repeat("k", 32)), "http://usersvc.test", 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	key, err := secretbox.ParseKey(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	dummy, err := hasher.Hash(ctx, "dummy")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := app.New(app.Deps{
		Users: store, Sessions: store, Audit: store, Stats: store, Hasher: hasher, Issuer: tokens, Verifier: tokens,
		Clock: clock, IDs: system.IDs{}, Secrets: system.Secrets{}, SecretBox: box, Log: log, DummyHash: dummy,
	}, app.Config{
		Lockout:         domain.LockoutPolicy{MaxAttempts: 3, Duration: 15 * time.Minute},
		VerificationTTL: 24 * time.Hour,
		PublicBaseURL:   "http://usersvc.test",
	})
	if err != nil {
		t.Fatal(err)
	}
	mail := &mailbox{}
	disp, err := app.NewDispatcher(store, mail, clock, app.DispatcherConfig{}, log)
	if err != nil {
		t.Fatal(err)
	}
	return &mfaEnv{t: t, srv: httpapi.NewServer(log, svc, httpapi.Options{}), svc: svc, clock: clock, disp: disp, mail: mail, stored: stored}
}

// do serves one request; body is JSON unless it is url.Values (a form).
func (e *mfaEnv) do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, ct = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", ct)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			e.t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
		}
	}
	return rec.Code, out
}

// want serves a request and wants status and, when detail is set, that detail.
func (e *mfaEnv) want(status int, detail, method, path, token string, body any) map[string]any {
	e.t.Helper()
	got, out := e.do(method, path, token, body)
	if got != status || (detail != "" && out["detail"] != detail) {
		e.t.Fatalf("%s %s: %d %v, want %d %q", method, path, got, out, status, detail)
	}
	return out
}

// sent delivers the outbox and counts the messages of kind to address.
func (e *mfaEnv) sent(to string, kind domain.MessageKind) []domain.Message {
	e.t.Helper()
	for {
		n, err := e.disp.DeliverDue(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	e.mail.mu.Lock()
	defer e.mail.mu.Unlock()
	var out []domain.Message
	for _, m := range e.mail.msgs {
		if m.To == to && m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// mfaPassword is every account's password.
const mfaPassword = "a long enough passphrase"

// user registers and verifies email through the use cases and logs in.
func (e *mfaEnv) user(email string) (id, token string) {
	e.t.Helper()
	ctx := context.Background()
	u, err := e.svc.Register(ctx, app.NewUserInput{Email: email, Password: mfaPassword})
	if err != nil {
		e.t.Fatal(err)
	}
	msgs := e.sent(email, domain.MessageVerifyEmail)
	rest, _ := strings.CutPrefix(msgs[len(msgs)-1].Link, "http://usersvc.test/verify-email/")
	uid, vtoken, _ := strings.Cut(rest, "/")
	if err := e.svc.VerifyEmail(ctx, uid, vtoken); err != nil {
		e.t.Fatal(err)
	}
	return u.ID(), e.login(email)
}

// login logs in with the password alone.
func (e *mfaEnv) login(email string) string {
	e.t.Helper()
	access, _ := e.session(email)
	return access
}

// session logs in with the password alone and returns both tokens.
func (e *mfaEnv) session(email string) (access, refresh string) {
	e.t.Helper()
	out := e.want(http.StatusOK, "", http.MethodPost, "/login/", "", url.Values{"username": {email}, "password": {mfaPassword}})
	return out["access_token"].(string), out["refresh_token"].(string)
}

// code moves the clock to the next step and returns key's code there.
func (e *mfaEnv) code(key []byte) string {
	e.clock.Advance(domain.TOTPPeriod)
	return domain.TOTPCode(key, e.clock.Now())
}

// enable turns the second factor on for a logged-in user and returns the
// secret and the recovery codes.
func (e *mfaEnv) enable(token string) (string, []byte, []string) {
	e.t.Helper()
	out := e.want(http.StatusOK, "", http.MethodPost, "/users/me/mfa/totp", token, map[string]string{"password": mfaPassword})
	secret := out["secret"].(string)
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		e.t.Fatal(err)
	}
	out = e.want(http.StatusOK, "", http.MethodPost, "/users/me/mfa/totp/confirm", token, map[string]string{"code": e.code(key)})
	var codes []string
	for _, c := range out["recovery_codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, key, codes
}

// challenge logs in with the password and returns the mfa_token.
func (e *mfaEnv) challenge(email string) string {
	e.t.Helper()
	out := e.want(http.StatusForbidden, "Second factor required", http.MethodPost, "/login/", "", url.Values{"username": {email}, "password": {mfaPassword}})
	if out["mfa_expires_in"] != 300.0 || out["access_token"] != nil {
		e.t.Fatalf("403 %v", out)
	}
	return out["mfa_token"].(string)
}

// amr reads the amr claim of an access token.
func amr(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		t.Fatal(err)
	}
	return strings.Join(c.AMR, " ")
}

func testMFAEnrolConfirmLogin(e *mfaEnv) {
	t := e.t
	id, token := e.user("enrol@example.com")
	other := e.login("enrol@example.com")

	e.want(http.StatusBadRequest, "Incorrect password", http.MethodPost, "/users/me/mfa/totp", token, map[string]string{"password": "not the passphrase"})
	e.want(http.StatusConflict, "", http.MethodPost, "/users/me/mfa/totp/confirm", token, map[string]string{"code": "123456"})
	first := e.want(http.StatusOK, "", http.MethodPost, "/users/me/mfa/totp", token, map[string]string{"password": mfaPassword})
	out := e.want(http.StatusOK, "", http.MethodPost, "/users/me/mfa/totp", token, map[string]string{"password": mfaPassword})
	secret := out["secret"].(string)
	if out["otpauth_uri"] != "otpauth://totp/usersvc:enrol@example.com?secret="+secret+"&issuer=usersvc&algorithm=SHA1&digits=6&period=30" {
		t.Errorf("otpauth_uri %v", out["otpauth_uri"])
	}
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	oldKey, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(first["secret"].(string))
	// The second enrolment replaced the first: its codes do not confirm.
	e.want(http.StatusBadRequest, "Invalid code", http.MethodPost, "/users/me/mfa/totp/confirm", token, map[string]string{"code": e.code(oldKey)})
	out = e.want(http.StatusOK, "", http.MethodPost, "/users/me/mfa/totp/confirm", token, map[string]string{"code": domain.TOTPCode(key, e.clock.Now())})
	recovery := out["recovery_codes"].([]any)
	if len(recovery) != 10 {
		t.Fatalf("%d recovery codes", len(recovery))
	}
	e.want(http.StatusConflict, "", http.MethodPost, "/users/me/mfa/totp", token, map[string]string{"password": mfaPassword})

	// Sealed at rest: the store holds neither the secret nor a recovery code.
	stored := e.stored(t, id)
	if !strings.HasPrefix(stored, "v1:") {
		t.Errorf("stored secret %q is not a sealed value", stored)
	}
	for _, s := range append([]any{secret, strings.ToLower(secret), string(key)}, recovery...) {
		if v := s.(string); strings.Contains(stored, v) || strings.Contains(stored, strings.ReplaceAll(v, "-", "")) {
			t.Errorf("the store holds %q in clear", v)
		}
	}

	// Confirming ended the other session, kept the caller's, and mailed the owner.
	e.want(http.StatusUnauthorized, "", http.MethodGet, "/users/me", other, nil)
	if me := e.want(http.StatusOK, "", http.MethodGet, "/users/me", token, nil); me["mfa_enabled"] != true {
		t.Errorf("mfa_enabled %v", me["mfa_enabled"])
	}
	if n := len(e.sent("enrol@example.com", domain.MessageMFAEnabled)); n != 1 {
		t.Errorf("%d 'enabled' emails", n)
	}

	// Two steps.
	mfaToken := e.challenge("enrol@example.com")
	e.want(http.StatusUnauthorized, "Invalid code", http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": mfaToken, "code": "000000"})
	e.want(http.StatusUnauthorized, "Invalid or expired MFA token", http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": "nope", "code": "000000"})
	code := e.code(key)
	out = e.want(http.StatusOK, "", http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": mfaToken, "code": code})
	if got := amr(t, out["access_token"].(string)); got != "pwd otp" {
		t.Errorf("amr %q", got)
	}
	refreshed := e.want(http.StatusOK, "", http.MethodPost, "/token/refresh", "", map[string]string{"refresh_token": out["refresh_token"].(string)})
	if got := amr(t, refreshed["access_token"].(string)); got != "pwd otp" {
		t.Errorf("amr after a refresh %q", got)
	}
	// Spent token; replayed code.
	e.want(http.StatusUnauthorized, "Invalid or expired MFA token", http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": mfaToken, "code": e.code(key)})
	e.want(http.StatusUnauthorized, "Invalid code", http.MethodPost, "/login/", "", url.Values{"username": {"enrol@example.com"}, "password": {mfaPassword}, "mfa_code": {code}})
	// Expired token.
	mfaToken = e.challenge("enrol@example.com")
	e.clock.Advance(domain.MFATokenTTL)
	e.want(http.StatusUnauthorized, "Invalid or expired MFA token", http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": mfaToken, "code": domain.TOTPCode(key, e.clock.Now())})
	// One step, with a recovery code, good once.
	out = e.want(http.StatusOK, "", http.MethodPost, "/login", "", map[string]string{"email": "enrol@example.com", "password": mfaPassword, "mfa_code": recovery[0].(string)})
	if got := amr(t, out["access_token"].(string)); got != "pwd otp" {
		t.Errorf("amr %q", got)
	}
	mfaToken = e.challenge("enrol@example.com")
	e.want(http.StatusUnauthorized, "Invalid code", http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": mfaToken, "code": recovery[0].(string)})
	e.want(http.StatusOK, "", http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": mfaToken, "code": recovery[1].(string)})
}

func testMFADisableRegenerateReset(e *mfaEnv) {
	t := e.t
	ctx := context.Background()
	if _, err := e.svc.CreateAdmin(ctx, "root@example.com", mfaPassword); err != nil {
		t.Fatal(err)
	}
	admin := e.login("root@example.com")
	id, token := e.user("regen@example.com")
	e.want(http.StatusConflict, "", http.MethodPost, "/users/me/mfa/recovery-codes", token, map[string]string{"code": "123456"})
	_, key, recovery := e.enable(token)

	e.want(http.StatusBadRequest, "Invalid code", http.MethodPost, "/users/me/mfa/recovery-codes", token, map[string]string{"code": "000000"})
	out := e.want(http.StatusOK, "", http.MethodPost, "/users/me/mfa/recovery-codes", token, map[string]string{"code": e.code(key)})
	fresh := out["recovery_codes"].([]any)
	// A full login resets the count of the wrong code above.
	e.want(http.StatusOK, "", http.MethodPost, "/login/", "", url.Values{"username": {"regen@example.com"}, "password": {mfaPassword}, "mfa_code": {e.code(key)}})
	e.want(http.StatusBadRequest, "Invalid code", http.MethodDelete, "/users/me/mfa/totp", token, map[string]string{"password": mfaPassword, "code": recovery[0]})
	e.want(http.StatusBadRequest, "Incorrect password", http.MethodDelete, "/users/me/mfa/totp", token, map[string]string{"password": "not the passphrase", "code": e.code(key)})
	e.want(http.StatusNoContent, "", http.MethodDelete, "/users/me/mfa/totp", token, map[string]string{"password": mfaPassword, "code": fresh[0].(string)})
	if n := len(e.sent("regen@example.com", domain.MessageMFADisabled)); n != 1 {
		t.Errorf("%d 'disabled' emails", n)
	}
	if got := amr(t, e.login("regen@example.com")); got != "pwd" {
		t.Errorf("amr %q after disabling", got)
	}

	// The ADMIN's reset.
	e.enable(token)
	mgrID, _ := e.user("manager@example.com")
	e.want(http.StatusOK, "", http.MethodPatch, "/users/"+mgrID+"/role", admin, map[string]string{"role": "MANAGER"})
	mgr := e.login("manager@example.com")
	e.want(http.StatusForbidden, "Operation not permitted", http.MethodPost, "/users/"+id+"/mfa/reset", mgr, nil)
	e.want(http.StatusNotFound, "User not found", http.MethodPost, "/users/"+system.IDs{}.NewID()+"/mfa/reset", admin, nil)
	out = e.want(http.StatusOK, "", http.MethodPost, "/users/"+id+"/mfa/reset", admin, nil)
	if out["mfa_enabled"] != false || out["id"] != id {
		t.Errorf("reset answered %v", out)
	}
	e.want(http.StatusUnauthorized, "", http.MethodGet, "/users/me", token, nil)
	if n := len(e.sent("regen@example.com", domain.MessageMFAReset)); n != 1 {
		t.Errorf("%d 'reset' emails", n)
	}
	e.login("regen@example.com")
}

func testMFAConcurrentWrongCodes(e *mfaEnv) {
	t := e.t
	_, token := e.user("guessed@example.com")
	e.enable(token)
	mfaToken := e.challenge("guessed@example.com")
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i], _ = e.do(http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": mfaToken, "code": "000000"})
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, s := range statuses {
		count[s]++
	}
	if count[http.StatusUnauthorized] != 3 || count[http.StatusBadRequest] != n-3 {
		t.Errorf("statuses %v: want exactly MAX_LOGIN_ATTEMPTS (3) wrong codes checked, then locked", count)
	}
	if n := len(e.sent("guessed@example.com", domain.MessageLocked)); n != 1 {
		t.Errorf("%d lock emails", n)
	}
	e.want(http.StatusBadRequest, "Account locked due to too many failed login attempts.", http.MethodPost, "/login/", "",
		url.Values{"username": {"guessed@example.com"}, "password": {mfaPassword}})
}

func testMFAPasswordReset(e *mfaEnv) {
	_, token := e.user("reset@example.com")
	_, key, _ := e.enable(token)
	e.want(http.StatusAccepted, "", http.MethodPost, "/password-reset/request", "", map[string]string{"email": "reset@example.com"})
	msgs := e.sent("reset@example.com", domain.MessagePasswordReset)
	_, resetToken, _ := strings.Cut(msgs[len(msgs)-1].Link, "token=")
	resetToken, _ = url.QueryUnescape(resetToken)
	e.want(http.StatusOK, "", http.MethodPost, "/password-reset/confirm", "", map[string]string{"token": resetToken, "new_password": mfaPassword + " anew"})
	out := e.want(http.StatusForbidden, "Second factor required", http.MethodPost, "/login/", "",
		url.Values{"username": {"reset@example.com"}, "password": {mfaPassword + " anew"}})
	e.want(http.StatusOK, "", http.MethodPost, "/login/mfa", "", map[string]string{"mfa_token": out["mfa_token"].(string), "code": e.code(key)})
}
