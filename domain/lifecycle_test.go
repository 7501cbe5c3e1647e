package domain_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// withLinks is a verified user holding every kind of link token.
func withLinks(tb testing.TB) *domain.User {
	tb.Helper()
	u := newUser(tb, domain.RoleAuthenticated)
	u.MarkEmailVerified(t0)
	u.SetResetToken("reset", t0.Add(time.Hour))
	u.SetUnlockToken("unlock", t0.Add(time.Hour))
	u.SetVerificationToken("verify", t0.Add(time.Hour))
	if err := u.RequestEmailChange("next@example.com", "change", t0.Add(time.Hour), "session-1"); err != nil {
		tb.Fatal(err)
	}
	return u
}

func TestRequestEmailChange(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAuthenticated)
	wantCode(t, u.RequestEmailChange("alice@example.com", "h", t0, ""), "new_email", domain.CodeEmailUnchanged)
	if u.PendingEmail() != "" {
		t.Error("a refused request left a change pending")
	}
	if err := u.RequestEmailChange("a@example.com", "h1", t0.Add(time.Hour), "s1"); err != nil {
		t.Fatal(err)
	}
	if err := u.RequestEmailChange("b@example.com", "h2", t0.Add(2*time.Hour), "s2"); err != nil {
		t.Fatal(err)
	}
	st := u.State()
	if st.PendingEmail != "b@example.com" || st.EmailChangeTokenHash != "h2" || st.EmailChangeSessionID != "s2" || st.Email != "alice@example.com" {
		t.Errorf("pending %+v: want the second request, the email unchanged", st)
	}
	if !st.UpdatedAt.Equal(t0) {
		t.Error("a request touched updated_at: nothing a client sees changed")
	}
	u.CancelEmailChange()
	if st := u.State(); st.PendingEmail != "" || st.EmailChangeTokenHash != "" || !st.EmailChangeExpiresAt.IsZero() || st.EmailChangeSessionID != "" {
		t.Errorf("after cancelling: %+v", st)
	}
}

func TestConfirmEmailChange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		hash string
		now  time.Time
	}{
		{"wrong token", "other", t0},
		{"empty token", "", t0},
		{"expired", "change", t0.Add(time.Hour)},
	} {
		u := withLinks(t)
		before := u.State()
		if _, err := u.ConfirmEmailChange(tc.hash, tc.now); !errors.Is(err, domain.ErrInvalidEmailChangeToken) || !errors.Is(err, domain.ErrRejected) {
			t.Errorf("%s: error %v", tc.name, err)
		}
		if u.State() != before || len(u.TakeSessionChanges()) != 0 {
			t.Errorf("%s: a refused confirmation changed the user", tc.name)
		}
	}
	nothing := newUser(t, domain.RoleAuthenticated)
	if _, err := nothing.ConfirmEmailChange("", t0); !errors.Is(err, domain.ErrInvalidEmailChangeToken) {
		t.Errorf("no change pending: %v", err)
	}

	u := withLinks(t)
	now := t0.Add(time.Minute)
	old, err := u.ConfirmEmailChange("change", now)
	if err != nil || old != "alice@example.com" {
		t.Fatalf("ConfirmEmailChange = %q, %v", old, err)
	}
	st := u.State()
	if st.Email != "next@example.com" || !st.EmailVerified || !st.UpdatedAt.Equal(now) || st.Role != domain.RoleAuthenticated {
		t.Errorf("after confirming: %+v", st)
	}
	if st.ResetTokenHash != "" || st.UnlockTokenHash != "" || st.VerificationTokenHash != "" || st.EmailChangeTokenHash != "" || st.PendingEmail != "" {
		t.Errorf("links survived the change: %+v", st)
	}
	changes := u.TakeSessionChanges()
	if len(changes) != 1 || changes[0].Kind != domain.EndOtherSessions || changes[0].Session.ID != "session-1" || !changes[0].At.Equal(now) {
		t.Errorf("session changes %+v, want every session but the asker's ended", changes)
	}
	if _, err := u.ConfirmEmailChange("change", now); !errors.Is(err, domain.ErrInvalidEmailChangeToken) {
		t.Errorf("a second confirmation: %v", err)
	}
}

