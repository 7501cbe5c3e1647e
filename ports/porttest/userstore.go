// Package porttest holds contract suites that every implementation of a port
// must pass, so adapters stay interchangeable (like testing/fstest).
package porttest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// UserStore runs the ports.UserStore contract as named subtests. newStore
// must return an empty store that no other subtest uses; it may register
// cleanup on t.
func UserStore(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ports.UserStore)
	}{
		{"CreateAndFind", testCreateAndFind},
		{"NotFound", testNotFound},
		{"DuplicateID", testDuplicateID},
		{"DuplicateEmail", testDuplicateEmail},
		{"DuplicateNickname", testDuplicateNickname},
		{"UpdateToTakenEmailOrNickname", testUpdateToTaken},
		{"ConcurrentCreateSameEmail", testConcurrentCreateSameEmail},
		{"ConcurrentCreateSameNickname", testConcurrentCreateSameNickname},
		{"UpdateCommits", testUpdateCommits},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"RoundTripEveryField", testRoundTrip},
		{"UserByToken", testTokenLookup},
		{"EmailChangeToTakenAddress", testEmailChangeToTaken},
		{"InvitedAccountWithoutPassword", testInvitedRoundTrip},
		{"UpdateUserByEmail", testUpdateByEmail},
		{"ListOrderAndPaging", testList},
		{"DeleteUser", testDelete},
		{"LockoutUnderConcurrency", testLockoutUnderConcurrency},
		{"WrongCodesUnderConcurrency", testWrongCodesUnderConcurrency},
		{"ConcurrentUpdatesAllCount", testConcurrentUpdatesAllCount},
		{"AdminCount", testAdminCount},
		{"LastAdminRace", testLastAdminRace},
		{"CancelledContext", testCancelledContext},
	}
	for _, tt := range append(tests, searchTests...) {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// epoch is a fixed, microsecond-precise time the suite builds users at.
var epoch = time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)

func testCreateAndFind(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	u := newUser(t, "  Alice.Smith@Example.COM ", "Alice_01", domain.RoleAnonymous, epoch)
	mustCreate(t, s, u)

	got, err := s.UserByID(ctx, u.ID())
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	assertSameState(t, got.State(), u.State())
	if got.Email() != "alice.smith@example.com" {
		t.Errorf("stored email = %q, want it normalised", got.Email())
	}

	got, err = s.UserByEmail(ctx, "alice.smith@example.com")
	if err != nil {
		t.Fatalf("UserByEmail: %v", err)
	}
	assertSameState(t, got.State(), u.State())
}

func testNotFound(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	mustCreate(t, s, newUser(t, "someone@example.com", "someone", domain.RoleAdmin, epoch))
	missing := uuid.NewString()

	for _, id := range []string{missing, "not-a-uuid", ""} {
		if _, err := s.UserByID(ctx, id); !errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("UserByID(%q) error = %v, want ErrUserNotFound", id, err)
		}
	}
	if _, err := s.UserByEmail(ctx, "nobody@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UserByEmail error = %v, want ErrUserNotFound", err)
	}
	called := false
	if err := s.UpdateUser(ctx, missing, func(*domain.User) error { called = true; return nil }); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UpdateUser error = %v, want ErrUserNotFound", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, missing, func(*domain.User, int) error { called = true; return nil }); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UpdateUserCountingAdmins error = %v, want ErrUserNotFound", err)
	}
	if err := s.DeleteUser(ctx, missing, func(*domain.User, int) error { called = true; return nil }); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("DeleteUser error = %v, want ErrUserNotFound", err)
	}
	if called {
		t.Error("a closure ran for a user that does not exist")
	}
}

func testDuplicateID(t *testing.T, s ports.UserStore) {
	u := newUser(t, "first@example.com", "first", domain.RoleAnonymous, epoch)
	mustCreate(t, s, u)
	st := u.State()
	st.Email, st.Nickname = "second@example.com", "second"
	err := s.CreateUser(t.Context(), domain.RehydrateUser(st))
	if !errors.Is(err, domain.ErrConflict) {
		t.Fatalf("CreateUser with a taken id: error = %v, want one wrapping ErrConflict", err)
	}
	assertUser(t, s, u.State())
}

func testDuplicateEmail(t *testing.T, s ports.UserStore) {
	mustCreate(t, s, newUser(t, "dup@example.com", "original", domain.RoleAnonymous, epoch))
	err := s.CreateUser(t.Context(), newUser(t, "DUP@Example.com", "another", domain.RoleAnonymous, epoch))
	if !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("CreateUser with a taken email: error = %v, want ErrEmailTaken", err)
	}
	assertCount(t, s, 1)
}

func testDuplicateNickname(t *testing.T, s ports.UserStore) {
	mustCreate(t, s, newUser(t, "one@example.com", "Nick_Name", domain.RoleAnonymous, epoch))
	err := s.CreateUser(t.Context(), newUser(t, "two@example.com", "nICK_nAME", domain.RoleAnonymous, epoch))
	if !errors.Is(err, domain.ErrNicknameTaken) {
		t.Fatalf("CreateUser with a nickname differing only by case: error = %v, want ErrNicknameTaken", err)
	}
	assertCount(t, s, 1)
}

