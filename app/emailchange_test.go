package app_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// emailChangeSecret is the token of the last email change link mailed to address.
func (e *env) emailChangeSecret(tb testing.TB, address string) string {
	tb.Helper()
	msgs := e.sentTo(address, domain.MessageEmailChange)
	if len(msgs) == 0 {
		tb.Fatalf("no email change link sent to %s", address)
	}
	link := msgs[len(msgs)-1].Link
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, baseURL+"/email-change?") || u.Path != "/email-change" || u.Query().Get("token") == "" {
		tb.Fatalf("email change link %q is not %s/email-change?token=…", link, baseURL)
	}
	return u.Query().Get("token")
}

// signedIn logs a verified user in and returns the actor of the session.
func (e *env) signedIn(tb testing.TB, email string) (domain.Actor, app.LoginResult) {
	tb.Helper()
	res := e.session(tb, email, goodPass)
	return e.actorOf(tb, res.AccessToken), res
}

func TestRequestEmailChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	me, _ := e.signedIn(t, "alice@example.com")
	before := e.user(t, u.ID()).State()

	wantErr(t, e.svc.RequestEmailChange(ctx, me, " New.Alice@Example.com ", goodPass), nil)
	secret := e.emailChangeSecret(t, "new.alice@example.com")
	st := e.user(t, u.ID()).State()
	if st.PendingEmail != "new.alice@example.com" || st.EmailChangeTokenHash != sha256Hex(secret) ||
		!st.EmailChangeExpiresAt.Equal(t0.Add(24*time.Hour)) || st.EmailChangeSessionID != me.SessionID {
		t.Errorf("pending change %q %q %v %q", st.PendingEmail, st.EmailChangeTokenHash, st.EmailChangeExpiresAt, st.EmailChangeSessionID)
	}
	// Nothing else changed.
	st.PendingEmail, st.EmailChangeTokenHash, st.EmailChangeExpiresAt, st.EmailChangeSessionID = "", "", time.Time{}, ""
	st.LoginsInFlight, st.LoginLeaseUntil = before.LoginsInFlight, before.LoginLeaseUntil
	if st != before {
		t.Errorf("the request changed the user:\n%+v\n%+v", before, st)
	}
	notices := e.sentTo("alice@example.com", domain.MessageEmailChangeRequested)
	if len(notices) != 1 || notices[0].Link != "" {
		t.Errorf("notices to the old address %+v, want one without a link", notices)
	}
	if ev := e.events(t, domain.EventEmailChangeAsked); len(ev) != 1 || ev[0].ActorID != u.ID() {
		t.Errorf("audit %+v", ev)
	}

	t.Run("validation", func(t *testing.T) {
		checks := len(e.hasher.VerifyCalls())
		var ve *domain.ValidationError
		err := e.svc.RequestEmailChange(ctx, me, "not an email", goodPass)
		if !errors.As(err, &ve) || ve.Fields[0].Field != "new_email" {
			t.Errorf("a malformed address: %v, want a validation error on new_email", err)
		}
		err = e.svc.RequestEmailChange(ctx, me, "ALICE@example.com", goodPass)
		if !errors.As(err, &ve) || ve.Fields[0].Field != "new_email" || ve.Fields[0].Code != domain.CodeEmailUnchanged {
			t.Errorf("the current address: %v, want %s on new_email", err, domain.CodeEmailUnchanged)
		}
		if n := len(e.hasher.VerifyCalls()); n != checks {
			t.Errorf("%d password checks: an invalid request checked the password", n-checks)
		}
	})
}

func TestRequestEmailChangeToATakenAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	e.verified(t, "bob@example.com")
	me, _ := e.signedIn(t, "alice@example.com")

	wantErr(t, e.svc.RequestEmailChange(ctx, me, "free@example.com", goodPass), nil)
	wantErr(t, e.svc.RequestEmailChange(ctx, me, "bob@example.com", goodPass), nil)
	if len(e.sentTo("bob@example.com", domain.MessageEmailChange)) != 0 {
		t.Error("a link was sent to a taken address")
	}
	notices := e.sentTo("alice@example.com", domain.MessageEmailChangeRequested)
	if len(notices) != 2 || notices[0] != notices[1] {
		t.Errorf("notices %+v, want two alike", notices)
	}
	st := e.user(t, u.ID()).State()
	if st.PendingEmail != "" || st.EmailChangeTokenHash != "" {
		t.Errorf("a request to a taken address left a change pending: %q", st.PendingEmail)
	}
	ev := e.events(t, domain.EventEmailChangeAsked)
	if len(ev) != 2 || !strings.Contains(ev[0].Detail, "another account") {
		t.Errorf("audit %+v, want the taken address noted", ev)
	}
}

func TestRequestEmailChangeWrongPassword(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	me, _ := e.signedIn(t, "alice@example.com")
	for i := range maxAttempts {
		wantErr(t, e.svc.RequestEmailChange(ctx, me, "new@example.com", wrongPass), domain.ErrWrongPassword)
		if st := e.user(t, u.ID()).State(); st.FailedLoginAttempts != i+1 && !st.IsLocked || st.LoginsInFlight != 0 {
			t.Errorf("after %d wrong passwords: failed %d, in flight %d", i+1, st.FailedLoginAttempts, st.LoginsInFlight)
		}
	}
	if !e.user(t, u.ID()).IsLocked() {
		t.Error("MAX_LOGIN_ATTEMPTS wrong passwords did not lock the account")
	}
	wantErr(t, e.svc.RequestEmailChange(ctx, me, "new@example.com", goodPass), domain.ErrAccountLocked)
	if len(e.sentTo("new@example.com", domain.MessageEmailChange)) != 0 || len(e.sentTo("alice@example.com", domain.MessageEmailChangeRequested)) != 0 {
		t.Error("a refused request mailed something")
	}
	if len(e.sentTo("alice@example.com", domain.MessageLocked)) != 1 {
		t.Error("no lock email")
	}
	if e.user(t, u.ID()).PendingEmail() != "" {
		t.Error("a refused request left a change pending")
	}
}

func TestRequestEmailChangeHasherFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	me, _ := e.signedIn(t, "alice@example.com")
	e.hasher.VerifyFunc = func(context.Context, string, string) (bool, bool, error) { return false, false, domain.ErrUnavailable }
	wantErr(t, e.svc.RequestEmailChange(context.Background(), me, "new@example.com", goodPass), domain.ErrUnavailable)
	if st := e.user(t, u.ID()).State(); st.LoginsInFlight != 0 || st.FailedLoginAttempts != 0 || st.PendingEmail != "" {
		t.Errorf("after a hasher failure: in flight %d, failed %d, pending %q", st.LoginsInFlight, st.FailedLoginAttempts, st.PendingEmail)
	}
}

func TestConfirmEmailChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	me, _ := e.signedIn(t, "alice@example.com")
	_, other := e.signedIn(t, "alice@example.com")
	otherSession := e.actorOf(t, other.AccessToken).SessionID
	wantErr(t, e.svc.RequestPasswordReset(ctx, "alice@example.com"), nil)
	wantErr(t, e.svc.RequestEmailChange(ctx, me, "new@example.com", goodPass), nil)
	secret := e.emailChangeSecret(t, "new@example.com")

	for _, bad := range []string{"", "secret-0", secret + "x", strings.Repeat("s", 513)} {
		_, err := e.svc.ConfirmEmailChange(ctx, bad)
		wantErr(t, err, domain.ErrInvalidEmailChangeToken)
	}
	e.clock.Advance(time.Hour)
	got, err := e.svc.ConfirmEmailChange(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	st := e.user(t, u.ID()).State()
	if got.Email() != "new@example.com" || st.Email != "new@example.com" || !st.EmailVerified || st.Role != domain.RoleAuthenticated {
		t.Errorf("after confirming: %s verified %v role %v", st.Email, st.EmailVerified, st.Role)
	}
	if st.PendingEmail != "" || st.EmailChangeTokenHash != "" || st.ResetTokenHash != "" || st.VerificationTokenHash != "" {
		t.Errorf("links left: pending %q, change %q, reset %q, verification %q", st.PendingEmail, st.EmailChangeTokenHash, st.ResetTokenHash, st.VerificationTokenHash)
	}
	if !st.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("updated_at %v", st.UpdatedAt)
	}
	if !e.sessionAlive(t, me.SessionID) || e.sessionAlive(t, otherSession) {
		t.Error("want the asker's session alive and the other ended")
	}
	if n := len(e.sentTo("alice@example.com", domain.MessageEmailChanged)); n != 1 {
		t.Errorf("%d notices of the change to the old address, want 1", n)
	}
	ev := e.events(t, domain.EventEmailChanged)
	if len(ev) != 1 || ev[0].Detail != "alice@example.com -> new@example.com" {
		t.Errorf("audit %+v", ev)
	}
	_, err = e.svc.ConfirmEmailChange(ctx, secret)
	wantErr(t, err, domain.ErrInvalidEmailChangeToken)
	if _, err := e.login("new@example.com", goodPass); err != nil {
		t.Errorf("login with the new address: %v", err)
	}
	_, err = e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrInvalidCredentials)
}

func TestConfirmEmailChangeFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.verified(t, "alice@example.com")
		me, _ := e.signedIn(t, "alice@example.com")
		wantErr(t, e.svc.RequestEmailChange(ctx, me, "new@example.com", goodPass), nil)
		e.clock.Advance(24 * time.Hour)
		_, err := e.svc.ConfirmEmailChange(ctx, e.emailChangeSecret(t, "new@example.com"))
		wantErr(t, err, domain.ErrInvalidEmailChangeToken)
	})

	t.Run("taken meanwhile", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		u := e.verified(t, "alice@example.com")
		me, _ := e.signedIn(t, "alice@example.com")
		wantErr(t, e.svc.RequestEmailChange(ctx, me, "new@example.com", goodPass), nil)
		secret := e.emailChangeSecret(t, "new@example.com")
		e.register(t, "new@example.com")
		before := e.user(t, u.ID()).State()
		_, err := e.svc.ConfirmEmailChange(ctx, secret)
		wantErr(t, err, domain.ErrEmailTaken)
		if st := e.user(t, u.ID()).State(); st != before {
			t.Errorf("a refused confirmation changed the user")
		}
		if len(e.sentTo("alice@example.com", domain.MessageEmailChanged)) != 0 || len(e.events(t, domain.EventEmailChanged)) != 0 {
			t.Error("a refused confirmation mailed or recorded a change")
		}
	})

	t.Run("a password change cancels it", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.verified(t, "alice@example.com")
		me, _ := e.signedIn(t, "alice@example.com")
		wantErr(t, e.svc.RequestEmailChange(ctx, me, "new@example.com", goodPass), nil)
		wantErr(t, e.svc.ChangePassword(ctx, me, goodPass, newPass), nil)
		_, err := e.svc.ConfirmEmailChange(ctx, e.emailChangeSecret(t, "new@example.com"))
		wantErr(t, err, domain.ErrInvalidEmailChangeToken)
	})

	t.Run("a password reset cancels it", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.verified(t, "alice@example.com")
		me, _ := e.signedIn(t, "alice@example.com")
		wantErr(t, e.svc.RequestEmailChange(ctx, me, "new@example.com", goodPass), nil)
		wantErr(t, e.svc.RequestPasswordReset(ctx, "alice@example.com"), nil)
		wantErr(t, e.svc.ConfirmPasswordReset(ctx, e.resetToken(t, "alice@example.com"), newPass), nil)
		_, err := e.svc.ConfirmEmailChange(ctx, e.emailChangeSecret(t, "new@example.com"))
		wantErr(t, err, domain.ErrInvalidEmailChangeToken)
	})
}

