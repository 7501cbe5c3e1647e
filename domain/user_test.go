package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/domain"
)

func TestNewUser(t *testing.T) {
	t.Parallel()
	local := time.FixedZone("UTC+2", 2*60*60)
	u, err := domain.NewUser(domain.NewUserParams{
		ID: "id-1", Email: "  Alice@Example.COM ", Nickname: "alice", PasswordHash: "hash",
		Profile: domain.Profile{FirstName: "Alice", LastName: "Smith"},
		Role:    domain.RoleAnonymous, Now: t0.In(local),
	})
	if err != nil {
		t.Fatalf("NewUser: %v", err)
	}
	want := domain.UserState{
		ID: "id-1", Email: "alice@example.com", Nickname: "alice", PasswordHash: "hash",
		Profile: domain.Profile{FirstName: "Alice", LastName: "Smith"},
		Role:    domain.RoleAnonymous, CreatedAt: t0, UpdatedAt: t0,
	}
	if diff := cmp.Diff(want, u.State(), cmp.Comparer(func(a, b domain.Role) bool { return a == b })); diff != "" {
		t.Errorf("state mismatch (-want +got):\n%s", diff)
	}
	if u.State().CreatedAt.Location() != time.UTC {
		t.Error("CreatedAt is not stored in UTC")
	}
	// Unverified: whoever typed the names may not own the address.
	if got := u.DisplayName(); got != "alice" {
		t.Errorf("DisplayName() = %q, want the nickname %q", got, "alice")
	}
}

func TestNewUserReportsEveryField(t *testing.T) {
	t.Parallel()
	_, err := domain.NewUser(domain.NewUserParams{
		Email: "not an email", Nickname: "x!", Profile: domain.Profile{GitHubProfileURL: "https://gitlab.com/a"},
	})
	wantInvalid(t, err, "email", "nickname", "github_profile_url", "role")
}

func TestDisplayName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		first, last, want string
	}{
		{"Alice", "Smith", "Alice Smith"},
		{"Alice", "", "Alice"},
		{"", "Smith", "nick"},
		{"", "", "nick"},
	}
	for _, tt := range tests {
		u := domain.RehydrateUser(domain.UserState{Nickname: "nick", EmailVerified: true, Profile: domain.Profile{FirstName: tt.first, LastName: tt.last}})
		if got := u.DisplayName(); got != tt.want {
			t.Errorf("DisplayName(%q, %q) = %q, want %q", tt.first, tt.last, got, tt.want)
		}
		unverified := domain.RehydrateUser(domain.UserState{Nickname: "nick", Profile: domain.Profile{FirstName: tt.first, LastName: tt.last}})
		if got := unverified.DisplayName(); got != "nick" {
			t.Errorf("unverified DisplayName(%q, %q) = %q, want the nickname", tt.first, tt.last, got)
		}
	}
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()
	expires := t0.Add(24 * time.Hour)
	tests := []struct {
		name      string
		role      domain.Role
		pending   string // stored token hash; "" = none
		given     string
		now       time.Time
		want      error
		wantRole  domain.Role
		wantValid bool
	}{
		{"right token", domain.RoleAnonymous, "h1", "h1", t0, nil, domain.RoleAuthenticated, true},
		{"right token just before expiry", domain.RoleAnonymous, "h1", "h1", expires.Add(-time.Nanosecond), nil, domain.RoleAuthenticated, true},
		{"manager stays manager", domain.RoleManager, "h1", "h1", t0, nil, domain.RoleManager, true},
		{"admin stays admin", domain.RoleAdmin, "h1", "h1", t0, nil, domain.RoleAdmin, true},
		{"wrong token", domain.RoleAnonymous, "h1", "h2", t0, domain.ErrInvalidVerification, domain.RoleAnonymous, false},
		{"prefix of the token", domain.RoleAnonymous, "h1", "h", t0, domain.ErrInvalidVerification, domain.RoleAnonymous, false},
		{"expired at the deadline", domain.RoleAnonymous, "h1", "h1", expires, domain.ErrInvalidVerification, domain.RoleAnonymous, false},
		{"expired after", domain.RoleAnonymous, "h1", "h1", expires.Add(time.Hour), domain.ErrInvalidVerification, domain.RoleAnonymous, false},
		{"none pending, empty given", domain.RoleAnonymous, "", "", t0, domain.ErrInvalidVerification, domain.RoleAnonymous, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u := userWithRole(tt.role)
			if tt.pending != "" {
				u.SetVerificationToken(tt.pending, expires)
			}
			err := u.VerifyEmail(tt.given, tt.now)
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyEmail = %v, want %v", err, tt.want)
			}
			st := u.State()
			if st.Role != tt.wantRole || st.EmailVerified != tt.wantValid {
				t.Errorf("role %v, verified %v; want %v, %v", st.Role, st.EmailVerified, tt.wantRole, tt.wantValid)
			}
			if tt.want == nil && (st.VerificationTokenHash != "" || !st.VerificationExpiresAt.IsZero()) {
				t.Error("the token is kept after use")
			}
		})
	}
}