func testUpdateToTaken(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	a := newUser(t, "a@example.com", "alice", domain.RoleAnonymous, epoch)
	b := newUser(t, "b@example.com", "bob", domain.RoleAnonymous, epoch)
	mustCreate(t, s, a)
	mustCreate(t, s, b)
	later := epoch.Add(time.Minute)

	changeEmail := func(u *domain.User) error { return u.ChangeEmail("A@example.com", later) }
	changeNick := func(u *domain.User) error { return u.ChangeNickname("ALICE", later) }
	if err := s.UpdateUser(ctx, b.ID(), changeEmail); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("UpdateUser to a taken email: error = %v, want ErrEmailTaken", err)
	}
	if err := s.UpdateUser(ctx, b.ID(), changeNick); !errors.Is(err, domain.ErrNicknameTaken) {
		t.Errorf("UpdateUser to a taken nickname: error = %v, want ErrNicknameTaken", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, b.ID(), func(u *domain.User, _ int) error { return changeEmail(u) }); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("UpdateUserCountingAdmins to a taken email: error = %v, want ErrEmailTaken", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, b.ID(), func(u *domain.User, _ int) error { return changeNick(u) }); !errors.Is(err, domain.ErrNicknameTaken) {
		t.Errorf("UpdateUserCountingAdmins to a taken nickname: error = %v, want ErrNicknameTaken", err)
	}
	assertUser(t, s, a.State())
	assertUser(t, s, b.State())

	// A user's own email and nickname never conflict with themselves.
	if err := s.UpdateUser(ctx, b.ID(), func(u *domain.User) error {
		if err := u.ChangeEmail("B@EXAMPLE.com", later); err != nil {
			return err
		}
		return u.ChangeNickname("BOB", later)
	}); err != nil {
		t.Fatalf("UpdateUser changing only the nickname's case: %v", err)
	}
	got := mustGet(t, s, b.ID())
	if got.Email() != "b@example.com" || got.Nickname() != "BOB" {
		t.Errorf("after update: email %q nickname %q, want b@example.com BOB", got.Email(), got.Nickname())
	}
}

func testConcurrentCreateSameEmail(t *testing.T, s ports.UserStore) {
	const n = 20
	users := make([]*domain.User, n)
	for i := range users {
		users[i] = newUser(t, "race@example.com", uniqueNickname("race"), domain.RoleAnonymous, epoch)
	}
	errs := runConcurrently(n, func(i int) error { return s.CreateUser(t.Context(), users[i]) })
	assertOneWinner(t, errs, domain.ErrEmailTaken)
	assertCount(t, s, 1)
}

func testConcurrentCreateSameNickname(t *testing.T, s ports.UserStore) {
	const n = 20
	users := make([]*domain.User, n)
	for i := range users {
		nick := "Racer"
		if i%2 == 1 {
			nick = "rACER"
		}
		users[i] = newUser(t, uniqueNickname("r")+"@example.com", nick, domain.RoleAnonymous, epoch)
	}
	errs := runConcurrently(n, func(i int) error { return s.CreateUser(t.Context(), users[i]) })
	assertOneWinner(t, errs, domain.ErrNicknameTaken)
	assertCount(t, s, 1)
}

func testUpdateCommits(t *testing.T, s ports.UserStore) {
	u := newUser(t, "commit@example.com", "committer", domain.RoleAnonymous, epoch)
	mustCreate(t, s, u)
	later := epoch.Add(time.Hour)
	bio := "updated bio"

	var want domain.UserState
	err := s.UpdateUser(t.Context(), u.ID(), func(cur *domain.User) error {
		if err := cur.ChangeEmail("Committed@Example.com", later); err != nil {
			return err
		}
		if err := cur.UpdateProfile(domain.ProfilePatch{Bio: &bio}, later); err != nil {
			return err
		}
		cur.SetVerificationToken("token-hash", later.Add(24*time.Hour))
		cur.SetRole(domain.RoleManager, later)
		want = cur.State()
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	assertUser(t, s, want)
	if _, err := s.UserByEmail(t.Context(), "committed@example.com"); err != nil {
		t.Errorf("UserByEmail(new email): %v", err)
	}
	if _, err := s.UserByEmail(t.Context(), "commit@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UserByEmail(old email) error = %v, want ErrUserNotFound", err)
	}
}

func testUpdateRollsBack(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	u := newUser(t, "rollback@example.com", "roller", domain.RoleAdmin, epoch)
	mustCreate(t, s, u)
	later := epoch.Add(time.Hour)
	errBoom := errors.New("boom")
	mutate := func(cur *domain.User) {
		_ = cur.ChangeEmail("changed@example.com", later)
		_ = cur.ChangeNickname("changed", later)
		cur.SetRole(domain.RoleManager, later)
		cur.UpgradeToProfessional(later)
	}

	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error { mutate(cur); return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser error = %v, want the closure's error", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error { mutate(cur); return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUserCountingAdmins error = %v, want the closure's error", err)
	}
	if err := s.DeleteUser(ctx, u.ID(), func(*domain.User, int) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("DeleteUser error = %v, want the check's error", err)
	}
	assertUser(t, s, u.State())
	if _, err := s.UserByEmail(ctx, "changed@example.com"); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UserByEmail(rolled back email) error = %v, want ErrUserNotFound", err)
	}
	// The rolled-back nickname and email must still be free.
	mustCreate(t, s, newUser(t, "changed@example.com", "changed", domain.RoleAnonymous, epoch))
}

