package app_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// The attacks of the account-security issue, one test each, named for the
// attack they stop.

const newPass = "another-Good-9"

// session logs a verified user in and returns the result.
func (e *env) session(tb testing.TB, email, password string) app.LoginResult {
	tb.Helper()
	res, err := e.login(email, password)
	if err != nil {
		tb.Fatalf("Login(%s): %v", email, err)
	}
	return res
}

// actorOf authenticates an access token.
func (e *env) actorOf(tb testing.TB, token string) domain.Actor {
	tb.Helper()
	a, err := e.svc.Authenticate(context.Background(), token)
	if err != nil {
		tb.Fatalf("Authenticate: %v", err)
	}
	return a
}

// resetToken returns the token of the last reset link mailed to address.
func (e *env) resetToken(tb testing.TB, address string) string {
	tb.Helper()
	msgs := e.sentTo(address, domain.MessagePasswordReset)
	if len(msgs) == 0 {
		tb.Fatalf("no reset email to %s", address)
	}
	u, err := url.Parse(msgs[len(msgs)-1].Link)
	if err != nil || !strings.HasPrefix(msgs[len(msgs)-1].Link, baseURL+"/password-reset?") {
		tb.Fatalf("reset link %q", msgs[len(msgs)-1].Link)
	}
	return u.Query().Get("token")
}

func TestRefreshTokenRotatesOnEveryUse(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	first := e.session(t, "alice@example.com", goodPass)
	second, err := e.svc.Refresh(context.Background(), first.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	if second.RefreshToken == "" || second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
		t.Fatalf("refresh did not rotate: %+v", second)
	}
	if a := e.actorOf(t, second.AccessToken); a.SessionID != e.actorOf(t, first.AccessToken).SessionID {
		t.Error("the refreshed token belongs to another session")
	}
	third, err := e.svc.Refresh(context.Background(), second.RefreshToken)
	if err != nil || third.RefreshToken == second.RefreshToken {
		t.Fatalf("second rotation: %v", err)
	}
}

func TestRefreshTokenReuseRevokesFamily(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	stolen := e.session(t, "alice@example.com", goodPass)
	owner, err := e.svc.Refresh(context.Background(), stolen.RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	// The thief replays the rotated token: refused, and the whole session ends.
	_, err = e.svc.Refresh(context.Background(), stolen.RefreshToken)
	wantErr(t, err, domain.ErrInvalidRefreshToken)
	_, err = e.svc.Refresh(context.Background(), owner.RefreshToken)
	wantErr(t, err, domain.ErrInvalidRefreshToken)
	_, err = e.svc.Authenticate(context.Background(), owner.AccessToken)
	wantErr(t, err, domain.ErrInvalidToken)
}

func TestRefreshTokenGarbageIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tok := range []string{"", "nope", strings.Repeat("x", 10000)} {
		_, err := e.svc.Refresh(context.Background(), tok)
		wantErr(t, err, domain.ErrInvalidRefreshToken)
	}
}

func TestRefreshTokenExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) { d.cfg.RefreshTTL = time.Hour })
	e.verified(t, "alice@example.com")
	res := e.session(t, "alice@example.com", goodPass)
	e.clock.Advance(time.Hour + time.Second)
	_, err := e.svc.Refresh(context.Background(), res.RefreshToken)
	wantErr(t, err, domain.ErrInvalidRefreshToken)
}

// A lock that wrong passwords caused stops new logins only: the owner's
// open session refreshes on (PRODUCT.md section 4). A staff lock ends it.
func TestRefreshThroughALock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	res := e.session(t, "alice@example.com", goodPass)
	lockAccount(t, e, u.Email())
	next, err := e.svc.Refresh(context.Background(), res.RefreshToken)
	if err != nil {
		t.Fatalf("Refresh through a lock by wrong passwords = %v, want the session to go on", err)
	}
	if _, err := e.svc.Lock(context.Background(), adminActor, u.ID()); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Refresh(context.Background(), next.RefreshToken)
	wantErr(t, err, domain.ErrInvalidRefreshToken)
}

func TestLogoutEndsSessionAndAccessToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	res := e.session(t, "alice@example.com", goodPass)
	other := e.session(t, "alice@example.com", goodPass)
	if err := e.svc.Logout(context.Background(), e.actorOf(t, res.AccessToken), ""); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Authenticate(context.Background(), res.AccessToken)
	wantErr(t, err, domain.ErrInvalidToken)
	_, err = e.svc.Refresh(context.Background(), res.RefreshToken)
	wantErr(t, err, domain.ErrInvalidRefreshToken)
	e.actorOf(t, other.AccessToken) // other sessions stay
}

func TestPasswordChangeEndsOtherSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	mine := e.session(t, "alice@example.com", goodPass)
	theirs := e.session(t, "alice@example.com", goodPass)
	me := e.actorOf(t, mine.AccessToken)

	wantErr(t, e.svc.ChangePassword(context.Background(), me, wrongPass, newPass), domain.ErrWrongPassword)
	wantInvalid(t, e.svc.ChangePassword(context.Background(), me, goodPass, "password"), "new_password")
	if err := e.svc.ChangePassword(context.Background(), me, goodPass, newPass); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	e.actorOf(t, mine.AccessToken) // the caller's session stays
	_, err := e.svc.Authenticate(context.Background(), theirs.AccessToken)
	wantErr(t, err, domain.ErrInvalidToken)
	_, err = e.svc.Refresh(context.Background(), theirs.RefreshToken)
	wantErr(t, err, domain.ErrInvalidRefreshToken)
	_, err = e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrInvalidCredentials)
	e.session(t, "alice@example.com", newPass)
}

func TestPasswordResetEndsEverySessionAndUnlocks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	res := e.session(t, "alice@example.com", goodPass)
	for range maxAttempts {
		_, _ = e.login("alice@example.com", wrongPass)
	}
	if err := e.svc.RequestPasswordReset(context.Background(), "Alice@Example.com"); err != nil {
		t.Fatal(err)
	}
	token := e.resetToken(t, "alice@example.com")
	if st := e.user(t, u.ID()).State(); st.ResetTokenHash == "" || st.ResetTokenHash == token {
		t.Fatal("the reset token is not stored hashed")
	}
	wantInvalid(t, e.svc.ConfirmPasswordReset(context.Background(), token, "12345678"), "new_password")
	if err := e.svc.ConfirmPasswordReset(context.Background(), token, newPass); err != nil {
		t.Fatalf("ConfirmPasswordReset: %v", err)
	}
	if e.user(t, u.ID()).IsLocked() {
		t.Error("the reset left the account locked")
	}
	_, err := e.svc.Authenticate(context.Background(), res.AccessToken)
	wantErr(t, err, domain.ErrInvalidToken)
	_, err = e.svc.Refresh(context.Background(), res.RefreshToken)
	wantErr(t, err, domain.ErrInvalidRefreshToken)
	e.session(t, "alice@example.com", newPass)
	// Single use.
	wantErr(t, e.svc.ConfirmPasswordReset(context.Background(), token, "yet-another-Pass-1"), domain.ErrInvalidResetToken)
}

func TestPasswordResetLinkExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	if err := e.svc.RequestPasswordReset(context.Background(), "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	token := e.resetToken(t, "alice@example.com")
	e.clock.Advance(time.Hour + time.Second)
	wantErr(t, e.svc.ConfirmPasswordReset(context.Background(), token, newPass), domain.ErrInvalidResetToken)
	wantErr(t, e.svc.ConfirmPasswordReset(context.Background(), "forged", newPass), domain.ErrInvalidResetToken)
}

func TestPasswordResetDoesNotRevealAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	if err := e.svc.RequestPasswordReset(context.Background(), "nobody@example.com"); err != nil {
		t.Fatalf("unknown email: %v, want the same nil as a known one", err)
	}
	if err := e.svc.RequestPasswordReset(context.Background(), "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.sentTo("nobody@example.com", domain.MessagePasswordReset)); n != 0 {
		t.Errorf("%d mails to an unknown address", n)
	}
	wantInvalid(t, e.svc.RequestPasswordReset(context.Background(), "not an email"), "email")
}

func TestResendVerificationDoesNotRevealAccounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "new@example.com")
	e.verified(t, "done@example.com")
	oldID, oldToken := e.linkFor(t, "new@example.com")
	for _, addr := range []string{"new@example.com", "done@example.com", "nobody@example.com"} {
		if err := e.svc.ResendVerification(context.Background(), addr); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	if n := len(e.sentTo("new@example.com", domain.MessageVerifyEmail)); n != 2 {
		t.Errorf("the unverified account got %d links, want 2", n)
	}
	if n := len(e.sentTo("done@example.com", domain.MessageVerifyEmail)); n != 1 {
		t.Errorf("the verified account got %d links, want its first only", n)
	}
	// The new link replaces the old one.
	wantErr(t, e.svc.VerifyEmail(context.Background(), oldID, oldToken), domain.ErrInvalidVerification)
	id, token := e.linkFor(t, "new@example.com")
	if err := e.svc.VerifyEmail(context.Background(), id, token); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteMeNeedsThePassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	res := e.session(t, "alice@example.com", goodPass)
	me := e.actorOf(t, res.AccessToken)
	wantErr(t, e.svc.DeleteMe(context.Background(), me, wrongPass), domain.ErrWrongPassword)
	if err := e.svc.DeleteMe(context.Background(), me, goodPass); err != nil {
		t.Fatal(err)
	}
	if _, err := e.mem.UserByID(context.Background(), u.ID()); err == nil {
		t.Error("the user is still there")
	}
	_, err := e.svc.Authenticate(context.Background(), res.AccessToken)
	wantErr(t, err, domain.ErrInvalidToken)
}

func TestLastAdminCannotDeleteThemselves(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.admin(t, "root@example.com")
	me := e.actorOf(t, e.session(t, "root@example.com", goodPass).AccessToken)
	wantErr(t, e.svc.DeleteMe(context.Background(), me, goodPass), domain.ErrLastAdmin)
}

func TestAuditLogRecordsSecurityEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	ctx := app.WithClientIP(context.Background(), "203.0.113.7")
	if _, err := e.svc.Login(ctx, "root@example.com", wrongPass); err == nil {
		t.Fatal("wrong password logged in")
	}
	if _, err := e.svc.Login(ctx, "ghost@example.com", wrongPass); err == nil {
		t.Fatal("unknown email logged in")
	}
	res, err := e.svc.Login(ctx, "root@example.com", goodPass)
	if err != nil {
		t.Fatal(err)
	}
	u := e.verified(t, "alice@example.com")
	if _, err := e.svc.ChangeRole(ctx, e.actorOf(t, res.AccessToken), u.ID(), domain.RoleManager); err != nil {
		t.Fatal(err)
	}
	page, err := e.svc.ListAuditEvents(context.Background(), admin, app.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[domain.AuditEventType]domain.AuditEvent{}
	for _, ev := range page.Events {
		if _, ok := seen[ev.Type]; !ok {
			seen[ev.Type] = ev
		}
	}
	for _, want := range []domain.AuditEventType{domain.EventLoginFailed, domain.EventLoginSucceeded, domain.EventRoleChanged, domain.EventEmailVerified, domain.EventUserRegistered} {
		if _, ok := seen[want]; !ok {
			t.Errorf("no %s event in %+v", want, page.Events)
		}
	}
	if ev := seen[domain.EventRoleChanged]; ev.ActorID != admin.ID || ev.TargetID != u.ID() || ev.IP != "203.0.113.7" {
		t.Errorf("role change event %+v: want actor, target and client IP", ev)
	}
	// Filters and cursor pagination.
	only, err := e.svc.ListAuditEvents(context.Background(), admin, app.AuditQuery{Type: string(domain.EventLoginFailed)})
	if err != nil || len(only.Events) != 2 {
		t.Fatalf("login_failed events: %d, %v; want 2", len(only.Events), err)
	}
	var walked int
	q := app.AuditQuery{Limit: 2}
	for {
		p, err := e.svc.ListAuditEvents(context.Background(), admin, q)
		if err != nil {
			t.Fatal(err)
		}
		walked += len(p.Events)
		if p.NextCursor == "" {
			break
		}
		q.Cursor = p.NextCursor
	}
	if walked != len(page.Events) {
		t.Errorf("pages walked %d events, the full list has %d", walked, len(page.Events))
	}
}

func TestAuditLogIsForAdminsOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, role := range []domain.Role{domain.RoleManager, domain.RoleAuthenticated, domain.RoleAnonymous} {
		_, err := e.svc.ListAuditEvents(context.Background(), domain.Actor{ID: "x", Role: role}, app.AuditQuery{})
		wantErr(t, err, domain.ErrNotPermitted)
	}
	_, err := e.svc.ListAuditEvents(context.Background(), adminActor, app.AuditQuery{Limit: 101})
	wantInvalid(t, err, "limit")
}

