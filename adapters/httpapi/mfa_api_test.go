package httpapi_test

// The second factor over HTTP (PRODUCT.md 8.1): every row of its table,
// the 403 of /login/, mfa_code, amr, mfa_enabled, and no secret in a log.

import (
	"context"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// mfaAccount is a logged-in account with its second factor on.
type mfaAccount struct {
	account
	Key      []byte
	Secret   string
	Recovery []string
}

// totpCode moves the clock to the next step and returns key's code there:
// a step's code is good once.
func (h *harness) totpCode(key []byte) string {
	h.clock.Advance(domain.TOTPPeriod)
	return domain.TOTPCode(key, h.clock.Now())
}

// enrol starts an enrolment for a and returns the secret, decoded.
func (h *harness) enrol(a account) (string, []byte) {
	h.tb.Helper()
	rec := h.do(http.MethodPost, "/users/me/mfa/totp", a.Token, obj{"password": a.Password})
	wantStatus(h.tb, rec, http.StatusOK)
	var e struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
	}
	decodeBody(h.tb, rec, &e)
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e.Secret)
	if err != nil {
		h.tb.Fatalf("secret %q: %v", e.Secret, err)
	}
	return e.Secret, key
}

// mfaUser is a verified, logged-in user who turned the second factor on.
func (h *harness) mfaUser(prefix string) mfaAccount {
	h.tb.Helper()
	a := h.verified(prefix)
	a.Token = h.login(a.Email, a.Password)
	secret, key := h.enrol(a)
	rec := h.do(http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": h.totpCode(key)})
	wantStatus(h.tb, rec, http.StatusOK)
	var codes struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	decodeBody(h.tb, rec, &codes)
	return mfaAccount{account: a, Key: key, Secret: secret, Recovery: codes.RecoveryCodes}
}

// challenge posts the right password to /login/ and returns the 403's
// mfa_token, checking the answer to the letter.
func (h *harness) challenge(email, password string) string {
	h.tb.Helper()
	rec := h.do(http.MethodPost, "/login/", "", form{"username": {email}, "password": {password}})
	wantStatus(h.tb, rec, http.StatusForbidden)
	var body map[string]any
	decodeBody(h.tb, rec, &body)
	token, _ := body["mfa_token"].(string)
	if token == "" {
		h.tb.Fatalf("403 without an mfa_token: %s", rec.Body)
	}
	want := map[string]any{"detail": "Second factor required", "mfa_token": token, "mfa_expires_in": 300.0}
	if diff := cmp.Diff(want, body); diff != "" {
		h.tb.Errorf("403 body (-want +got):\n%s", diff)
	}
	return token
}

// amrOf reads the amr claim of an access token.
func amrOf(tb testing.TB, token string) []string {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("%q is not a JWT", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		tb.Fatal(err)
	}
	return claims.AMR
}

// mfaEnabled reads mfa_enabled from a user answer.
func mfaEnabled(tb testing.TB, rec *httptest.ResponseRecorder) bool {
	tb.Helper()
	var u map[string]any
	decodeBody(tb, rec, &u)
	on, ok := u["mfa_enabled"].(bool)
	if !ok {
		tb.Fatalf("no boolean mfa_enabled in %s", rec.Body)
	}
	return on
}

func wantNoStore(tb testing.TB, rec *httptest.ResponseRecorder) {
	tb.Helper()
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		tb.Errorf("Cache-Control %q on an answer with a secret, want no-store", got)
	}
}

var recoveryShape = regexp.MustCompile(`^[a-z2-7]{4}(-[a-z2-7]{4}){3}$`)