func testRoundTrip(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	id := uuid.NewString()
	// Nanoseconds on purpose: stores keep at least microseconds.
	at := func(d time.Duration) time.Time { return time.Date(2024, 1, 2, 3, 4, 5, 987654321, time.UTC).Add(d) }
	full := domain.UserState{
		ID:           id,
		Email:        "full.state@example.com",
		Nickname:     "Full_State-1",
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		Profile: domain.Profile{
			FirstName:          "Zoë",
			LastName:           "O'Brien",
			Bio:                "Line one\nline two; 'quoted' \"double\" — ünïcode ✓",
			PreferredLanguage:  "pt-BR",
			ProfilePictureURL:  "https://example.com/pics/me.png",
			LinkedInProfileURL: "https://www.linkedin.com/in/full-state",
			GitHubProfileURL:   "https://github.com/full-state",
		},
		Role:                        domain.RoleManager,
		IsProfessional:              true,
		ProfessionalStatusUpdatedAt: at(time.Hour),
		EmailVerified:               true,
		VerificationTokenHash:       "0123456789abcdef0123456789abcdef",
		VerificationExpiresAt:       at(2 * time.Hour),
		ResetTokenHash:              "fedcba9876543210fedcba9876543210",
		ResetExpiresAt:              at(150 * time.Minute),
		FailedLoginAttempts:         2,
		LoginsInFlight:              1,
		LoginLeaseUntil:             at(3 * time.Hour),
		IsLocked:                    true,
		LockReason:                  domain.LockByFailures,
		LockedAt:                    at(4 * time.Hour),
		UnlockTokenHash:             "00112233445566778899aabbccddeeff",
		UnlockExpiresAt:             at(5*time.Hour + time.Minute),
		LastLoginAt:                 at(5 * time.Hour),
		CreatedAt:                   at(0),
		UpdatedAt:                   at(6 * time.Hour),
		TokenVersion:                7,
		PasswordVersion:             3,
		TOTPSecret:                  "v1:c2VhbGVkIHNlY3JldCBpbiBmb3JjZQ",
		TOTPPendingSecret:           "v1:c2VhbGVkIHBlbmRpbmcgc2VjcmV0",
		TOTPLastStep:                1 << 40,
		RecoveryCodeHashes: domain.RecoveryCodes{
			"a1", "", "c3", "d4", "", "f6", "g7", "h8", "i9", "",
		},
		MFATokenHash:         "99aabbccddeeff00112233445566778899",
		MFATokenExpiresAt:    at(5*time.Hour + 5*time.Minute),
		PendingEmail:         "next.full.state@example.com",
		EmailChangeTokenHash: "aabbccddeeff00112233445566778899",
		EmailChangeExpiresAt: at(24 * time.Hour),
		EmailChangeSessionID: "0195a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		InvitationPending:    true,
		InvitationTokenHash:  "99887766554433221100ffeeddccbbaa",
		InvitationExpiresAt:  at(72 * time.Hour),
	}
	if err := s.CreateUser(ctx, domain.RehydrateUser(full)); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	assertUser(t, s, full)

	// Every optional field cleared: empty strings and zero times.
	bare := domain.UserState{
		ID:           id,
		Email:        "bare@example.com",
		Nickname:     "bare",
		PasswordHash: "x",
		Role:         domain.RoleAdmin,
		CreatedAt:    full.CreatedAt,
		UpdatedAt:    at(7 * time.Hour),
	}
	replace(t, s, id, bare)
	got := assertUser(t, s, bare)
	for name, tm := range map[string]time.Time{
		"ProfessionalStatusUpdatedAt": got.ProfessionalStatusUpdatedAt,
		"VerificationExpiresAt":       got.VerificationExpiresAt,
		"ResetExpiresAt":              got.ResetExpiresAt,
		"LoginLeaseUntil":             got.LoginLeaseUntil,
		"LockedAt":                    got.LockedAt,
		"UnlockExpiresAt":             got.UnlockExpiresAt,
		"LastLoginAt":                 got.LastLoginAt,
		"MFATokenExpiresAt":           got.MFATokenExpiresAt,
		"EmailChangeExpiresAt":        got.EmailChangeExpiresAt,
		"InvitationExpiresAt":         got.InvitationExpiresAt,
	} {
		if !tm.IsZero() {
			t.Errorf("%s = %v, want the zero time", name, tm)
		}
	}

	// And back to every field set, through an update this time.
	full.Role = domain.RoleAuthenticated
	full.TokenVersion = 1 << 40
	full.PasswordVersion = 1 << 41
	full.LockReason = domain.LockByStaff
	replace(t, s, id, full)
	assertUser(t, s, full)

	// Every recovery code used, and every one unused.
	full.RecoveryCodeHashes = domain.RecoveryCodes{}
	replace(t, s, id, full)
	assertUser(t, s, full)
	for i := range full.RecoveryCodeHashes {
		full.RecoveryCodeHashes[i] = strings.Repeat("0123456789abcdef", 4)[:60+i%4]
	}
	replace(t, s, id, full)
	assertUser(t, s, full)
}