func TestStaffEmailChangeEndsTheLinksOfTheOldAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	mgr := e.withRole(t, "mgr@example.com", domain.RoleManager)
	peer := e.withRole(t, "peer@example.com", domain.RoleManager)
	u := e.verified(t, "alice@example.com")
	me, _ := e.signedIn(t, "alice@example.com")
	wantErr(t, e.svc.RequestEmailChange(ctx, me, "wanted@example.com", goodPass), nil)
	wantErr(t, e.svc.RequestPasswordReset(ctx, "alice@example.com"), nil)
	lockAccount(t, e, "alice@example.com")
	if st := e.user(t, u.ID()).State(); st.ResetTokenHash == "" || st.UnlockTokenHash == "" || st.EmailChangeTokenHash == "" {
		t.Fatal("the links to end are not there")
	}

	// A MANAGER never changes a peer's email: the attack of the issue.
	_, err := e.svc.UpdateUser(ctx, mgr, peer.ID, app.UpdateUserInput{Email: ptr("mgr@example.com")})
	wantErr(t, err, domain.ErrNotPermitted)
	_, err = e.svc.UpdateUser(ctx, mgr, admin.ID, app.UpdateUserInput{Email: ptr("evil@example.com")})
	wantErr(t, err, domain.ErrNotPermitted)
	if e.user(t, peer.ID).Email() != "peer@example.com" {
		t.Error("the peer's email changed")
	}

	got, err := e.svc.UpdateUser(ctx, mgr, u.ID(), app.UpdateUserInput{Email: ptr("Moved@Example.com")})
	if err != nil {
		t.Fatal(err)
	}
	st := got.State()
	if st.Email != "moved@example.com" || st.EmailVerified {
		t.Errorf("after the change: %s verified %v", st.Email, st.EmailVerified)
	}
	if st.ResetTokenHash != "" || st.UnlockTokenHash != "" || st.EmailChangeTokenHash != "" || st.PendingEmail != "" {
		t.Errorf("links left: reset %q unlock %q change %q", st.ResetTokenHash, st.UnlockTokenHash, st.EmailChangeTokenHash)
	}
	id, token := e.linkFor(t, "moved@example.com")
	if id != u.ID() || st.VerificationTokenHash != sha256Hex(token) {
		t.Errorf("verification link %s/%s does not match the stored hash", id, token)
	}
	if n := len(e.sentTo("alice@example.com", domain.MessageEmailChanged)); n != 1 {
		t.Errorf("%d notices to the old address, want 1", n)
	}
	ev := e.events(t, domain.EventEmailChanged)
	if len(ev) != 1 || ev[0].ActorID != mgr.ID || !strings.Contains(ev[0].Detail, "by staff") {
		t.Errorf("audit %+v", ev)
	}
	wantErr(t, e.svc.ConfirmPasswordReset(ctx, e.resetToken(t, "alice@example.com"), newPass), domain.ErrInvalidResetToken)
	wantErr(t, e.svc.UnlockWithToken(ctx, e.unlockSecret(t, "alice@example.com")), domain.ErrInvalidUnlockToken)
	_, err = e.svc.ConfirmEmailChange(ctx, e.emailChangeSecret(t, "wanted@example.com"))
	wantErr(t, err, domain.ErrInvalidEmailChangeToken)

	// Unchanged address: nothing happens.
	before := e.user(t, u.ID()).State()
	sent := len(e.sent())
	if _, err := e.svc.UpdateUser(ctx, admin, u.ID(), app.UpdateUserInput{Email: ptr("MOVED@example.com")}); err != nil {
		t.Fatal(err)
	}
	if e.user(t, u.ID()).State() != before || len(e.sent()) != sent {
		t.Error("setting the same address changed something")
	}
}