func TestVerifyEmailSingleUse(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAnonymous)
	u.SetVerificationToken("h1", t0.Add(time.Hour))
	if err := u.VerifyEmail("h1", t0); err != nil {
		t.Fatalf("first VerifyEmail: %v", err)
	}
	if err := u.VerifyEmail("h1", t0); !errors.Is(err, domain.ErrInvalidVerification) {
		t.Fatalf("second VerifyEmail = %v, want ErrInvalidVerification", err)
	}
	if u.Role() != domain.RoleAuthenticated {
		t.Errorf("role = %v, want AUTHENTICATED", u.Role())
	}
}

func TestMarkEmailVerified(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ role, want domain.Role }{
		{domain.RoleAnonymous, domain.RoleAuthenticated},
		{domain.RoleAdmin, domain.RoleAdmin},
	} {
		u := userWithRole(tt.role)
		u.SetVerificationToken("h1", t0.Add(time.Hour))
		u.MarkEmailVerified(t0)
		st := u.State()
		if !st.EmailVerified || st.Role != tt.want || st.VerificationTokenHash != "" {
			t.Errorf("after MarkEmailVerified: verified %v, role %v, token %q", st.EmailVerified, st.Role, st.VerificationTokenHash)
		}
	}
}

func TestSetRole(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAuthenticated)
	later := t0.Add(time.Hour)

	u.SetRole(domain.RoleAuthenticated, later)
	if st := u.State(); st.TokenVersion != 0 || !st.UpdatedAt.Equal(t0) {
		t.Errorf("unchanged role: token version %d, updated %v; want 0, %v", st.TokenVersion, st.UpdatedAt, t0)
	}
	u.SetRole(domain.RoleManager, later)
	if st := u.State(); st.Role != domain.RoleManager || st.TokenVersion != 1 || !st.UpdatedAt.Equal(later) {
		t.Errorf("changed role: role %v, token version %d, updated %v", st.Role, st.TokenVersion, st.UpdatedAt)
	}
	u.SetRole(domain.RoleManager, later.Add(time.Hour))
	if u.TokenVersion() != 1 {
		t.Errorf("setting the same role again bumped the token version to %d", u.TokenVersion())
	}
}

func TestUpgradeToProfessional(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAuthenticated)
	first, second := t0.Add(time.Hour), t0.Add(2*time.Hour)
	if !u.UpgradeToProfessional(first) {
		t.Fatal("first upgrade reported no change")
	}
	if u.UpgradeToProfessional(second) {
		t.Error("second upgrade reported a change")
	}
	st := u.State()
	if !st.IsProfessional || !st.ProfessionalStatusUpdatedAt.Equal(first) || !st.UpdatedAt.Equal(first) {
		t.Errorf("professional %v at %v, updated %v; want true at %v", st.IsProfessional, st.ProfessionalStatusUpdatedAt, st.UpdatedAt, first)
	}
}

func TestPasswordHashes(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAuthenticated)

	u.UpgradePasswordHash("other", "new")
	if u.PasswordHash() != "hash" {
		t.Errorf("UpgradePasswordHash replaced a hash that had changed meanwhile: %q", u.PasswordHash())
	}
	u.UpgradePasswordHash("hash", "rehashed")
	if u.PasswordHash() != "rehashed" || u.TokenVersion() != 0 {
		t.Errorf("after upgrade: hash %q, token version %d; want rehashed, 0", u.PasswordHash(), u.TokenVersion())
	}
	u.ChangePassword("changed", "kept-session", t0.Add(time.Hour))
	if u.PasswordHash() != "changed" || u.TokenVersion() != 0 || u.State().PasswordVersion != 1 {
		t.Errorf("after change: hash %q, token version %d, password version %d; want changed, 0, 1", u.PasswordHash(), u.TokenVersion(), u.State().PasswordVersion)
	}
	if c := u.TakeSessionChanges(); len(c) != 1 || c[0].Kind != domain.EndOtherSessions || c[0].Session.ID != "kept-session" {
		t.Errorf("a password change recorded %+v, want the end of every session but the caller's", c)
	}
}

func TestChangeEmailAndNickname(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAuthenticated)
	later := t0.Add(time.Hour)

	if err := u.ChangeEmail("no-at-sign", later); err == nil {
		t.Fatal("ChangeEmail accepted an invalid address")
	} else {
		wantInvalid(t, err, "email")
	}
	if u.Email() != "alice@example.com" {
		t.Errorf("a rejected email changed the user: %q", u.Email())
	}
	if err := u.ChangeEmail(" ALICE@example.com", later); err != nil || !u.State().UpdatedAt.Equal(t0) {
		t.Errorf("the same email, other case: err %v, updated %v; want nil, unchanged", err, u.State().UpdatedAt)
	}
	if err := u.ChangeEmail(" Bob@Example.com ", later); err != nil || u.Email() != "bob@example.com" {
		t.Errorf("ChangeEmail: err %v, email %q", err, u.Email())
	}

	wantInvalid(t, u.ChangeNickname("a b", later), "nickname")
	if u.Nickname() != "alice" {
		t.Errorf("a rejected nickname changed the user: %q", u.Nickname())
	}
	if err := u.ChangeNickname("bob_2", later); err != nil || u.Nickname() != "bob_2" {
		t.Errorf("ChangeNickname: err %v, nickname %q", err, u.Nickname())
	}
}

