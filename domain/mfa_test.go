package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// mfaKey is a 160-bit TOTP secret.
var mfaKey = []byte("0123456789abcdefghij")

// recovery are the hashes of ten recovery codes ("hash-0" …).
func recovery() domain.RecoveryCodes {
	var r domain.RecoveryCodes
	for i := range r {
		r[i] = "hash-" + string(rune('0'+i))
	}
	return r
}

// mfaUser is a verified user with the second factor on, confirmed at t0
// with the code of t0.
func mfaUser(tb testing.TB) *domain.User {
	tb.Helper()
	u := verifiedUser(tb)
	if err := u.BeginTOTPEnrolment("sealed", t0); err != nil {
		tb.Fatal(err)
	}
	if err := u.ConfirmTOTP(mfaKey, domain.TOTPCode(mfaKey, t0), recovery(), "keep", t0); err != nil {
		tb.Fatal(err)
	}
	u.TakeSessionChanges()
	return u
}

func wantIs(tb testing.TB, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Fatalf("error = %v, want %v", err, want)
	}
}

func TestTOTPEnrolment(t *testing.T) {
	t.Parallel()
	u := verifiedUser(t)
	if u.MFAEnabled() {
		t.Fatal("a new user has a second factor")
	}
	wantIs(t, u.ConfirmTOTP(mfaKey, domain.TOTPCode(mfaKey, t0), recovery(), "", t0), domain.ErrNoPendingMFA)
	if err := u.BeginTOTPEnrolment("first", t0); err != nil {
		t.Fatal(err)
	}
	// A second enrolment replaces the pending secret.
	if err := u.BeginTOTPEnrolment("second", t0); err != nil {
		t.Fatal(err)
	}
	if got := u.SealedPendingTOTPSecret(); got != "second" || u.MFAEnabled() {
		t.Fatalf("pending %q, enabled %v; want the second secret pending, nothing on", got, u.MFAEnabled())
	}
	// A wrong code changes nothing.
	before := u.State()
	wantIs(t, u.ConfirmTOTP(mfaKey, "000000", recovery(), "", t0), domain.ErrInvalidCode)
	wantIs(t, u.ConfirmTOTP(mfaKey, "not a code", recovery(), "", t0), domain.ErrInvalidCode)
	if u.State() != before || len(u.TakeSessionChanges()) != 0 {
		t.Fatal("a wrong confirmation code changed the user")
	}
	// The code of the previous step still confirms (a code typed as its step ends).
	if err := u.ConfirmTOTP(mfaKey, domain.TOTPCode(mfaKey, t0.Add(-domain.TOTPPeriod)), recovery(), "mine", t0); err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	st := u.State()
	if !u.MFAEnabled() || st.TOTPSecret != "second" || st.TOTPPendingSecret != "" || st.RecoveryCodeHashes != recovery() {
		t.Fatalf("after confirming: %+v", st)
	}
	if st.TOTPLastStep != domain.TOTPStep(t0)-1 {
		t.Errorf("last step %d, want the confirming code's %d", st.TOTPLastStep, domain.TOTPStep(t0)-1)
	}
	changes := u.TakeSessionChanges()
	if len(changes) != 1 || changes[0].Kind != domain.EndOtherSessions || changes[0].Session.ID != "mine" {
		t.Errorf("session changes %+v, want every session but the caller's ended", changes)
	}
	// On: enrolment is refused, and there is nothing to confirm.
	wantIs(t, u.BeginTOTPEnrolment("third", t0), domain.ErrMFAEnabled)
	wantIs(t, u.ConfirmTOTP(mfaKey, domain.TOTPCode(mfaKey, t0), recovery(), "", t0), domain.ErrNoPendingMFA)
}

func TestTOTPCodesAreGoodOnceWithinOneStep(t *testing.T) {
	t.Parallel()
	u := mfaUser(t)
	check := func(code string, at time.Time) error {
		_, err := u.CheckSecondFactor(mfaKey, code, "", true, at)
		return err
	}
	// The confirming code is spent: it cannot log in.
	wantIs(t, check(domain.TOTPCode(mfaKey, t0), t0), domain.ErrInvalidCode)

	later := t0.Add(10 * domain.TOTPPeriod)
	// Two steps away is too far, either way.
	for _, off := range []time.Duration{-2, 2} {
		before := u.State()
		wantIs(t, check(domain.TOTPCode(mfaKey, later.Add(off*domain.TOTPPeriod)), later), domain.ErrInvalidCode)
		if u.State() != before {
			t.Fatal("a refused code changed the user")
		}
	}
	if err := check(domain.TOTPCode(mfaKey, later), later); err != nil {
		t.Fatalf("the current code: %v", err)
	}
	// Replayed, and the previous step's code, now older than the last used.
	wantIs(t, check(domain.TOTPCode(mfaKey, later), later), domain.ErrInvalidCode)
	wantIs(t, check(domain.TOTPCode(mfaKey, later.Add(-domain.TOTPPeriod)), later), domain.ErrInvalidCode)
	// The next step's code is still good (a clock a little ahead), once.
	next := domain.TOTPCode(mfaKey, later.Add(domain.TOTPPeriod))
	if err := check(next[:3]+" "+next[3:], later); err != nil {
		t.Fatalf("the next step's code, with a space: %v", err)
	}
	wantIs(t, check(next, later.Add(domain.TOTPPeriod)), domain.ErrInvalidCode)
	// Another key's code never matches.
	at := later.Add(5 * domain.TOTPPeriod)
	_, err := u.CheckSecondFactor([]byte("another 160-bit key!"), domain.TOTPCode(mfaKey, at), "", true, at)
	wantIs(t, err, domain.ErrInvalidCode)
	if err := check(domain.TOTPCode(mfaKey, at), at); err != nil {
		t.Fatalf("the right key: %v", err)
	}
	wantIs(t, verifiedUserErr(t), domain.ErrMFANotEnabled)
}

