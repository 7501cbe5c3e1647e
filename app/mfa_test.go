package app_test

import (
	"context"
	"encoding/base32"
	"errors"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// mfaAccount is a verified user with the second factor on, as its owner
// sees it: the secret, the recovery codes and the session it enrolled from.
type mfaAccount struct {
	id       string
	email    string
	key      []byte
	recovery []string
	actor    domain.Actor // the enrolling session
}

// decodeSecret reads a base32 secret as an authenticator app does.
func decodeSecret(tb testing.TB, secret string) []byte {
	tb.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		tb.Fatalf("secret %q is not base32: %v", secret, err)
	}
	return key
}

// code moves the clock to the next time step and returns the code of key
// there: a step's code is good once, so each use takes a new step.
func (e *env) code(key []byte) string {
	e.clock.Advance(domain.TOTPPeriod)
	return domain.TOTPCode(key, e.clock.Now())
}

// mfaUser signs email up, logs in and turns the second factor on.
func (e *env) mfaUser(tb testing.TB, email string) mfaAccount {
	tb.Helper()
	u, token := loggedIn(tb, e, email)
	actor := e.actorOf(tb, token)
	enr, err := e.svc.EnrolTOTP(context.Background(), actor, goodPass)
	if err != nil {
		tb.Fatalf("EnrolTOTP: %v", err)
	}
	key := decodeSecret(tb, enr.Secret)
	codes, err := e.svc.ConfirmTOTP(context.Background(), actor, e.code(key))
	if err != nil {
		tb.Fatalf("ConfirmTOTP: %v", err)
	}
	return mfaAccount{id: u.ID(), email: u.Email(), key: key, recovery: codes, actor: actor}
}

// challenge logs in with the password and returns the mfa_token.
func (e *env) challenge(tb testing.TB, email string) string {
	tb.Helper()
	_, err := e.login(email, goodPass)
	var req *app.SecondFactorRequiredError
	if !errors.As(err, &req) || !errors.Is(err, domain.ErrSecondFactorRequired) {
		tb.Fatalf("login with the second factor on: %v, want *SecondFactorRequiredError", err)
	}
	if req.Token == "" || req.ExpiresIn != 5*time.Minute {
		tb.Fatalf("challenge %+v: want a token living 5 minutes", req)
	}
	if strings.Contains(err.Error(), req.Token) {
		tb.Error("the error's message holds the mfa_token")
	}
	return req.Token
}

// lastAMR is the amr of the last access token issued.
func (e *env) lastAMR(tb testing.TB) []string {
	tb.Helper()
	calls := e.issuer.IssueCalls()
	if len(calls) == 0 {
		tb.Fatal("no token issued")
	}
	return calls[len(calls)-1].C.AuthMethods
}

// eventTypes lists the types of the audit events about a user, oldest first.
func (e *env) eventTypes(tb testing.TB, userID string) []domain.AuditEventType {
	tb.Helper()
	evs, err := e.mem.ListEvents(context.Background(), ports.AuditFilter{TargetID: userID, Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]domain.AuditEventType, len(evs))
	for i, ev := range evs {
		out[len(evs)-1-i] = ev.Type
	}
	return out
}

func countOf[T comparable](s []T, v T) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

var recoveryCodeShape = regexp.MustCompile(`^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$`)

func TestEnrolTOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, token := loggedIn(t, e, "alice@example.com")
	actor := e.actorOf(t, token)
	ctx := context.Background()

	_, err := e.svc.EnrolTOTP(ctx, actor, wrongPass)
	wantErr(t, err, domain.ErrWrongPassword)
	if st := e.user(t, u.ID()).State(); st.FailedLoginAttempts != 1 || st.TOTPPendingSecret != "" {
		t.Fatalf("after a wrong password: count %d, pending %q; want 1, none", st.FailedLoginAttempts, st.TOTPPendingSecret)
	}

	first, err := e.svc.EnrolTOTP(ctx, actor, goodPass)
	if err != nil {
		t.Fatalf("EnrolTOTP: %v", err)
	}
	key := decodeSecret(t, first.Secret)
	if len(first.Secret) != 32 || len(key) != 20 {
		t.Errorf("secret %q: %d characters, %d bytes; want 32 and 160 bits", first.Secret, len(first.Secret), len(key))
	}
	want := "otpauth://totp/usersvc:alice@example.com?secret=" + first.Secret + "&issuer=usersvc&algorithm=SHA1&digits=6&period=30"
	if first.URI != want {
		t.Errorf("URI\n %s\nwant\n %s", first.URI, want)
	}
	st := e.user(t, u.ID()).State()
	if st.TOTPPendingSecret == "" || strings.Contains(st.TOTPPendingSecret, first.Secret) || strings.Contains(st.TOTPPendingSecret, string(key)) {
		t.Errorf("pending secret stored as %q: want it sealed", st.TOTPPendingSecret)
	}
	if e.user(t, u.ID()).MFAEnabled() {
		t.Error("the second factor is on before it is confirmed")
	}

	// A new enrolment replaces the pending secret: the first one's codes no
	// longer confirm.
	second, err := e.svc.EnrolTOTP(ctx, actor, goodPass)
	if err != nil {
		t.Fatal(err)
	}
	if second.Secret == first.Secret {
		t.Fatal("a new enrolment gave the same secret")
	}
	_, err = e.svc.ConfirmTOTP(ctx, actor, e.code(key))
	wantErr(t, err, domain.ErrInvalidCode)
	if _, err := e.svc.ConfirmTOTP(ctx, actor, domain.TOTPCode(decodeSecret(t, second.Secret), e.clock.Now())); err != nil {
		t.Fatalf("ConfirmTOTP with the second secret: %v", err)
	}
	_, err = e.svc.EnrolTOTP(ctx, actor, goodPass)
	wantErr(t, err, domain.ErrMFAEnabled)
}

func TestConfirmTOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u, token := loggedIn(t, e, "alice@example.com")
	other, err := e.login("alice@example.com", goodPass)
	if err != nil {
		t.Fatal(err)
	}
	actor, otherActor := e.actorOf(t, token), e.actorOf(t, other.AccessToken)

	_, err = e.svc.ConfirmTOTP(ctx, actor, "123456")
	wantErr(t, err, domain.ErrNoPendingMFA)
	enr, err := e.svc.EnrolTOTP(ctx, actor, goodPass)
	if err != nil {
		t.Fatal(err)
	}
	key := decodeSecret(t, enr.Secret)
	for _, bad := range []string{"000000", "", "12345", "abcd-efgh-ijkl-mnop", domain.TOTPCode(key, e.clock.Now().Add(-2*domain.TOTPPeriod))} {
		_, err = e.svc.ConfirmTOTP(ctx, actor, bad)
		wantErr(t, err, domain.ErrInvalidCode)
	}
	if st := e.user(t, u.ID()).State(); st.FailedLoginAttempts != 0 || st.IsLocked || e.user(t, u.ID()).MFAEnabled() {
		t.Fatalf("after wrong confirmation codes: count %d, locked %v; a pending secret guards nothing, so nothing counts", st.FailedLoginAttempts, st.IsLocked)
	}

	codes, err := e.svc.ConfirmTOTP(ctx, actor, e.code(key))
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(codes))
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !recoveryCodeShape.MatchString(c) || seen[c] {
			t.Errorf("recovery code %q: want 10 distinct xxxx-xxxx-xxxx-xxxx", c)
		}
		seen[c] = true
	}
	st := e.user(t, u.ID()).State()
	if !e.user(t, u.ID()).MFAEnabled() || st.TOTPPendingSecret != "" || st.RecoveryCodeHashes.Remaining() != 10 {
		t.Fatalf("after confirming: %+v", st)
	}
	for i, h := range st.RecoveryCodeHashes {
		if strings.Contains(h, strings.ReplaceAll(codes[i], "-", "")) {
			t.Errorf("recovery code %d stored as is", i)
		}
	}
	// The caller's session goes on; the other one, which proved only a password, ends.
	if !e.sessionAlive(t, actor.SessionID) || e.sessionAlive(t, otherActor.SessionID) {
		t.Error("want the confirming session alive and the other ended")
	}
	if n := len(e.sentTo("alice@example.com", domain.MessageMFAEnabled)); n != 1 {
		t.Errorf("%d 'enabled' emails, want 1", n)
	}
	evs := e.eventTypes(t, u.ID())
	if countOf(evs, domain.EventMFAEnabled) != 1 || countOf(evs, domain.EventMFACodeFailed) != 5 {
		t.Errorf("audit events %v: want one mfa_enabled and five mfa_code_failed", evs)
	}
	_, err = e.svc.ConfirmTOTP(ctx, actor, e.code(key))
	wantErr(t, err, domain.ErrNoPendingMFA)
}