func testTokenLookup(t *testing.T, s ports.UserStore) {
	purposes := []struct {
		name    string
		purpose ports.TokenPurpose
		set     func(u *domain.User, hash string, expires time.Time)
		consume func(u *domain.User, hash string, now time.Time) error
		held    func(st domain.UserState) (string, time.Time)
	}{
		{
			"reset", ports.TokenPasswordReset,
			func(u *domain.User, h string, exp time.Time) { u.SetResetToken(h, exp) },
			func(u *domain.User, h string, now time.Time) error { return u.ResetPassword(h, "new-hash", now) },
			func(st domain.UserState) (string, time.Time) { return st.ResetTokenHash, st.ResetExpiresAt },
		},
		{
			"unlock", ports.TokenUnlock,
			func(u *domain.User, h string, exp time.Time) { u.SetUnlockToken(h, exp) },
			func(u *domain.User, h string, now time.Time) error { return u.UnlockWithToken(h, now) },
			func(st domain.UserState) (string, time.Time) { return st.UnlockTokenHash, st.UnlockExpiresAt },
		},
		{
			"mfa", ports.TokenMFA,
			func(u *domain.User, h string, exp time.Time) { enableMFA(u, epoch); u.SetMFAToken(h, exp) },
			func(u *domain.User, h string, now time.Time) error { return u.ConsumeMFAToken(h, now) },
			func(st domain.UserState) (string, time.Time) { return st.MFATokenHash, st.MFATokenExpiresAt },
		},
		{
			"email change", ports.TokenEmailChange,
			func(u *domain.User, h string, exp time.Time) {
				if err := u.RequestEmailChange("moved."+u.Email(), h, exp, ""); err != nil {
					panic(err)
				}
			},
			func(u *domain.User, h string, now time.Time) error {
				_, err := u.ConfirmEmailChange(h, now)
				return err
			},
			func(st domain.UserState) (string, time.Time) { return st.EmailChangeTokenHash, st.EmailChangeExpiresAt },
		},
		{
			"invitation", ports.TokenInvitation,
			func(u *domain.User, h string, exp time.Time) { u.Invite(h, exp) },
			func(u *domain.User, h string, now time.Time) error { return u.AcceptInvitation(h, "new-hash", now) },
			func(st domain.UserState) (string, time.Time) { return st.InvitationTokenHash, st.InvitationExpiresAt },
		},
	}
	for _, p := range purposes {
		t.Run(p.name, func(t *testing.T) {
			ctx := t.Context()
			u := newUser(t, uniqueNickname("tok")+"@example.com", uniqueNickname("tok"), domain.RoleAuthenticated, epoch)
			other := newUser(t, uniqueNickname("tok")+"@example.com", uniqueNickname("tok"), domain.RoleAuthenticated, epoch)
			mustCreate(t, s, u)
			mustCreate(t, s, other)
			hash := "5f4dcc3b5aa765d61d8327deb882cf99" + p.name
			expires := epoch.Add(time.Hour)
			find := func(h string) (string, error) {
				found, err := s.UserByToken(ctx, p.purpose, h)
				if err != nil {
					return "", err
				}
				return found.ID(), nil
			}
			for _, h := range []string{hash, ""} {
				if _, err := find(h); !errors.Is(err, domain.ErrUserNotFound) {
					t.Errorf("UserByToken(%q) with none pending: error = %v, want ErrUserNotFound", h, err)
				}
			}
			if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error { p.set(cur, hash, expires); return nil }); err != nil {
				t.Fatalf("UpdateUser(set token): %v", err)
			}
			if got, err := find(hash); err != nil || got != u.ID() {
				t.Errorf("UserByToken = %q, %v; want %q", got, err, u.ID())
			}
			if h, exp := p.held(mustGet(t, s, u.ID()).State()); h != hash || !exp.Equal(expires) {
				t.Errorf("stored token %q expiring %v, want %q expiring %v", h, exp, hash, expires)
			}
			for _, h := range []string{"0" + hash[1:], strings.ToUpper(hash), ""} {
				if _, err := find(h); !errors.Is(err, domain.ErrUserNotFound) {
					t.Errorf("UserByToken(%q): error = %v, want ErrUserNotFound", h, err)
				}
			}
			// Another purpose's lookup does not find it.
			for _, q := range purposes {
				if q.purpose == p.purpose {
					continue
				}
				if _, err := s.UserByToken(ctx, q.purpose, hash); !errors.Is(err, domain.ErrUserNotFound) {
					t.Errorf("UserByToken(%s) of a %s token: error = %v, want ErrUserNotFound", q.name, p.name, err)
				}
			}
			// Consuming the token clears it, and the hash finds nobody again.
			if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
				return p.consume(cur, hash, epoch.Add(time.Minute))
			}); err != nil {
				t.Fatalf("UpdateUser(consume token): %v", err)
			}
			if _, err := find(hash); !errors.Is(err, domain.ErrUserNotFound) {
				t.Errorf("UserByToken after consuming it: error = %v, want ErrUserNotFound", err)
			}
			if h, exp := p.held(mustGet(t, s, u.ID()).State()); h != "" || !exp.IsZero() {
				t.Errorf("after consuming it: token %q expiring %v, want none", h, exp)
			}
			// The same hash may be set again, on another user, once it is free.
			if err := s.UpdateUser(ctx, other.ID(), func(cur *domain.User) error { p.set(cur, hash, expires); return nil }); err != nil {
				t.Fatalf("UpdateUser(set token) on another user: %v", err)
			}
			if got, err := find(hash); err != nil || got != other.ID() {
				t.Errorf("UserByToken = %q, %v; want %q", got, err, other.ID())
			}
			ctxCancelled, cancel := context.WithCancel(ctx)
			cancel()
			if _, err := s.UserByToken(ctxCancelled, p.purpose, hash); err == nil || errors.Is(err, domain.ErrUserNotFound) {
				t.Errorf("UserByToken with a cancelled context: error = %v, want a context error", err)
			}
		})
	}
}