func TestMFAEnrolAndConfirm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("enrol")
	a.Token = h.login(a.Email, a.Password)
	other := h.login(a.Email, a.Password)
	if mfaEnabled(t, h.do(http.MethodGet, "/users/me", a.Token, nil)) {
		t.Fatal("mfa_enabled before any enrolment")
	}

	wantDetail(t, h.do(http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": "123456"}), http.StatusConflict, "No second factor pending confirmation")
	wantDetail(t, h.do(http.MethodPost, "/users/me/mfa/totp", a.Token, obj{"password": wrongPassword}), http.StatusBadRequest, "Incorrect password")
	wantValidation(t, h.do(http.MethodPost, "/users/me/mfa/totp", a.Token, obj{}), "body", "password")
	wantUnauthorized(t, h.do(http.MethodPost, "/users/me/mfa/totp", "", obj{"password": a.Password}))

	rec := h.do(http.MethodPost, "/users/me/mfa/totp/", a.Token, obj{"password": a.Password})
	wantStatus(t, rec, http.StatusOK)
	wantNoStore(t, rec)
	var e map[string]string
	decodeBody(t, rec, &e)
	if !regexp.MustCompile(`^[A-Z2-7]{32}$`).MatchString(e["secret"]) || len(e) != 2 {
		t.Fatalf("enrolment %v: want exactly secret (32 base32 characters) and otpauth_uri", e)
	}
	want := "otpauth://totp/usersvc:" + a.Email + "?secret=" + e["secret"] + "&issuer=usersvc&algorithm=SHA1&digits=6&period=30"
	if e["otpauth_uri"] != want {
		t.Errorf("otpauth_uri\n %s\nwant\n %s", e["otpauth_uri"], want)
	}
	key, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(e["secret"])

	wantDetail(t, h.do(http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": "000000"}), http.StatusBadRequest, "Invalid code")
	wantValidation(t, h.do(http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": 123456}), "body", "code")
	rec = h.do(http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": h.totpCode(key)})
	wantStatus(t, rec, http.StatusOK)
	wantNoStore(t, rec)
	var codes map[string][]string
	decodeBody(t, rec, &codes)
	if len(codes) != 1 || len(codes["recovery_codes"]) != 10 {
		t.Fatalf("confirmation %v: want exactly recovery_codes, 10 of them", codes)
	}
	for _, c := range codes["recovery_codes"] {
		if !recoveryShape.MatchString(c) {
			t.Errorf("recovery code %q", c)
		}
	}
	// The confirming session goes on, the other one ends.
	h.wantTokenAlive(a.Token)
	h.wantTokenDead(other)
	if !mfaEnabled(t, h.do(http.MethodGet, "/users/me", a.Token, nil)) || !mfaEnabled(t, h.do(http.MethodGet, "/users/"+a.ID, h.admin.Token, nil)) {
		t.Error("mfa_enabled is false once confirmed")
	}
	if n := len(h.mail.sent(a.Email, domain.MessageMFAEnabled)); n != 1 {
		t.Errorf("%d 'enabled' emails, want 1", n)
	}
	wantDetail(t, h.do(http.MethodPost, "/users/me/mfa/totp", a.Token, obj{"password": a.Password}), http.StatusConflict, "Second factor already enabled")
	wantDetail(t, h.do(http.MethodPost, "/users/me/mfa/totp/confirm", a.Token, obj{"code": h.totpCode(key)}), http.StatusConflict, "No second factor pending confirmation")
}

func TestMFALogin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.mfaUser("login")

	// The right password: 403 and no tokens, by form and by JSON.
	token := h.challenge(a.Email, a.Password)
	rec := h.do(http.MethodPost, "/login", "", obj{"email": a.Email, "password": a.Password})
	wantStatus(t, rec, http.StatusForbidden)
	if strings.Contains(rec.Body.String(), "access_token") {
		t.Fatalf("tokens for the password alone: %s", rec.Body)
	}
	wantNoStore(t, rec)
	var again struct {
		MFAToken string `json:"mfa_token"`
	}
	decodeBody(t, rec, &again)
	// A new first step replaced the token.
	wantDetail(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": h.totpCode(a.Key)}), http.StatusUnauthorized, "Invalid or expired MFA token")
	token = again.MFAToken

	// A wrong password is still the seed's 401.
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {wrongPassword}}), http.StatusUnauthorized, "Incorrect email or password.")
	rec = h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": "000000"})
	wantDetail(t, rec, http.StatusUnauthorized, "Invalid code")
	if rec.Header().Get("WWW-Authenticate") != "Bearer" {
		t.Error("a 401 without WWW-Authenticate")
	}
	wantDetail(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": "nope", "code": h.totpCode(a.Key)}), http.StatusUnauthorized, "Invalid or expired MFA token")
	wantValidation(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token}), "body", "code")
	wantValidation(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": "1", "extra": 1}), "body", "extra")

	tp := decodeTokens(t, h.do(http.MethodPost, "/login/mfa/", "", obj{"mfa_token": token, "code": h.totpCode(a.Key)}))
	if amr := amrOf(t, tp.AccessToken); !cmp.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr %v, want [pwd otp]", amr)
	}
	h.wantTokenAlive(tp.AccessToken)
	// Spent.
	wantDetail(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": h.totpCode(a.Key)}), http.StatusUnauthorized, "Invalid or expired MFA token")
	// A refresh keeps the amr.
	tp = decodeTokens(t, h.refresh(tp.RefreshToken))
	if amr := amrOf(t, tp.AccessToken); !cmp.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr after a refresh %v, want [pwd otp]", amr)
	}

	// One step: mfa_code with the password, a TOTP or a recovery code.
	tp = decodeTokens(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "mfa_code": {h.totpCode(a.Key)}}))
	if amr := amrOf(t, tp.AccessToken); !cmp.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr %v, want [pwd otp]", amr)
	}
	decodeTokens(t, h.do(http.MethodPost, "/login", "", obj{"username": a.Email, "password": a.Password, "mfa_code": a.Recovery[0]}))
	wantDetail(t, h.do(http.MethodPost, "/login", "", obj{"username": a.Email, "password": a.Password, "mfa_code": a.Recovery[0]}), http.StatusUnauthorized, "Invalid code")
	// A replayed code is refused.
	code := h.totpCode(a.Key)
	decodeTokens(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "mfa_code": {code}}))
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "mfa_code": {code}}), http.StatusUnauthorized, "Invalid code")

	// Expired after five minutes.
	token = h.challenge(a.Email, a.Password)
	h.clock.Advance(5 * time.Minute)
	wantDetail(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": domain.TOTPCode(a.Key, h.clock.Now())}), http.StatusUnauthorized, "Invalid or expired MFA token")

	// A password login without a second factor says pwd.
	plain := h.verified("plain")
	if amr := amrOf(t, h.login(plain.Email, plain.Password)); !cmp.Equal(amr, []string{"pwd"}) {
		t.Errorf("amr %v, want [pwd]", amr)
	}
}