// verifiedUserErr checks a code on a user without a second factor.
func verifiedUserErr(tb testing.TB) error {
	_, err := verifiedUser(tb).CheckSecondFactor(mfaKey, domain.TOTPCode(mfaKey, t0), "", true, t0)
	return err
}

func TestRecoveryCodesAreGoodOnce(t *testing.T) {
	t.Parallel()
	u := mfaUser(t)
	if u.RecoveryCodesLeft() != domain.RecoveryCodeCount {
		t.Fatalf("%d codes left, want %d", u.RecoveryCodesLeft(), domain.RecoveryCodeCount)
	}
	// Not where only a TOTP code is allowed, and not an unknown one.
	_, err := u.CheckSecondFactor(mfaKey, "abcd-efgh-ijkl-mnop", "hash-3", false, t0)
	wantIs(t, err, domain.ErrInvalidCode)
	_, err = u.CheckSecondFactor(mfaKey, "abcd-efgh-ijkl-mnop", "hash-x", true, t0)
	wantIs(t, err, domain.ErrInvalidCode)
	used, err := u.CheckSecondFactor(mfaKey, "abcd-efgh-ijkl-mnop", "hash-3", true, t0)
	if err != nil || used != domain.UsedRecoveryCode {
		t.Fatalf("a recovery code: %v, %v", used, err)
	}
	if u.RecoveryCodesLeft() != domain.RecoveryCodeCount-1 || u.State().RecoveryCodeHashes[3] != "" {
		t.Fatalf("the used code is still held: %v", u.State().RecoveryCodeHashes)
	}
	_, err = u.CheckSecondFactor(mfaKey, "abcd-efgh-ijkl-mnop", "hash-3", true, t0)
	wantIs(t, err, domain.ErrInvalidCode)

	// New codes replace every old one.
	var fresh domain.RecoveryCodes
	fresh[0] = "new-0"
	if err := u.ReplaceRecoveryCodes(fresh, t0); err != nil {
		t.Fatal(err)
	}
	_, err = u.CheckSecondFactor(mfaKey, "x", "hash-4", true, t0)
	wantIs(t, err, domain.ErrInvalidCode)
	if used, err := u.CheckSecondFactor(mfaKey, "x", "new-0", true, t0); err != nil || used != domain.UsedRecoveryCode {
		t.Fatalf("a new code: %v, %v", used, err)
	}
	wantIs(t, verifiedUser(t).ReplaceRecoveryCodes(fresh, t0), domain.ErrMFANotEnabled)
}

func TestDisableAndResetMFA(t *testing.T) {
	t.Parallel()
	off := domain.UserState{}
	clearedOf := func(st domain.UserState) bool {
		return st.TOTPSecret == off.TOTPSecret && st.TOTPPendingSecret == "" && st.TOTPLastStep == 0 &&
			st.RecoveryCodeHashes == off.RecoveryCodeHashes && st.MFATokenHash == "" && st.MFATokenExpiresAt.IsZero()
	}

	u := mfaUser(t)
	u.SetMFAToken("token-hash", t0.Add(time.Minute))
	version := u.TokenVersion()
	if err := u.DisableMFA(t0); err != nil {
		t.Fatal(err)
	}
	if u.MFAEnabled() || !clearedOf(u.State()) {
		t.Fatalf("after disabling: %+v", u.State())
	}
	if u.TokenVersion() != version || len(u.TakeSessionChanges()) != 0 {
		t.Error("disabling ended sessions")
	}
	wantIs(t, u.DisableMFA(t0), domain.ErrMFANotEnabled)

	r := mfaUser(t)
	version = r.TokenVersion()
	if !r.ResetMFA(t0) {
		t.Fatal("ResetMFA reported nothing to reset")
	}
	if r.MFAEnabled() || !clearedOf(r.State()) || r.TokenVersion() != version+1 {
		t.Fatalf("after a reset: %+v", r.State())
	}
	// Nothing on: nothing changes, no session ends.
	before := r.State()
	if r.ResetMFA(t0) || r.State() != before {
		t.Error("resetting nothing changed the user")
	}
	// A pending enrolment alone is reset too.
	p := verifiedUser(t)
	if err := p.BeginTOTPEnrolment("pending", t0); err != nil {
		t.Fatal(err)
	}
	if !p.ResetMFA(t0) || p.SealedPendingTOTPSecret() != "" {
		t.Error("a pending enrolment survived a reset")
	}
}