func TestSessionsDoNotSurviveAStaffLockEvenAfterUnlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	res := e.session(t, "alice@example.com", goodPass)
	if _, err := e.svc.Lock(context.Background(), adminActor, u.ID()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Unlock(context.Background(), adminActor, u.ID()); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Refresh(context.Background(), res.RefreshToken)
	wantErr(t, err, domain.ErrInvalidRefreshToken)
	_, err = e.svc.Authenticate(context.Background(), res.AccessToken)
	wantErr(t, err, domain.ErrInvalidToken)
}

// Three wrong passwords from anyone must not sign the owner out anywhere.
func TestALockByFailuresEndsNoSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	res := e.session(t, "alice@example.com", goodPass)
	lockAccount(t, e, u.Email())
	if _, err := e.svc.Authenticate(context.Background(), res.AccessToken); err != nil {
		t.Errorf("Authenticate = %v, want the session to go on", err)
	}
	if _, err := e.svc.Refresh(context.Background(), res.RefreshToken); err != nil {
		t.Errorf("Refresh = %v, want the session to go on", err)
	}
	_, err := e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrAccountLocked)
}

func TestCurrentPasswordGuessesCountTowardLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	me := e.actorOf(t, e.session(t, "alice@example.com", goodPass).AccessToken)
	for range maxAttempts {
		wantErr(t, e.svc.ChangePassword(context.Background(), me, wrongPass, newPass), domain.ErrWrongPassword)
	}
	if !e.user(t, u.ID()).IsLocked() {
		t.Fatal("guessing the current password did not lock the account")
	}
	wantErr(t, e.svc.DeleteMe(context.Background(), me, goodPass), domain.ErrAccountLocked)
}

func TestLoginRacingAPasswordResetDoesNotSurviveIt(t *testing.T) {
	t.Parallel()
	checking := make(chan struct{})
	release := make(chan struct{})
	var once bool
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	if err := e.svc.RequestPasswordReset(context.Background(), "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	token := e.resetToken(t, "alice@example.com")
	verify := e.hasher.VerifyFunc
	e.hasher.VerifyFunc = func(ctx context.Context, password, hash string) (bool, bool, error) {
		if !once {
			once = true
			close(checking)
			<-release // the old password is being checked while the reset lands
		}
		return verify(ctx, password, hash)
	}
	done := make(chan error, 1)
	var res app.LoginResult
	go func() {
		var err error
		res, err = e.svc.Login(context.Background(), "alice@example.com", goodPass)
		done <- err
	}()
	<-checking
	if err := e.svc.ConfirmPasswordReset(context.Background(), token, newPass); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err == nil {
		if _, aerr := e.svc.Authenticate(context.Background(), res.AccessToken); aerr == nil {
			t.Fatal("a login with the old password, racing the reset, holds a valid session")
		}
	}
}

func TestLoginRacingAPasswordChangeDoesNotSurviveIt(t *testing.T) {
	t.Parallel()
	checking := make(chan struct{})
	release := make(chan struct{})
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	owner := e.actorOf(t, e.session(t, "alice@example.com", goodPass).AccessToken)
	verify := e.hasher.VerifyFunc
	var calls int
	e.hasher.VerifyFunc = func(ctx context.Context, password, hash string) (bool, bool, error) {
		calls++
		if calls == 1 { // the attacker's login with the old password
			close(checking)
			<-release
		}
		return verify(ctx, password, hash)
	}
	done := make(chan error, 1)
	var res app.LoginResult
	go func() {
		var err error
		res, err = e.svc.Login(context.Background(), "alice@example.com", goodPass)
		done <- err
	}()
	<-checking
	// The owner's own check of the current password waits for the slot the
	// attacker holds, so it runs in its own goroutine.
	changed := make(chan error, 1)
	go func() { changed <- e.svc.ChangePassword(context.Background(), owner, goodPass, newPass) }()
	close(release)
	<-done
	if err := <-changed; err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if res.AccessToken != "" {
		if _, err := e.svc.Authenticate(context.Background(), res.AccessToken); err == nil {
			t.Fatal("a login with the old password, racing the change, holds a valid session")
		}
	}
	e.actorOf(t, e.session(t, "alice@example.com", newPass).AccessToken)
}