// TestMFALoginLocks: wrong codes and wrong passwords share
// MAX_LOGIN_ATTEMPTS; the third failure is a 401 and locks, then 400.
func TestMFALoginLocks(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.mfaUser("locks")
	token := h.challenge(a.Email, a.Password)
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {wrongPassword}}), http.StatusUnauthorized, "Incorrect email or password.")
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "mfa_code": {"111111"}}), http.StatusUnauthorized, "Invalid code")
	wantDetail(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": "222222"}), http.StatusUnauthorized, "Invalid code")
	const locked = "Account locked due to too many failed login attempts."
	wantDetail(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": h.totpCode(a.Key)}), http.StatusBadRequest, locked)
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}), http.StatusBadRequest, locked)
	if n := len(h.mail.sent(a.Email, domain.MessageLocked)); n != 1 {
		t.Errorf("%d lock emails, want 1", n)
	}
	// The unlock link of the lock email lifts it; the token still works.
	wantStatus(t, h.do(http.MethodPost, "/unlock", "", obj{"token": h.unlockToken(a.Email)}), http.StatusOK)
	decodeTokens(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": h.totpCode(a.Key)}))
}

func TestMFADisableAndRegenerate(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	plain := h.user(domain.RoleAuthenticated)
	wantDetail(t, h.do(http.MethodPost, "/users/me/mfa/recovery-codes", plain.Token, obj{"code": "123456"}), http.StatusConflict, "Second factor not enabled")
	wantDetail(t, h.do(http.MethodDelete, "/users/me/mfa/totp", plain.Token, obj{"password": plain.Password, "code": "123456"}), http.StatusConflict, "Second factor not enabled")

	a := h.mfaUser("disable")
	wantDetail(t, h.do(http.MethodPost, "/users/me/mfa/recovery-codes", a.Token, obj{"code": "000000"}), http.StatusBadRequest, "Invalid code")
	wantValidation(t, h.do(http.MethodPost, "/users/me/mfa/recovery-codes", a.Token, obj{}), "body", "code")
	rec := h.do(http.MethodPost, "/users/me/mfa/recovery-codes/", a.Token, obj{"code": h.totpCode(a.Key)})
	wantStatus(t, rec, http.StatusOK)
	wantNoStore(t, rec)
	var fresh struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	decodeBody(t, rec, &fresh)
	if len(fresh.RecoveryCodes) != 10 || fresh.RecoveryCodes[0] == a.Recovery[0] {
		t.Fatalf("new codes %v", fresh.RecoveryCodes)
	}

	wantDetail(t, h.do(http.MethodDelete, "/users/me/mfa/totp", a.Token, obj{"password": wrongPassword, "code": h.totpCode(a.Key)}), http.StatusBadRequest, "Incorrect password")
	// An old recovery code stopped working (two failures so far; this is the
	// third, and the lock would follow: log in fully in between to reset).
	decodeTokens(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "mfa_code": {h.totpCode(a.Key)}}))
	wantDetail(t, h.do(http.MethodDelete, "/users/me/mfa/totp", a.Token, obj{"password": a.Password, "code": a.Recovery[1]}), http.StatusBadRequest, "Invalid code")
	wantValidation(t, h.do(http.MethodDelete, "/users/me/mfa/totp", a.Token, obj{"password": a.Password}), "body", "code")
	wantStatus(t, h.do(http.MethodDelete, "/users/me/mfa/totp/", a.Token, obj{"password": a.Password, "code": fresh.RecoveryCodes[3]}), http.StatusNoContent)
	if mfaEnabled(t, h.do(http.MethodGet, "/users/me", a.Token, nil)) {
		t.Error("mfa_enabled after disabling")
	}
	if n := len(h.mail.sent(a.Email, domain.MessageMFADisabled)); n != 1 {
		t.Errorf("%d 'disabled' emails, want 1", n)
	}
	h.login(a.Email, a.Password) // the password alone again
}