// testEmailChangeToTaken: two users wait to move to one free address;
// when both confirm at once, the store's unique index lets exactly one
// through, and the other's change fails with ErrEmailTaken and saves
// nothing, what it recorded included.
func testEmailChangeToTaken(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	const target = "wanted@example.com"
	exp, now := epoch.Add(24*time.Hour), epoch.Add(time.Minute)
	users := make([]*domain.User, 2)
	for i := range users {
		users[i] = newUser(t, uniqueNickname("mover")+"@example.com", uniqueNickname("mover"), domain.RoleAuthenticated, epoch)
		mustCreate(t, s, users[i])
		hash := "change-hash-" + users[i].ID()
		if err := s.UpdateUser(ctx, users[i].ID(), func(u *domain.User) error {
			return u.RequestEmailChange(target, hash, exp, "")
		}); err != nil {
			t.Fatalf("UpdateUser(request email change): %v", err)
		}
	}
	before := []domain.UserState{mustGet(t, s, users[0].ID()).State(), mustGet(t, s, users[1].ID()).State()}
	errs := runConcurrently(2, func(i int) error {
		return s.UpdateUser(ctx, users[i].ID(), func(u *domain.User) error {
			old, err := u.ConfirmEmailChange("change-hash-"+u.ID(), now)
			if err != nil {
				return err
			}
			u.Queue(domain.Message{Kind: domain.MessageEmailChanged, To: old, Name: u.Nickname()})
			u.Record(domain.AuditEvent{Type: domain.EventEmailChanged, TargetID: u.ID(), At: now})
			return nil
		})
	})
	assertOneWinner(t, errs, domain.ErrEmailTaken)
	for i, err := range errs {
		got := mustGet(t, s, users[i].ID()).State()
		if err == nil {
			if got.Email != target || !got.EmailVerified || got.PendingEmail != "" || got.EmailChangeTokenHash != "" {
				t.Errorf("the winner: email %q verified %v pending %q token %q; want %s, verified, none pending",
					got.Email, got.EmailVerified, got.PendingEmail, got.EmailChangeTokenHash, target)
			}
			continue
		}
		assertSameState(t, got, before[i])
	}
	if found, err := s.UserByEmail(ctx, target); err != nil {
		t.Errorf("UserByEmail(%s): %v", target, err)
	} else if errs[0] == nil && found.ID() != users[0].ID() || errs[1] == nil && found.ID() != users[1].ID() {
		t.Errorf("UserByEmail(%s) = %s, not the winner", target, found.ID())
	}
}

// testInvitedRoundTrip: an invited account is stored without a password
// (an empty hash), found by its invitation token, and gets a password when
// it accepts.
func testInvitedRoundTrip(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	u := newUser(t, "invited@example.com", "invited", domain.RoleAuthenticated, epoch)
	u.Invite("invitation-hash", epoch.Add(72*time.Hour))
	mustCreate(t, s, u)
	got := assertUser(t, s, u.State())
	if got.PasswordHash != "" || !got.InvitationPending {
		t.Fatalf("stored invitation: password hash %q, pending %v; want none, true", got.PasswordHash, got.InvitationPending)
	}
	found, err := s.UserByToken(ctx, ports.TokenInvitation, "invitation-hash")
	if err != nil || found.ID() != u.ID() {
		t.Fatalf("UserByToken(invitation) = %v, %v; want %s", found, err, u.ID())
	}
	var want domain.UserState
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		if err := cur.AcceptInvitation("invitation-hash", "$argon2id$set", epoch.Add(time.Hour)); err != nil {
			return err
		}
		want = cur.State()
		return nil
	}); err != nil {
		t.Fatalf("UpdateUser(accept): %v", err)
	}
	got = assertUser(t, s, want)
	if got.InvitationPending || got.PasswordHash != "$argon2id$set" || !got.EmailVerified {
		t.Errorf("after accepting: pending %v, hash %q, verified %v", got.InvitationPending, got.PasswordHash, got.EmailVerified)
	}
}

func testUpdateByEmail(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	u := newUser(t, "by.email@example.com", "by_email", domain.RoleAuthenticated, epoch)
	bystander := newUser(t, "bystander.email@example.com", "bystander_email", domain.RoleAuthenticated, epoch)
	mustCreate(t, s, u)
	mustCreate(t, s, bystander)
	later := epoch.Add(time.Hour)
	var seen string
	if err := s.UpdateUserByEmail(ctx, "by.email@example.com", func(cur *domain.User) error {
		seen = cur.ID()
		cur.UpgradeToProfessional(later)
		return nil
	}); err != nil {
		t.Fatalf("UpdateUserByEmail: %v", err)
	}
	if seen != u.ID() {
		t.Errorf("UpdateUserByEmail ran on user %q, want %q", seen, u.ID())
	}
	want := u.State()
	want.IsProfessional, want.ProfessionalStatusUpdatedAt, want.UpdatedAt = true, later, later
	assertUser(t, s, want)
	assertUser(t, s, bystander.State())
	errBoom := errors.New("boom")
	if err := s.UpdateUserByEmail(ctx, "by.email@example.com", func(cur *domain.User) error {
		cur.SetRole(domain.RoleAdmin, later)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUserByEmail with a failing fn: error = %v, want its error", err)
	}
	assertUser(t, s, want)
	for _, email := range []string{"nobody@example.com", "BY.EMAIL@example.com", ""} {
		called := false
		err := s.UpdateUserByEmail(ctx, email, func(*domain.User) error { called = true; return nil })
		if !errors.Is(err, domain.ErrUserNotFound) || called {
			t.Errorf("UpdateUserByEmail(%q): error = %v, called %v; want ErrUserNotFound, not called", email, err, called)
		}
	}
}

func testList(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	// Two pairs share a creation time, so order must fall back to the id.
	times := []time.Duration{0, 0, time.Microsecond, -time.Second, time.Hour, time.Hour, 2 * time.Hour}
	var want []domain.UserState
	for _, d := range times {
		u := newUser(t, uniqueNickname("list")+"@example.com", uniqueNickname("list"), domain.RoleAnonymous, epoch.Add(d))
		want = append(want, u.State())
	}
	// Insert newest first, so insertion order cannot pass for sorting.
	for i := len(want) - 1; i >= 0; i-- {
		mustCreate(t, s, domain.RehydrateUser(want[i]))
	}
	slices.SortFunc(want, func(a, b domain.UserState) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
	})

	n := len(want)
	for offset := 0; offset <= n+1; offset++ {
		for limit := 0; limit <= n+1; limit++ {
			page, total, err := s.ListUsers(ctx, ports.UserQuery{Offset: offset, Limit: limit, WithTotal: true})
			if err != nil {
				t.Fatalf("ListUsers(%d, %d): %v", offset, limit, err)
			}
			if total != n {
				t.Errorf("ListUsers(%d, %d) total = %d, want %d", offset, limit, total, n)
			}
			lo, hi := min(offset, n), min(offset+limit, n)
			if diff := gocmp.Diff(ids(want[lo:hi]), userIDs(page)); diff != "" {
				t.Errorf("ListUsers(%d, %d) ids (-want +got):\n%s", offset, limit, diff)
			}
		}
	}
	page, _, err := s.ListUsers(ctx, ports.UserQuery{Limit: n})
	if err != nil {
		t.Fatalf("ListUsers: %v", err)
	}
	for i, u := range page {
		assertSameState(t, u.State(), want[i])
	}
}