func TestMFAToken(t *testing.T) {
	t.Parallel()
	u := mfaUser(t)
	wantIs(t, u.CheckMFAToken("", t0), domain.ErrInvalidMFAToken)
	u.SetMFAToken("h1", t0.Add(domain.MFATokenTTL))
	if err := u.CheckMFAToken("h1", t0.Add(domain.MFATokenTTL-time.Nanosecond)); err != nil {
		t.Fatalf("a live token: %v", err)
	}
	wantIs(t, u.CheckMFAToken("h2", t0), domain.ErrInvalidMFAToken)
	wantIs(t, u.CheckMFAToken("h1", t0.Add(domain.MFATokenTTL)), domain.ErrInvalidMFAToken)
	// A new one replaces it.
	u.SetMFAToken("h2", t0.Add(domain.MFATokenTTL))
	wantIs(t, u.CheckMFAToken("h1", t0), domain.ErrInvalidMFAToken)
	if err := u.ConsumeMFAToken("h2", t0); err != nil {
		t.Fatal(err)
	}
	wantIs(t, u.ConsumeMFAToken("h2", t0), domain.ErrInvalidMFAToken)

	// A password change or reset kills a pending second step; the reset
	// leaves the second factor on.
	u.SetMFAToken("h3", t0.Add(domain.MFATokenTTL))
	u.ChangePassword("new hash", "", t0)
	wantIs(t, u.CheckMFAToken("h3", t0), domain.ErrInvalidMFAToken)
	u.SetMFAToken("h4", t0.Add(domain.MFATokenTTL))
	u.SetResetToken("reset", t0.Add(time.Hour))
	if err := u.ResetPassword("reset", "newer hash", t0); err != nil {
		t.Fatal(err)
	}
	wantIs(t, u.CheckMFAToken("h4", t0), domain.ErrInvalidMFAToken)
	if !u.MFAEnabled() || u.RecoveryCodesLeft() != domain.RecoveryCodeCount {
		t.Error("a password reset turned the second factor off")
	}
	// Without a second factor no token is good.
	v := verifiedUser(t)
	v.SetMFAToken("h5", t0.Add(time.Minute))
	wantIs(t, v.CheckMFAToken("h5", t0), domain.ErrInvalidMFAToken)
}

// TestRightPasswordAloneResetsNothingWithMFA: with a second factor on, a
// right password is half a login; only a right code resets the count, or
// a guesser who knows the password could guess codes without end.
func TestRightPasswordAloneResetsNothingWithMFA(t *testing.T) {
	t.Parallel()
	u := mfaUser(t)
	if locked := u.CountFailedCode(t0, policy); locked {
		t.Fatal("one wrong code locked")
	}
	attempt(t, u, t0, false, policy)
	for range 5 {
		attempt(t, u, t0, true, policy)
	}
	st := u.State()
	if st.FailedLoginAttempts != 2 || !st.LastLoginAt.IsZero() {
		t.Fatalf("after right passwords: count %d, last login %v; want 2 and none", st.FailedLoginAttempts, st.LastLoginAt)
	}
	if !u.CountFailedCode(t0.Add(time.Second), policy) {
		t.Fatal("the code that reaches MaxAttempts did not lock")
	}
	if st := u.State(); !st.IsLocked || st.LockReason != domain.LockByFailures || st.FailedLoginAttempts != policy.MaxAttempts {
		t.Fatalf("after the locking code: %+v", st)
	}
	wantIs(t, u.AdmitCodeCheck(t0.Add(time.Minute), policy), domain.ErrAccountLocked)
	// The lock expires as a password lock does; a full login resets the count.
	if err := u.AdmitCodeCheck(t0.Add(time.Second+policy.Duration), policy); err != nil {
		t.Fatalf("after the lock expired: %v", err)
	}
	u.CountFailedCode(t0, policy)
	u.CompleteLogin(t0.Add(time.Hour))
	if st := u.State(); st.FailedLoginAttempts != 0 || !st.LastLoginAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("after a complete login: %+v", st)
	}
}

// TestCodeChecksWaitForPasswordsInFlight: a code check is admitted only
// while the failures so far and the password checks in flight leave room.
func TestCodeChecksWaitForPasswordsInFlight(t *testing.T) {
	t.Parallel()
	u := mfaUser(t)
	for range policy.MaxAttempts - 1 {
		begin(t, u, t0, policy)
	}
	if err := u.AdmitCodeCheck(t0, policy); err != nil {
		t.Fatalf("one slot left: %v", err)
	}
	u.CountFailedCode(t0, policy)
	wantIs(t, u.AdmitCodeCheck(t0, policy), domain.ErrLoginBusy)
	// Attempts whose lease ran out count as failures, and lock.
	wantIs(t, u.AdmitCodeCheck(t0.Add(policy.AttemptLease+time.Second), policy), domain.ErrAccountLocked)
	if !u.IsLocked() {
		t.Fatal("expired attempts did not lock")
	}
}