func TestMFAResetByAdmin(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.mfaUser("reset")
	mgr := h.user(domain.RoleManager)
	wantForbidden(t, h.do(http.MethodPost, "/users/"+a.ID+"/mfa/reset", mgr.Token, nil))
	wantForbidden(t, h.do(http.MethodPost, "/users/"+a.ID+"/mfa/reset", a.Token, nil))
	wantDetail(t, h.do(http.MethodPost, "/users/"+unknownID+"/mfa/reset", h.admin.Token, nil), http.StatusNotFound, "User not found")
	wantDetail(t, h.do(http.MethodPost, "/users/not-a-uuid/mfa/reset", h.admin.Token, nil), http.StatusNotFound, "User not found")

	rec := h.do(http.MethodPost, "/users/"+a.ID+"/mfa/reset/", h.admin.Token, nil)
	wantStatus(t, rec, http.StatusOK)
	checkUserKeys(t, rec.Body.Bytes())
	if mfaEnabled(t, rec) {
		t.Error("mfa_enabled after a reset")
	}
	h.wantTokenDead(a.Token)
	if n := len(h.mail.sent(a.Email, domain.MessageMFAReset)); n != 1 {
		t.Errorf("%d 'reset' emails, want 1", n)
	}
	h.login(a.Email, a.Password)
}

// TestPasswordResetLeavesMFAOnOverHTTP: a reset proves only the mailbox.
func TestPasswordResetLeavesMFAOnOverHTTP(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.mfaUser("pwreset")
	token := h.requestReset(a.Email)
	wantStatus(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": token, "new_password": newPassword}), http.StatusOK)
	mfaToken := h.challenge(a.Email, newPassword)
	decodeTokens(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": mfaToken, "code": h.totpCode(a.Key)}))
	if !mfaEnabled(t, h.do(http.MethodGet, "/users/"+a.ID, h.admin.Token, nil)) {
		t.Error("a password reset turned the second factor off")
	}
}

func TestLoginMFARateLimited(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{RateLimits: true})
	for i := range 60 {
		rec := h.doFrom("192.0.2.77:1234", nil, http.MethodPost, "/login/mfa", "", obj{"mfa_token": "x", "code": "123456"})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("request %d: %d", i, rec.Code)
		}
	}
	rec := h.doFrom("192.0.2.77:1234", nil, http.MethodPost, "/login/mfa", "", obj{"mfa_token": "x", "code": "123456"})
	wantStatus(t, rec, http.StatusTooManyRequests)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	wantStatus(t, h.doFrom("192.0.2.78:1234", nil, http.MethodPost, "/login/mfa", "", obj{"mfa_token": "x", "code": "123456"}), http.StatusUnauthorized)
}

// TestNoSecondFactorSecretInLogs runs every flow with debug logging and
// looks for the secret, codes and tokens in the log.
func TestNoSecondFactorSecretInLogs(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.mfaUser("logs")
	secrets := append([]string{a.Secret}, a.Recovery...)
	token := h.challenge(a.Email, a.Password)
	code := h.totpCode(a.Key)
	h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": "000000"})
	decodeTokens(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": code}))
	h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}, "mfa_code": {a.Recovery[2]}})
	secrets = append(secrets, token, code, strings.ReplaceAll(a.Recovery[0], "-", ""))
	for _, s := range secrets {
		if strings.Contains(h.logs.String(), s) {
			t.Errorf("the log holds %q", s)
		}
	}
	// Nor does the audit log.
	page := h.audit(nil)
	raw, _ := json.Marshal(page)
	for _, s := range secrets {
		if strings.Contains(string(raw), s) {
			t.Errorf("the audit log holds %q", s)
		}
	}
}