func testDelete(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	u := newUser(t, "gone@example.com", "gone", domain.RoleManager, epoch)
	keep := newUser(t, "kept@example.com", "kept", domain.RoleManager, epoch)
	mustCreate(t, s, u)
	mustCreate(t, s, keep)

	var seen domain.UserState
	if err := s.DeleteUser(ctx, u.ID(), func(cur *domain.User, _ int) error { seen = cur.State(); return nil }); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	assertSameState(t, seen, u.State())
	if _, err := s.UserByID(ctx, u.ID()); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("UserByID after delete: error = %v, want ErrUserNotFound", err)
	}
	if err := s.DeleteUser(ctx, u.ID(), func(*domain.User, int) error { return nil }); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("second DeleteUser: error = %v, want ErrUserNotFound", err)
	}
	assertUser(t, s, keep.State())
	assertCount(t, s, 1)
	// The email and nickname are free again.
	mustCreate(t, s, newUser(t, "gone@example.com", "GONE", domain.RoleAnonymous, epoch))
}

func testLockoutUnderConcurrency(t *testing.T, s ports.UserStore) {
	const n = 50
	u := newUser(t, "victim@example.com", "victim", domain.RoleAuthenticated, epoch)
	mustCreate(t, s, u)
	p := domain.LockoutPolicy{MaxAttempts: 3, Duration: time.Hour, AttemptLease: time.Hour}
	now := epoch.Add(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	var admitted atomic.Int64
	errs := runConcurrently(n, func(int) error {
		for {
			var a domain.LoginAttempt
			err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
				var err error
				a, err = cur.BeginLoginAttempt(now, p)
				return err
			})
			switch {
			case errors.Is(err, domain.ErrAccountLocked):
				return nil
			case errors.Is(err, domain.ErrLoginBusy):
				time.Sleep(time.Millisecond)
				continue
			case err != nil:
				return err
			}
			admitted.Add(1)
			return s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
				_, _ = cur.EndLoginAttempt(a, false, now, p)
				return nil
			})
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("login attempt: %v", err)
		}
	}
	if got := admitted.Load(); got != int64(p.MaxAttempts) {
		t.Errorf("%d attempts admitted, want exactly %d", got, p.MaxAttempts)
	}
	st := mustGet(t, s, u.ID()).State()
	if !st.IsLocked || st.FailedLoginAttempts != p.MaxAttempts || st.LoginsInFlight != 0 {
		t.Errorf("after the attempts: locked %v, failed %d, in flight %d; want true, %d, 0",
			st.IsLocked, st.FailedLoginAttempts, st.LoginsInFlight, p.MaxAttempts)
	}
}

// mfaKey is the suite's TOTP secret.
var mfaKey = []byte("porttest-totp-secret")

// enableMFA turns a second factor on for u, as a confirmed enrolment at now
// does.
func enableMFA(u *domain.User, now time.Time) {
	if err := u.BeginTOTPEnrolment("sealed", now); err != nil {
		panic(err)
	}
	if err := u.ConfirmTOTP(mfaKey, domain.TOTPCode(mfaKey, now), domain.RecoveryCodes{}, "", now); err != nil {
		panic(err)
	}
}

// testWrongCodesUnderConcurrency: second-factor codes admitted, checked and
// decided in one update each; of 20 wrong ones at once exactly MaxAttempts
// are checked and counted, and the account locks.
func testWrongCodesUnderConcurrency(t *testing.T, s ports.UserStore) {
	const n = 20
	u := newUser(t, "codes@example.com", "codes", domain.RoleAuthenticated, epoch)
	enableMFA(u, epoch)
	u.TakeSessionChanges()
	mustCreate(t, s, u)
	p := domain.LockoutPolicy{MaxAttempts: 3, Duration: time.Hour, AttemptLease: time.Hour}
	now := epoch.Add(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	var checked atomic.Int64
	errs := runConcurrently(n, func(int) error {
		var refused error
		// Refusals are saved too: the outcome goes out beside the update.
		err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
			refused = cur.AdmitCodeCheck(now, p)
			if refused == nil {
				_, refused = cur.CheckSecondFactor(mfaKey, "000000", "", true, now)
			}
			if errors.Is(refused, domain.ErrInvalidCode) {
				cur.CountFailedCode(now, p)
			}
			return nil
		})
		if err != nil {
			return err
		}
		switch {
		case errors.Is(refused, domain.ErrInvalidCode):
			checked.Add(1)
		case !errors.Is(refused, domain.ErrAccountLocked):
			return fmt.Errorf("code check: %w", refused)
		}
		return nil
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("code check: %v", err)
		}
	}
	if got := checked.Load(); got != int64(p.MaxAttempts) {
		t.Errorf("%d wrong codes checked, want exactly %d", got, p.MaxAttempts)
	}
	st := mustGet(t, s, u.ID()).State()
	if !st.IsLocked || st.FailedLoginAttempts != p.MaxAttempts {
		t.Errorf("after the codes: locked %v, failed %d; want true, %d", st.IsLocked, st.FailedLoginAttempts, p.MaxAttempts)
	}
}