func TestLoginInTwoSteps(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.mfaUser(t, "alice@example.com")

	issued := len(e.issuer.IssueCalls())
	token := e.challenge(t, a.email)
	if n := len(e.issuer.IssueCalls()); n != issued {
		t.Fatal("a token was issued for the password alone")
	}
	sessions, err := e.mem.ListSessions(ctx, a.id, e.clock.Now())
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions after the first step: %d, %v; want only the enrolling one", len(sessions), err)
	}
	if st := e.user(t, a.id).State(); st.MFATokenHash != sha256Hex(token) || !st.MFATokenExpiresAt.Equal(e.clock.Now().Add(5*time.Minute)) || !st.LastLoginAt.Before(e.clock.Now()) {
		t.Errorf("after the first step: %+v; want the token's hash, expiring in 5 minutes, and no login stamped", st)
	}

	for _, bad := range []string{"", "not-the-token", token + "x", strings.Repeat("t", 513)} {
		_, err := e.svc.LoginSecondFactor(ctx, bad, e.code(a.key))
		wantErr(t, err, domain.ErrInvalidMFAToken)
	}
	_, err = e.svc.LoginSecondFactor(ctx, token, "000000")
	wantErr(t, err, domain.ErrSecondFactorFailed)
	code := e.code(a.key)
	res, err := e.svc.LoginSecondFactor(ctx, token, code)
	if err != nil {
		t.Fatalf("LoginSecondFactor: %v", err)
	}
	if res.AccessToken == "" || res.RefreshToken == "" {
		t.Fatalf("result %+v: want tokens", res)
	}
	if amr := e.lastAMR(t); !cmp.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr %v, want [pwd otp]", amr)
	}
	st := e.user(t, a.id).State()
	if st.FailedLoginAttempts != 0 || !st.LastLoginAt.Equal(e.clock.Now()) || st.MFATokenHash != "" {
		t.Errorf("after the second step: %+v; want the count reset, the login stamped, the token spent", st)
	}
	// Spent: the token does not log in twice.
	_, err = e.svc.LoginSecondFactor(ctx, token, e.code(a.key))
	wantErr(t, err, domain.ErrInvalidMFAToken)

	// A refresh keeps the session's amr.
	if _, err := e.svc.Refresh(ctx, res.RefreshToken); err != nil {
		t.Fatal(err)
	}
	if amr := e.lastAMR(t); !cmp.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr after a refresh %v, want [pwd otp]", amr)
	}

	// A replayed code is refused, even with a new token, within its step.
	token = e.challenge(t, a.email)
	code = e.code(a.key)
	if _, err := e.svc.LoginSecondFactor(ctx, token, code); err != nil {
		t.Fatal(err)
	}
	token = e.challenge(t, a.email)
	_, err = e.svc.LoginSecondFactor(ctx, token, code)
	wantErr(t, err, domain.ErrSecondFactorFailed)

	// Five minutes later the token is dead.
	token = e.challenge(t, a.email)
	e.clock.Advance(5 * time.Minute)
	_, err = e.svc.LoginSecondFactor(ctx, token, domain.TOTPCode(a.key, e.clock.Now()))
	wantErr(t, err, domain.ErrInvalidMFAToken)
	// A new first step replaces the token.
	older := e.challenge(t, a.email)
	newer := e.challenge(t, a.email)
	_, err = e.svc.LoginSecondFactor(ctx, older, e.code(a.key))
	wantErr(t, err, domain.ErrInvalidMFAToken)
	if _, err := e.svc.LoginSecondFactor(ctx, newer, e.code(a.key)); err != nil {
		t.Fatalf("the newer token: %v", err)
	}
}

func TestLoginInOneStep(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.mfaUser(t, "alice@example.com")

	_, err := e.svc.LoginWithCode(ctx, a.email, wrongPass, e.code(a.key))
	wantErr(t, err, domain.ErrInvalidCredentials)
	_, err = e.svc.LoginWithCode(ctx, a.email, goodPass, "000000")
	wantErr(t, err, domain.ErrSecondFactorFailed)
	if st := e.user(t, a.id).State(); st.FailedLoginAttempts != 2 {
		t.Fatalf("count %d after a wrong password and a wrong code, want 2", st.FailedLoginAttempts)
	}
	res, err := e.svc.LoginWithCode(ctx, a.email, goodPass, e.code(a.key))
	if err != nil || res.AccessToken == "" {
		t.Fatalf("LoginWithCode: %+v, %v", res, err)
	}
	if amr := e.lastAMR(t); !cmp.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr %v, want [pwd otp]", amr)
	}
	if st := e.user(t, a.id).State(); st.FailedLoginAttempts != 0 {
		t.Errorf("count %d after a full login, want 0", st.FailedLoginAttempts)
	}

	// Without a second factor a code is ignored, and the amr is a password's.
	e.verified(t, "bob@example.com")
	if _, err := e.svc.LoginWithCode(ctx, "bob@example.com", goodPass, "123456"); err != nil {
		t.Fatalf("a code for an account without a second factor: %v", err)
	}
	if amr := e.lastAMR(t); !cmp.Equal(amr, []string{"pwd"}) {
		t.Errorf("amr %v, want [pwd]", amr)
	}
}

func TestRecoveryCodesAreSingleUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.mfaUser(t, "alice@example.com")

	token := e.challenge(t, a.email)
	// Typed in capitals and without dashes, it is the same code.
	typed := strings.ToUpper(strings.ReplaceAll(a.recovery[4], "-", ""))
	if _, err := e.svc.LoginSecondFactor(ctx, token, typed); err != nil {
		t.Fatalf("a recovery code: %v", err)
	}
	if amr := e.lastAMR(t); !cmp.Equal(amr, []string{"pwd", "otp"}) {
		t.Errorf("amr %v, want [pwd otp]", amr)
	}
	token = e.challenge(t, a.email)
	_, err := e.svc.LoginSecondFactor(ctx, token, a.recovery[4])
	wantErr(t, err, domain.ErrSecondFactorFailed)
	if _, err := e.svc.LoginWithCode(ctx, a.email, goodPass, a.recovery[5]); err != nil {
		t.Fatalf("a recovery code in one step: %v", err)
	}
	if left := e.user(t, a.id).RecoveryCodesLeft(); left != 8 {
		t.Errorf("%d codes left, want 8", left)
	}
	if n := countOf(e.eventTypes(t, a.id), domain.EventRecoveryCodeUsed); n != 2 {
		t.Errorf("%d recovery_code_used events, want 2", n)
	}
}

// TestWrongCodesCountWithWrongPasswords: a wrong password, a wrong code in
// one step and one in two steps make three failures, and lock; a right
// password alone resets nothing in between.
func TestWrongCodesCountWithWrongPasswords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.mfaUser(t, "alice@example.com")

	_, err := e.login(a.email, wrongPass)
	wantErr(t, err, domain.ErrInvalidCredentials)
	token := e.challenge(t, a.email) // a right password: half a login, resets nothing
	_, err = e.svc.LoginWithCode(ctx, a.email, goodPass, "111111")
	wantErr(t, err, domain.ErrSecondFactorFailed)
	if st := e.user(t, a.id).State(); st.FailedLoginAttempts != 2 || st.IsLocked {
		t.Fatalf("count %d, locked %v; want 2, not locked", st.FailedLoginAttempts, st.IsLocked)
	}
	// The third failure is still answered as a wrong code, and locks.
	_, err = e.svc.LoginSecondFactor(ctx, token, "222222")
	wantErr(t, err, domain.ErrSecondFactorFailed)
	if !e.user(t, a.id).IsLocked() {
		t.Fatal("three failures did not lock")
	}
	if n := len(e.sentTo(a.email, domain.MessageLocked)); n != 1 {
		t.Errorf("%d lock emails, want 1", n)
	}
	// Locked: the right code is refused as the right password is.
	_, err = e.svc.LoginSecondFactor(ctx, token, e.code(a.key))
	wantErr(t, err, domain.ErrAccountLocked)
	_, err = e.login(a.email, goodPass)
	wantErr(t, err, domain.ErrAccountLocked)
	// Sessions already open go on (a lock by failures stops new logins only).
	if !e.sessionAlive(t, a.actor.SessionID) {
		t.Error("a lock by wrong codes ended a session")
	}
	if n := countOf(e.eventTypes(t, a.id), domain.EventMFACodeFailed); n != 2 {
		t.Errorf("%d mfa_code_failed events, want 2", n)
	}
}