// TestSecondFactorHandlersPassInputs checks what the handlers hand their
// use cases, and the 403 made of app.SecondFactorRequiredError.
func TestSecondFactorHandlersPassInputs(t *testing.T) {
	t.Parallel()
	login := &httpapi.LoginerMock{
		LoginFunc: func(context.Context, string, string) (app.LoginResult, error) {
			return app.LoginResult{}, fmt.Errorf("login: %w", &app.SecondFactorRequiredError{Token: "the-token", ExpiresIn: 5 * time.Minute})
		},
		LoginWithCodeFunc: func(context.Context, string, string, string) (app.LoginResult, error) {
			return app.LoginResult{AccessToken: "tok", ExpiresIn: time.Minute, RefreshToken: "ref"}, nil
		},
	}
	secondStep := &httpapi.SecondFactorLoginerMock{LoginSecondFactorFunc: func(context.Context, string, string) (app.LoginResult, error) {
		return app.LoginResult{AccessToken: "tok", ExpiresIn: time.Minute, RefreshToken: "ref"}, nil
	}}
	manage := &httpapi.SecondFactorManagerMock{DisableTOTPFunc: func(context.Context, domain.Actor, string, string) error { return nil }}
	srv, _ := newMockServer(parts{Authenticator: asAdmin(), Loginer: login, SecondFactorLoginer: secondStep, SecondFactorManager: manage})

	for _, body := range []any{
		form{"username": {"a@example.com"}, "password": {"pw"}},
		form{"username": {"a@example.com"}, "password": {"pw"}, "mfa_code": {""}},
		obj{"email": "a@example.com", "password": "pw", "mfa_code": nil},
	} {
		rec := serve(srv, newRequest(t, http.MethodPost, "/login/", "", body))
		wantStatus(t, rec, http.StatusForbidden)
		var got map[string]any
		decodeBody(t, rec, &got)
		want := map[string]any{"detail": "Second factor required", "mfa_token": "the-token", "mfa_expires_in": 300.0}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%v: 403 body (-want +got):\n%s", body, diff)
		}
	}
	wantStatus(t, serve(srv, newRequest(t, http.MethodPost, "/login/", "", form{"username": {"a@example.com"}, "password": {"pw"}, "mfa_code": {"123 456"}})), http.StatusOK)
	if c := login.LoginWithCodeCalls(); len(c) != 1 || c[0].Email != "a@example.com" || c[0].Password != "pw" || c[0].Code != "123 456" {
		t.Errorf("LoginWithCode calls %+v", c)
	}
	wantStatus(t, serve(srv, newRequest(t, http.MethodPost, "/login/mfa", "", obj{"mfa_token": "mt", "code": "654321"})), http.StatusOK)
	if c := secondStep.LoginSecondFactorCalls(); len(c) != 1 || c[0].MfaToken != "mt" || c[0].Code != "654321" {
		t.Errorf("LoginSecondFactor calls %+v", c)
	}
	wantStatus(t, serve(srv, newRequest(t, http.MethodDelete, "/users/me/mfa/totp", mockToken, obj{"password": "pw", "code": "c"})), http.StatusNoContent)
	if c := manage.DisableTOTPCalls(); len(c) != 1 || c[0].Actor != mockActor || c[0].Password != "pw" || c[0].Code != "c" {
		t.Errorf("DisableTOTP calls %+v", c)
	}
}

// TestMFALoginMetrics: the first step counts as second_factor, the second
// as any login answer.
func TestMFALoginMetrics(t *testing.T) {
	t.Parallel()
	h := newHarnessWith(t, httpapi.Options{Metrics: prometheus.NewRegistry()})
	a := h.mfaUser("metrics")
	token := h.challenge(a.Email, a.Password)
	wantStatus(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": "000000"}), http.StatusUnauthorized)
	decodeTokens(t, h.do(http.MethodPost, "/login/mfa", "", obj{"mfa_token": token, "code": h.totpCode(a.Key)}))
	body := scrape(t, h.srv)
	wantSample(t, body, 1, "usersvc_logins_total", "outcome=second_factor")
	wantSample(t, body, 1, "usersvc_logins_total", "outcome=failure")
	wantSample(t, body, 1, "usersvc_http_requests_total", "method=POST", "route=/login/mfa", "status=200")
	wantSample(t, body, 0, "usersvc_rate_limited_total", "bucket=login_mfa")
}