func testConcurrentUpdatesAllCount(t *testing.T, s ports.UserStore) {
	const n = 50
	u := newUser(t, "counted@example.com", "counted", domain.RoleAuthenticated, epoch)
	mustCreate(t, s, u)
	p := domain.LockoutPolicy{MaxAttempts: 1000, Duration: time.Hour, AttemptLease: time.Hour}
	now := epoch.Add(time.Minute)

	errs := runConcurrently(n, func(int) error {
		return s.UpdateUser(t.Context(), u.ID(), func(cur *domain.User) error {
			a, err := cur.BeginLoginAttempt(now, p)
			if err != nil {
				return err
			}
			_, _ = cur.EndLoginAttempt(a, false, now, p)
			return nil
		})
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
	}
	st := mustGet(t, s, u.ID()).State()
	if st.FailedLoginAttempts != n || st.LoginsInFlight != 0 || st.IsLocked {
		t.Errorf("failed %d, in flight %d, locked %v; want %d, 0, false", st.FailedLoginAttempts, st.LoginsInFlight, st.IsLocked, n)
	}
}

func testAdminCount(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	var admins []*domain.User
	for range 3 {
		a := newUser(t, uniqueNickname("admin")+"@example.com", uniqueNickname("admin"), domain.RoleAdmin, epoch)
		mustCreate(t, s, a)
		admins = append(admins, a)
	}
	m := newUser(t, "manager@example.com", "manager", domain.RoleManager, epoch)
	mustCreate(t, s, m)
	// An invited ADMIN who has not accepted yet does not count.
	invited := newUser(t, "invited.admin@example.com", "invited_admin", domain.RoleAdmin, epoch)
	invited.Invite("invited-admin-hash", epoch.Add(time.Hour))
	mustCreate(t, s, invited)

	seen := func(run func(fn func(*domain.User, int) error) error) int {
		t.Helper()
		got := -1
		if err := run(func(_ *domain.User, n int) error { got = n; return nil }); err != nil {
			t.Fatalf("counting admins: %v", err)
		}
		return got
	}
	if got := seen(func(fn func(*domain.User, int) error) error { return s.UpdateUserCountingAdmins(ctx, m.ID(), fn) }); got != 3 {
		t.Errorf("UpdateUserCountingAdmins saw %d admins, want 3", got)
	}
	if got := seen(func(fn func(*domain.User, int) error) error { return s.DeleteUser(ctx, admins[0].ID(), fn) }); got != 3 {
		t.Errorf("DeleteUser saw %d admins, want 3", got)
	}
	if got := seen(func(fn func(*domain.User, int) error) error {
		return s.UpdateUserCountingAdmins(ctx, admins[1].ID(), func(u *domain.User, n int) error {
			u.SetRole(domain.RoleManager, epoch.Add(time.Minute))
			return fn(u, n)
		})
	}); got != 2 {
		t.Errorf("UpdateUserCountingAdmins on an admin saw %d admins, want 2", got)
	}
	if got := seen(func(fn func(*domain.User, int) error) error { return s.UpdateUserCountingAdmins(ctx, m.ID(), fn) }); got != 1 {
		t.Errorf("after a delete and a demotion, UpdateUserCountingAdmins saw %d admins, want 1", got)
	}
}

func testLastAdminRace(t *testing.T, s ports.UserStore) {
	ctx := t.Context()
	now := epoch.Add(time.Minute)
	demote := func(id string) error {
		return s.UpdateUserCountingAdmins(ctx, id, func(u *domain.User, admins int) error {
			if err := domain.CheckAdminRemains(u, domain.RoleManager, admins); err != nil {
				return err
			}
			u.SetRole(domain.RoleManager, now)
			return nil
		})
	}
	remove := func(id string) error {
		return s.DeleteUser(ctx, id, func(u *domain.User, admins int) error {
			return domain.CheckAdminRemains(u, domain.Role{}, admins)
		})
	}
	ops := [][2]func(string) error{{demote, demote}, {remove, remove}, {demote, remove}, {remove, demote}}

	for round := range 8 {
		pair := [2]*domain.User{}
		for i := range pair {
			pair[i] = newUser(t, uniqueNickname("adm")+"@example.com", uniqueNickname("adm"), domain.RoleAdmin, epoch)
			mustCreate(t, s, pair[i])
		}
		op := ops[round%len(ops)]
		errs := runConcurrently(2, func(i int) error { return op[i](pair[i].ID()) })
		assertOneWinner(t, errs, domain.ErrLastAdmin)

		users, _, err := s.ListUsers(ctx, ports.UserQuery{Limit: 1000})
		if err != nil {
			t.Fatalf("ListUsers: %v", err)
		}
		var left []*domain.User
		for _, u := range users {
			if u.Role() == domain.RoleAdmin {
				left = append(left, u)
			}
		}
		if len(left) != 1 {
			t.Fatalf("round %d: %d admins left, want exactly 1", round, len(left))
		}
		// Demote the survivor without the check, so the next round starts at zero.
		if err := s.UpdateUser(ctx, left[0].ID(), func(u *domain.User) error { u.SetRole(domain.RoleManager, now); return nil }); err != nil {
			t.Fatalf("UpdateUser: %v", err)
		}
	}
}

func testCancelledContext(t *testing.T, s ports.UserStore) {
	u := newUser(t, "cancel@example.com", "canceller", domain.RoleAdmin, epoch)
	mustCreate(t, s, u)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	check := func(method string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a cancelled context succeeded", method)
		} else if errors.Is(err, domain.ErrUserNotFound) {
			t.Errorf("%s with a cancelled context: error = %v, must not be ErrUserNotFound", method, err)
		}
	}
	other := newUser(t, "other@example.com", "other", domain.RoleAnonymous, epoch)
	check("CreateUser", s.CreateUser(ctx, other))
	_, err := s.UserByID(ctx, u.ID())
	check("UserByID", err)
	_, err = s.UserByEmail(ctx, u.Email())
	check("UserByEmail", err)
	_, err = s.UserByToken(ctx, ports.TokenPasswordReset, "any-hash")
	check("UserByToken", err)
	_, _, err = s.ListUsers(ctx, ports.UserQuery{Limit: 10})
	check("ListUsers", err)
	called := false
	check("UpdateUser", s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		called = true
		cur.SetRole(domain.RoleManager, epoch)
		return nil
	}))
	check("UpdateUserByEmail", s.UpdateUserByEmail(ctx, u.Email(), func(cur *domain.User) error {
		called = true
		cur.SetRole(domain.RoleManager, epoch)
		return nil
	}))
	check("UpdateUserCountingAdmins", s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error {
		called = true
		cur.SetRole(domain.RoleManager, epoch)
		return nil
	}))
	check("DeleteUser", s.DeleteUser(ctx, u.ID(), func(*domain.User, int) error { called = true; return nil }))
	if called {
		t.Error("a closure ran under a cancelled context")
	}
	assertUser(t, s, u.State())
	if _, err := s.UserByID(t.Context(), other.ID()); !errors.Is(err, domain.ErrUserNotFound) {
		t.Errorf("user created under a cancelled context: UserByID error = %v, want ErrUserNotFound", err)
	}
}