func TestChangeEmailByStaffEndsTheLinks(t *testing.T) {
	t.Parallel()
	inv := newUser(t, domain.RoleAuthenticated)
	inv.Invite("inv", t0.Add(time.Hour))
	if err := inv.ChangeEmail("other@example.com", t0); err != nil {
		t.Fatal(err)
	}
	if st := inv.State(); st.InvitationTokenHash != "" || !st.InvitationExpiresAt.IsZero() || !st.InvitationPending {
		t.Errorf("an invitation after a staff email change: token %q, pending %v; want no link, still pending", st.InvitationTokenHash, st.InvitationPending)
	}
	u := withLinks(t)
	if err := u.ChangeEmail("Alice@example.com", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if st := u.State(); !st.EmailVerified || st.ResetTokenHash == "" || !st.UpdatedAt.Equal(t0) {
		t.Error("the same address (in another case) changed something")
	}
	if err := u.ChangeEmail("new@example.com", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	st := u.State()
	if st.Email != "new@example.com" || st.EmailVerified || !st.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("after the change: %+v", st)
	}
	if st.ResetTokenHash != "" || st.UnlockTokenHash != "" || st.VerificationTokenHash != "" || st.EmailChangeTokenHash != "" ||
		st.PendingEmail != "" || !st.ResetExpiresAt.IsZero() || !st.UnlockExpiresAt.IsZero() || !st.VerificationExpiresAt.IsZero() {
		t.Errorf("links survived a staff email change: %+v", st)
	}
	wantInvalid(t, u.ChangeEmail("nope", t0), "email")
}

func TestInvitation(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAnonymous)
	u.Invite("inv", t0.Add(72*time.Hour))
	if !u.InvitationPending() || u.HasPassword() || u.PasswordHash() != "" {
		t.Fatal("an invitation has a password or is not pending")
	}
	before := u.State()
	if _, err := u.BeginLoginAttempt(t0, domain.LockoutPolicy{MaxAttempts: 3}); !errors.Is(err, domain.ErrNoPassword) ||
		!errors.Is(err, domain.ErrInvalidCredentials) {
		t.Errorf("a login attempt on an invitation: %v, want ErrNoPassword (an unknown email's answer)", err)
	}
	if u.State() != before {
		t.Error("a login attempt on an invitation changed it")
	}
	for _, tc := range []struct {
		name string
		hash string
		now  time.Time
	}{{"wrong token", "other", t0}, {"empty token", "", t0}, {"expired", "inv", t0.Add(72 * time.Hour)}} {
		if err := u.AcceptInvitation(tc.hash, "pw", tc.now); !errors.Is(err, domain.ErrInvalidInvitation) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	if u.State() != before {
		t.Error("a refused acceptance changed the invitation")
	}
	if err := u.ReissueInvitation("inv2", t0.Add(100*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := u.AcceptInvitation("inv", "pw", t0); !errors.Is(err, domain.ErrInvalidInvitation) {
		t.Errorf("the old link after a reissue: %v", err)
	}
	if err := u.AcceptInvitation("inv2", "pw-hash", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	st := u.State()
	if st.InvitationPending || st.InvitationTokenHash != "" || st.PasswordHash != "pw-hash" || st.PasswordVersion != 1 ||
		!st.EmailVerified || st.Role != domain.RoleAuthenticated {
		t.Errorf("accepted: %+v", st)
	}
	if err := u.ReissueInvitation("inv3", t0); !errors.Is(err, domain.ErrInvitationAlreadyAccepted) || !errors.Is(err, domain.ErrConflict) {
		t.Errorf("reissuing an accepted invitation: %v", err)
	}
	if err := u.AcceptInvitation("inv2", "again", t0); !errors.Is(err, domain.ErrInvalidInvitation) {
		t.Errorf("a second acceptance: %v", err)
	}
	if _, err := u.BeginLoginAttempt(t0, domain.LockoutPolicy{MaxAttempts: 3, AttemptLease: time.Minute}); err != nil {
		t.Errorf("a login attempt once accepted: %v", err)
	}
	// A role staff chose stays.
	m := newUser(t, domain.RoleManager)
	m.Invite("m", t0.Add(time.Hour))
	if err := m.AcceptInvitation("m", "h", t0); err != nil || m.Role() != domain.RoleManager {
		t.Errorf("an invited MANAGER: %v, role %v", err, m.Role())
	}
	m.MarkSignedIn(t0.Add(time.Minute))
	if !m.State().LastLoginAt.Equal(t0.Add(time.Minute)) {
		t.Error("MarkSignedIn did not stamp last_login_at")
	}
}

func TestPasswordChangesCancelAnEmailChange(t *testing.T) {
	t.Parallel()
	u := withLinks(t)
	u.ChangePassword("new", "s", t0)
	if u.PendingEmail() != "" {
		t.Error("a password change left an email change pending")
	}
	u = withLinks(t)
	if err := u.ResetPassword("reset", "new", t0); err != nil {
		t.Fatal(err)
	}
	if u.PendingEmail() != "" {
		t.Error("a password reset left an email change pending")
	}
}

func TestAnInvitationIsNotTheLastAdmin(t *testing.T) {
	t.Parallel()
	invited := newUser(t, domain.RoleAdmin)
	invited.Invite("h", t0.Add(time.Hour))
	if err := domain.CheckAdminRemains(invited, domain.Role{}, 1); err != nil {
		t.Errorf("removing an invited ADMIN beside one ADMIN: %v", err)
	}
	if err := domain.CheckAdminRemains(invited, domain.Role{}, 0); err != nil {
		t.Errorf("removing an invited ADMIN: %v", err)
	}
	if err := domain.CheckAdminRemains(newUser(t, domain.RoleAdmin), domain.RoleManager, 1); !errors.Is(err, domain.ErrLastAdmin) {
		t.Errorf("demoting the last ADMIN: %v", err)
	}
}