// TestConcurrentWrongCodesLockExactly: 20 wrong codes at once are checked
// MaxAttempts times, then the account is locked; with wrong passwords
// mixed in, the MaxAttempts checks are shared.
func TestConcurrentWrongCodesLockExactly(t *testing.T) {
	t.Parallel()
	run := func(t *testing.T, passwords int) {
		e := newEnv(t)
		ctx := context.Background()
		a := e.mfaUser(t, "alice@example.com")
		token := e.challenge(t, a.email)
		const n = 20
		errs := make([]error, n)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				<-start
				if i < passwords {
					_, errs[i] = e.login(a.email, wrongPass)
				} else {
					_, errs[i] = e.svc.LoginSecondFactor(ctx, token, "000000")
				}
			})
		}
		close(start)
		wg.Wait()
		var failed, locked int
		for _, err := range errs {
			switch {
			case errors.Is(err, domain.ErrSecondFactorFailed), errors.Is(err, domain.ErrInvalidCredentials):
				failed++
			case errors.Is(err, domain.ErrAccountLocked):
				locked++
			default:
				t.Errorf("unexpected result: %v", err)
			}
		}
		if failed != maxAttempts || locked != n-maxAttempts {
			t.Errorf("%d failures and %d locked, want %d and %d", failed, locked, maxAttempts, n-maxAttempts)
		}
		st := e.user(t, a.id).State()
		if !st.IsLocked || st.FailedLoginAttempts != maxAttempts || st.LoginsInFlight != 0 {
			t.Errorf("locked %v, count %d, in flight %d", st.IsLocked, st.FailedLoginAttempts, st.LoginsInFlight)
		}
		if n := len(e.sentTo(a.email, domain.MessageLocked)); n != 1 {
			t.Errorf("%d lock emails, want 1", n)
		}
	}
	t.Run("codes", func(t *testing.T) { t.Parallel(); run(t, 0) })
	t.Run("codes and passwords", func(t *testing.T) { t.Parallel(); run(t, 10) })
}

func TestDisableTOTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.mfaUser(t, "alice@example.com")

	err := e.svc.DisableTOTP(ctx, a.actor, wrongPass, e.code(a.key))
	wantErr(t, err, domain.ErrWrongPassword)
	err = e.svc.DisableTOTP(ctx, a.actor, goodPass, "000000")
	wantErr(t, err, domain.ErrInvalidCode)
	if st := e.user(t, a.id).State(); st.FailedLoginAttempts != 2 || !e.user(t, a.id).MFAEnabled() {
		t.Fatalf("count %d: want a wrong password and a wrong code counted, the factor on", st.FailedLoginAttempts)
	}
	// A recovery code does it too.
	if err := e.svc.DisableTOTP(ctx, a.actor, goodPass, a.recovery[0]); err != nil {
		t.Fatalf("DisableTOTP: %v", err)
	}
	u := e.user(t, a.id)
	if st := u.State(); u.MFAEnabled() || st.RecoveryCodeHashes.Remaining() != 0 || st.TOTPLastStep != 0 {
		t.Fatalf("after disabling: %+v", st)
	}
	if !e.sessionAlive(t, a.actor.SessionID) {
		t.Error("disabling ended the caller's session")
	}
	if n := len(e.sentTo(a.email, domain.MessageMFADisabled)); n != 1 {
		t.Errorf("%d 'disabled' emails, want 1", n)
	}
	evs := e.eventTypes(t, a.id)
	if countOf(evs, domain.EventMFADisabled) != 1 || countOf(evs, domain.EventRecoveryCodeUsed) != 1 {
		t.Errorf("audit events %v", evs)
	}
	// The password alone logs in again, with a password's amr.
	if _, err := e.login(a.email, goodPass); err != nil {
		t.Fatalf("login after disabling: %v", err)
	}
	if amr := e.lastAMR(t); !cmp.Equal(amr, []string{"pwd"}) {
		t.Errorf("amr %v, want [pwd]", amr)
	}
	err = e.svc.DisableTOTP(ctx, a.actor, goodPass, e.code(a.key))
	wantErr(t, err, domain.ErrMFANotEnabled)
}

func TestRegenerateRecoveryCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	u, token := loggedIn(t, e, "bob@example.com")
	_, err := e.svc.RegenerateRecoveryCodes(ctx, e.actorOf(t, token), "123456")
	wantErr(t, err, domain.ErrMFANotEnabled)
	if e.user(t, u.ID()).State().FailedLoginAttempts != 0 {
		t.Error("a code for no second factor was counted")
	}

	a := e.mfaUser(t, "alice@example.com")
	for _, bad := range []string{"000000", a.recovery[0]} { // a recovery code does not renew itself
		_, err := e.svc.RegenerateRecoveryCodes(ctx, a.actor, bad)
		wantErr(t, err, domain.ErrInvalidCode)
	}
	if st := e.user(t, a.id).State(); st.FailedLoginAttempts != 2 {
		t.Fatalf("count %d after two wrong codes, want 2", st.FailedLoginAttempts)
	}
	codes, err := e.svc.RegenerateRecoveryCodes(ctx, a.actor, e.code(a.key))
	if err != nil {
		t.Fatalf("RegenerateRecoveryCodes: %v", err)
	}
	if len(codes) != 10 || slices.ContainsFunc(codes, func(c string) bool { return slices.Contains(a.recovery, c) }) {
		t.Fatalf("new codes %v: want 10, none of the old ones", codes)
	}
	// A full login resets the count of failures (new codes alone do not).
	if st := e.user(t, a.id).State(); st.FailedLoginAttempts != 2 {
		t.Fatalf("count %d after new codes, want still 2", st.FailedLoginAttempts)
	}
	if _, err := e.svc.LoginWithCode(ctx, a.email, goodPass, e.code(a.key)); err != nil {
		t.Fatal(err)
	}
	token2 := e.challenge(t, a.email)
	_, err = e.svc.LoginSecondFactor(ctx, token2, a.recovery[1])
	wantErr(t, err, domain.ErrSecondFactorFailed)
	if _, err := e.svc.LoginSecondFactor(ctx, token2, codes[9]); err != nil {
		t.Fatalf("a new recovery code: %v", err)
	}
	if n := countOf(e.eventTypes(t, a.id), domain.EventRecoveryCodesRegenerated); n != 1 {
		t.Errorf("%d recovery_codes_regenerated events, want 1", n)
	}
}

func TestResetSecondFactor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	admin := e.admin(t, "root@example.com")
	manager := e.withRole(t, "manager@example.com", domain.RoleManager)
	a := e.mfaUser(t, "alice@example.com")

	for _, actor := range []domain.Actor{manager, a.actor} {
		_, err := e.svc.ResetSecondFactor(ctx, actor, a.id)
		wantErr(t, err, domain.ErrNotPermitted)
	}
	for _, id := range []string{"00000000-0000-4000-8000-0000000000ff", "not-a-uuid"} {
		_, err := e.svc.ResetSecondFactor(ctx, admin, id)
		wantErr(t, err, domain.ErrUserNotFound)
	}
	got, err := e.svc.ResetSecondFactor(ctx, admin, a.id)
	if err != nil {
		t.Fatalf("ResetSecondFactor: %v", err)
	}
	if got.MFAEnabled() || e.user(t, a.id).MFAEnabled() {
		t.Fatal("the second factor is still on")
	}
	if e.sessionAlive(t, a.actor.SessionID) {
		t.Error("the user's session survived the reset")
	}
	if n := len(e.sentTo(a.email, domain.MessageMFAReset)); n != 1 {
		t.Errorf("%d 'reset' emails, want 1", n)
	}
	if n := countOf(e.eventTypes(t, a.id), domain.EventMFAReset); n != 1 {
		t.Errorf("%d mfa_reset events, want 1", n)
	}
	// Nothing on: a reset changes nothing and mails nothing.
	if _, err := e.svc.ResetSecondFactor(ctx, admin, a.id); err != nil {
		t.Fatal(err)
	}
	if n := len(e.sentTo(a.email, domain.MessageMFAReset)); n != 1 {
		t.Errorf("%d 'reset' emails after a second reset, want still 1", n)
	}
	if _, err := e.login(a.email, goodPass); err != nil {
		t.Fatalf("login with the password alone after a reset: %v", err)
	}
}

func TestPasswordResetLeavesMFAOn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	a := e.mfaUser(t, "alice@example.com")
	pending := e.challenge(t, a.email)

	if err := e.svc.RequestPasswordReset(ctx, a.email); err != nil {
		t.Fatal(err)
	}
	token := e.resetToken(t, a.email)
	const newPass = "brand-New-passw0rd"
	if err := e.svc.ConfirmPasswordReset(ctx, token, newPass); err != nil {
		t.Fatalf("ConfirmPasswordReset: %v", err)
	}
	if !e.user(t, a.id).MFAEnabled() {
		t.Fatal("a password reset turned the second factor off")
	}
	// The pending second step proved the old password: it is dead.
	_, err := e.svc.LoginSecondFactor(ctx, pending, e.code(a.key))
	wantErr(t, err, domain.ErrInvalidMFAToken)
	// The new password still needs the code.
	_, err = e.login(a.email, newPass)
	wantErr(t, err, domain.ErrSecondFactorRequired)
	if _, err := e.svc.LoginWithCode(ctx, a.email, newPass, e.code(a.key)); err != nil {
		t.Fatalf("login with the new password and a code: %v", err)
	}
}