func TestUpdateProfile(t *testing.T) {
	t.Parallel()
	ptr := func(s string) *string { return &s }
	u := newUser(t, domain.RoleAuthenticated)
	later := t0.Add(time.Hour)

	if !(domain.ProfilePatch{}).IsEmpty() || (domain.ProfilePatch{Bio: ptr("")}).IsEmpty() {
		t.Error("IsEmpty must be true only for a patch without fields")
	}
	err := u.UpdateProfile(domain.ProfilePatch{Bio: ptr("new bio"), GitHubProfileURL: ptr("https://evil.com/github.com")}, later)
	wantInvalid(t, err, "github_profile_url")
	if u.State().Profile.Bio != "" {
		t.Error("a rejected patch was partly applied")
	}

	err = u.UpdateProfile(domain.ProfilePatch{FirstName: ptr(""), Bio: ptr("new bio"), LinkedInProfileURL: ptr("https://linkedin.com/in/a")}, later)
	if err != nil {
		t.Fatalf("UpdateProfile: %v", err)
	}
	want := domain.Profile{Bio: "new bio", LinkedInProfileURL: "https://linkedin.com/in/a"}
	if diff := cmp.Diff(want, u.State().Profile); diff != "" {
		t.Errorf("profile mismatch (-want +got):\n%s", diff)
	}
	if !u.State().UpdatedAt.Equal(later) {
		t.Errorf("UpdatedAt = %v, want %v", u.State().UpdatedAt, later)
	}
}

func TestResetPasswordEndsEverything(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAuthenticated)
	u.SetResetToken("reset-hash", t0.Add(time.Hour))
	u.LockByStaff(t0)
	if err := u.ResetPassword("reset-hash", "new-hash", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	st := u.State()
	// A staff lock bumped the version once, the reset once more: every
	// session opened before ends, and the lock is gone with it.
	if st.PasswordHash != "new-hash" || st.PasswordVersion != 1 || st.TokenVersion != 2 || st.IsLocked || st.ResetTokenHash != "" {
		t.Errorf("after reset: hash %q, password version %d, token version %d, locked %v, reset token %q",
			st.PasswordHash, st.PasswordVersion, st.TokenVersion, st.IsLocked, st.ResetTokenHash)
	}
}

func TestSessionChangesAreRecorded(t *testing.T) {
	t.Parallel()
	u := newUser(t, domain.RoleAuthenticated)
	u.SetRole(domain.RoleManager, t0) // version 1
	p := domain.SessionPolicy{TTL: time.Hour, MaxAge: 90 * time.Minute}
	s := domain.NewSession("sid", t0, p, "192.0.2.1", strings.Repeat("u", 300))
	u.OpenSession(s, "refresh-hash")
	u.EndSession("other", t0)
	u.EndOtherSessions("sid", t0)
	got := u.TakeSessionChanges()
	if len(got) != 3 || got[0].Kind != domain.OpenSession || got[1].Kind != domain.EndSession || got[2].Kind != domain.EndOtherSessions {
		t.Fatalf("recorded %+v", got)
	}
	opened := got[0].Session
	if opened.UserID != u.ID() || opened.UserVersion != 1 || got[0].RefreshHash != "refresh-hash" ||
		len(opened.UserAgent) != domain.MaxUserAgentLen || !opened.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("opened %+v", opened)
	}
	if len(u.TakeSessionChanges()) != 0 {
		t.Error("TakeSessionChanges did not forget them")
	}
	// A refresh never extends a session past its maximum age.
	opened.Renew(t0.Add(50*time.Minute), p)
	if !opened.ExpiresAt.Equal(t0.Add(90*time.Minute)) || !opened.LastUsedAt.Equal(t0.Add(50*time.Minute)) {
		t.Errorf("renewed: expires %v, last used %v; want capped at %v", opened.ExpiresAt, opened.LastUsedAt, t0.Add(90*time.Minute))
	}
	if !opened.ValidFor(u, t0.Add(89*time.Minute)) || opened.ValidFor(u, t0.Add(90*time.Minute)) {
		t.Error("the session's validity does not end at its maximum age")
	}
	u.SetRole(domain.RoleAuthenticated, t0)
	if opened.ValidFor(u, t0) {
		t.Error("a session survived a change of the user's token version")
	}
}