// newUser builds a valid user with a fresh id.
func newUser(tb testing.TB, email, nickname string, role domain.Role, now time.Time) *domain.User {
	tb.Helper()
	u, err := domain.NewUser(domain.NewUserParams{
		ID:           uuid.NewString(),
		Email:        email,
		Nickname:     nickname,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
		Role:         role,
		Now:          now,
	})
	if err != nil {
		tb.Fatalf("NewUser(%q, %q): %v", email, nickname, err)
	}
	return u
}

// uniqueNickname returns a valid nickname no other call returns.
func uniqueNickname(prefix string) string {
	return prefix + "_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
}

func mustCreate(tb testing.TB, s ports.UserStore, u *domain.User) {
	tb.Helper()
	if err := s.CreateUser(context.Background(), u); err != nil {
		tb.Fatalf("CreateUser(%s): %v", u.Email(), err)
	}
}

func mustGet(tb testing.TB, s ports.UserStore, id string) *domain.User {
	tb.Helper()
	u, err := s.UserByID(context.Background(), id)
	if err != nil {
		tb.Fatalf("UserByID(%s): %v", id, err)
	}
	return u
}

// replace overwrites every field of a stored user through UpdateUser.
func replace(tb testing.TB, s ports.UserStore, id string, st domain.UserState) {
	tb.Helper()
	if err := s.UpdateUser(context.Background(), id, func(u *domain.User) error {
		*u = *domain.RehydrateUser(st)
		return nil
	}); err != nil {
		tb.Fatalf("UpdateUser: %v", err)
	}
}

// assertUser checks the stored state of want.ID and returns it.
func assertUser(tb testing.TB, s ports.UserStore, want domain.UserState) domain.UserState {
	tb.Helper()
	got := mustGet(tb, s, want.ID).State()
	assertSameState(tb, got, want)
	return got
}

// assertSameState compares states with times at microsecond precision, and
// requires stored times to come back in UTC.
func assertSameState(tb testing.TB, got, want domain.UserState) {
	tb.Helper()
	for _, tm := range timesOf(&got) {
		if !tm.IsZero() && tm.Location() != time.UTC {
			tb.Errorf("user %s: time %v is not in UTC", got.ID, *tm)
		}
	}
	opts := gocmp.Options{
		gocmp.Comparer(func(a, b domain.Role) bool { return a == b }),
		gocmp.Comparer(func(a, b time.Time) bool {
			return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
		}),
	}
	if diff := gocmp.Diff(want, got, opts); diff != "" {
		tb.Errorf("user %s state (-want +got):\n%s", want.ID, diff)
	}
}

func timesOf(st *domain.UserState) []*time.Time {
	return []*time.Time{
		&st.ProfessionalStatusUpdatedAt, &st.VerificationExpiresAt, &st.ResetExpiresAt, &st.LoginLeaseUntil,
		&st.LockedAt, &st.LastLoginAt, &st.CreatedAt, &st.UpdatedAt, &st.UnlockExpiresAt,
		&st.EmailChangeExpiresAt, &st.InvitationExpiresAt,
	}
}

func assertCount(tb testing.TB, s ports.UserStore, want int) {
	tb.Helper()
	_, total, err := s.ListUsers(context.Background(), ports.UserQuery{WithTotal: true})
	if err != nil {
		tb.Fatalf("ListUsers: %v", err)
	}
	if total != want {
		tb.Errorf("store holds %d users, want %d", total, want)
	}
}

// runConcurrently calls fn(0..n-1) from n goroutines released together.
func runConcurrently(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// assertOneWinner requires exactly one nil error and every other to be loser.
func assertOneWinner(tb testing.TB, errs []error, loser error) {
	tb.Helper()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, loser):
			tb.Errorf("unexpected error %v, want nil or %v", err, loser)
		}
	}
	if wins != 1 {
		tb.Errorf("%d of %d calls succeeded, want exactly 1", wins, len(errs))
	}
}

func ids(states []domain.UserState) []string {
	out := make([]string, 0, len(states))
	for _, st := range states {
		out = append(out, st.ID)
	}
	return out
}

func userIDs(users []*domain.User) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		out = append(out, u.ID())
	}
	return out
}
