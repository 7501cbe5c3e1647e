package app_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/portmock"
)

const unknownID = "ffffffff-ffff-4fff-bfff-ffffffffffff"

func TestGetUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	manager := e.withRole(t, "manager@example.com", domain.RoleManager)
	u := e.register(t, "alice@example.com")
	tests := []struct {
		name  string
		actor domain.Actor
		id    string
		want  error
	}{
		{"admin", adminActor, u.ID(), nil},
		{"manager", manager, u.ID(), nil},
		{"upper-case id", manager, strings.ToUpper(u.ID()), nil},
		{"authenticated user", nobodyActor, u.ID(), domain.ErrNotPermitted},
		{"non-UUID id", adminActor, "42", domain.ErrUserNotFound},
		{"unknown id", adminActor, unknownID, domain.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := e.svc.GetUser(context.Background(), tt.actor, tt.id)
			wantErr(t, err, tt.want)
			if tt.want == nil && got.ID() != u.ID() {
				t.Errorf("GetUser = %s, want %s", got.ID(), u.ID())
			}
		})
	}
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, e.register(t, fmt.Sprintf("user%d@example.com", i)).ID())
		e.clock.Advance(time.Second)
	}
	tests := []struct {
		name        string
		skip, limit int
		want        []string
	}{
		{"first page", 0, 2, ids[:2]},
		{"middle page", 2, 2, ids[2:4]},
		{"last, short page", 4, 2, ids[4:]},
		{"past the end", 10, 2, nil},
		{"limit 1", 0, 1, ids[:1]},
		{"limit 100", 0, 100, ids},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			page, err := e.svc.ListUsers(context.Background(), adminActor, tt.skip, tt.limit)
			if err != nil {
				t.Fatalf("ListUsers: %v", err)
			}
			var got []string
			for _, u := range page.Users {
				got = append(got, u.ID())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ids mismatch (-want +got):\n%s", diff)
			}
			if page.Total != len(ids) || page.Skip != tt.skip || page.Limit != tt.limit {
				t.Errorf("total %d, skip %d, limit %d; want %d, %d, %d", page.Total, page.Skip, page.Limit, len(ids), tt.skip, tt.limit)
			}
		})
	}
}

func TestListUsersRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := []struct {
		name        string
		actor       domain.Actor
		skip, limit int
		fields      []string // nil: want ErrNotPermitted
	}{
		{"negative skip", adminActor, -1, 10, []string{"skip"}},
		{"limit 0", adminActor, 0, 0, []string{"limit"}},
		{"negative limit", adminActor, 0, -5, []string{"limit"}},
		{"limit 101", adminActor, 0, 101, []string{"limit"}},
		{"both", adminActor, -1, 101, []string{"skip", "limit"}},
		{"not staff", nobodyActor, 0, 10, nil},
		{"not staff, bad paging", nobodyActor, -1, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.ListUsers(context.Background(), tt.actor, tt.skip, tt.limit)
			if tt.fields == nil {
				wantErr(t, err, domain.ErrNotPermitted)
				return
			}
			wantInvalid(t, err, tt.fields...)
		})
	}
}

func TestListUsersStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.store = &portmock.UserStoreMock{ListUsersFunc: func(context.Context, ports.UserQuery) ([]*domain.User, int, error) { return nil, 0, errBoom }}
	})
	_, err := e.svc.ListUsers(context.Background(), adminActor, 0, 10)
	wantErr(t, err, errBoom)
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	manager := e.withRole(t, "manager@example.com", domain.RoleManager)
	u := e.verified(t, "alice@example.com")
	later := t0.Add(time.Hour)
	e.clock.Advance(time.Hour)

	got, err := e.svc.UpdateUser(context.Background(), manager, u.ID(), app.UpdateUserInput{
		Email:    ptr(" Alice.Smith@Example.com "),
		Nickname: ptr("alice_s"),
		Profile:  domain.ProfilePatch{Bio: ptr("hello"), GitHubProfileURL: ptr("https://github.com/alice")},
	})
	if err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	st := e.user(t, u.ID()).State()
	if diff := cmp.Diff(got.State(), st, roleEqual); diff != "" {
		t.Errorf("returned and stored users differ (-returned +stored):\n%s", diff)
	}
	if st.Email != "alice.smith@example.com" || st.Nickname != "alice_s" || st.Profile.Bio != "hello" ||
		st.Profile.GitHubProfileURL != "https://github.com/alice" || !st.UpdatedAt.Equal(later) {
		t.Errorf("stored %+v", st)
	}
	if st.Role != domain.RoleAuthenticated || st.TokenVersion != u.TokenVersion() {
		t.Errorf("an update without role changed role %v or token version %d", st.Role, st.TokenVersion)
	}

	// Role change by an ADMIN ends the user's sessions.
	got, err = e.svc.UpdateUser(context.Background(), admin, u.ID(), app.UpdateUserInput{Role: &domain.RoleManager})
	if err != nil {
		t.Fatalf("UpdateUser(role): %v", err)
	}
	if got.Role() != domain.RoleManager || e.user(t, u.ID()).TokenVersion() != u.TokenVersion()+1 {
		t.Errorf("role %v, token version %d; want MANAGER, %d", got.Role(), e.user(t, u.ID()).TokenVersion(), u.TokenVersion()+1)
	}
	if e.user(t, u.ID()).State().Profile.Bio != "hello" {
		t.Error("a role change touched the profile")
	}
}

func TestUpdateUserRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		actor  string // "admin", "manager", "user"
		target string // "admin", "user", "other", "unknown", "bad"
		in     app.UpdateUserInput
		want   error
		fields []string // a validation error on these fields
	}{
		{"empty input", "admin", "user", app.UpdateUserInput{}, nil, []string{""}},
		{"empty input from a manager", "manager", "user", app.UpdateUserInput{}, nil, []string{""}},
		{"invalid fields together", "admin", "user", app.UpdateUserInput{
			Email: ptr("nope"), Nickname: ptr("a"),
			Profile: domain.ProfilePatch{LinkedInProfileURL: ptr("https://notlinkedin.com/x"), Bio: ptr(strings.Repeat("b", 501))},
		}, nil, []string{"email", "nickname", "bio", "linkedin_profile_url"}},
		{"zero role", "admin", "user", app.UpdateUserInput{Role: &domain.Role{}}, nil, []string{"role"}},
		{"manager on admin", "manager", "admin", app.UpdateUserInput{Profile: domain.ProfilePatch{Bio: ptr("x")}}, domain.ErrNotPermitted, nil},
		{"manager sets a role", "manager", "user", app.UpdateUserInput{Role: &domain.RoleAuthenticated}, domain.ErrNotPermitted, nil},
		{"user updates another", "user", "other", app.UpdateUserInput{Profile: domain.ProfilePatch{Bio: ptr("x")}}, domain.ErrNotPermitted, nil},
		{"duplicate email", "admin", "user", app.UpdateUserInput{Email: ptr("OTHER@example.com")}, domain.ErrEmailTaken, nil},
		{"duplicate nickname", "admin", "user", app.UpdateUserInput{Nickname: ptr("Other")}, domain.ErrNicknameTaken, nil},
		{"demote the last admin", "admin", "admin", app.UpdateUserInput{Role: &domain.RoleManager}, domain.ErrLastAdmin, nil},
		{"demote the last admin with other changes", "admin", "admin", app.UpdateUserInput{Role: &domain.RoleAuthenticated, Profile: domain.ProfilePatch{Bio: ptr("x")}}, domain.ErrLastAdmin, nil},
		{"role change and duplicate email", "admin", "user", app.UpdateUserInput{Role: &domain.RoleManager, Email: ptr("other@example.com")}, domain.ErrEmailTaken, nil},
		{"non-UUID id", "admin", "bad", app.UpdateUserInput{Profile: domain.ProfilePatch{Bio: ptr("x")}}, domain.ErrUserNotFound, nil},
		{"unknown id", "admin", "unknown", app.UpdateUserInput{Profile: domain.ProfilePatch{Bio: ptr("x")}}, domain.ErrUserNotFound, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			actors := map[string]domain.Actor{
				"admin":   e.admin(t, "root@example.com"),
				"manager": e.withRole(t, "manager@example.com", domain.RoleManager),
				"user":    e.withRole(t, "user@example.com", domain.RoleAuthenticated),
			}
			other, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "other@example.com", Nickname: "other", Password: goodPass})
			if err != nil {
				t.Fatal(err)
			}
			targets := map[string]string{
				"admin": actors["admin"].ID, "user": actors["user"].ID, "other": other.ID(),
				"unknown": unknownID, "bad": "not-a-uuid",
			}
			before := snapshot(t, e)
			u, err := e.svc.UpdateUser(context.Background(), actors[tt.actor], targets[tt.target], tt.in)
			if tt.fields != nil {
				wantInvalid(t, err, tt.fields...)
			} else {
				wantErr(t, err, tt.want)
			}
			if u != nil {
				t.Errorf("a refused update returned %v", u)
			}
			if diff := cmp.Diff(before, snapshot(t, e), roleEqual); diff != "" {
				t.Errorf("a refused update changed the store (-before +after):\n%s", diff)
			}
		})
	}
}

func TestUpdateUserDemotesOneOfTwoAdmins(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := e.admin(t, "root@example.com")
	second := e.admin(t, "second@example.com")
	if _, err := e.svc.UpdateUser(context.Background(), root, second.ID, app.UpdateUserInput{Role: &domain.RoleManager}); err != nil {
		t.Fatalf("demoting one of two admins: %v", err)
	}
	_, err := e.svc.UpdateUser(context.Background(), root, root.ID, app.UpdateUserInput{Role: &domain.RoleManager})
	wantErr(t, err, domain.ErrLastAdmin)
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		actor  string // "admin", "manager", "user"
		target string // "admin", "second", "user", "unknown", "bad"
		admins int    // ADMINs before the test
		want   error
	}{
		{"admin deletes a user", "admin", "user", 1, nil},
		{"manager deletes a user", "manager", "user", 1, nil},
		{"admin deletes one of two admins", "admin", "second", 2, nil},
		{"admin deletes itself with another admin", "admin", "admin", 2, nil},
		{"last admin", "admin", "admin", 1, domain.ErrLastAdmin},
		{"manager deletes an admin", "manager", "second", 2, domain.ErrNotPermitted},
		{"manager deletes the last admin", "manager", "admin", 1, domain.ErrNotPermitted},
		{"user deletes a user", "user", "user", 1, domain.ErrNotPermitted},
		{"non-UUID id", "admin", "bad", 1, domain.ErrUserNotFound},
		{"unknown id", "admin", "unknown", 1, domain.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			actors := map[string]domain.Actor{
				"admin":   e.admin(t, "root@example.com"),
				"manager": e.withRole(t, "manager@example.com", domain.RoleManager),
				"user":    e.withRole(t, "user@example.com", domain.RoleAuthenticated),
			}
			targets := map[string]string{
				"admin": actors["admin"].ID, "user": actors["user"].ID, "unknown": unknownID, "bad": "../admin",
			}
			if tt.admins == 2 {
				targets["second"] = e.admin(t, "second@example.com").ID
			}
			before := snapshot(t, e)
			err := e.svc.DeleteUser(context.Background(), actors[tt.actor], targets[tt.target])
			wantErr(t, err, tt.want)
			if tt.want != nil {
				if diff := cmp.Diff(before, snapshot(t, e), roleEqual); diff != "" {
					t.Errorf("a refused delete changed the store (-before +after):\n%s", diff)
				}
				return
			}
			_, err = e.svc.GetUser(context.Background(), adminActor, targets[tt.target])
			wantErr(t, err, domain.ErrUserNotFound)
			if got := len(snapshot(t, e)); got != len(before)-1 {
				t.Errorf("%d users left, want %d", got, len(before)-1)
			}
		})
	}
}

func TestUpgradeToProfessional(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	manager := e.withRole(t, "manager@example.com", domain.RoleManager)
	u := e.verified(t, "alice@example.com")
	first := t0.Add(time.Hour)
	e.clock.Advance(time.Hour)

	got, err := e.svc.UpgradeToProfessional(context.Background(), manager, u.ID())
	if err != nil {
		t.Fatalf("UpgradeToProfessional: %v", err)
	}
	st := got.State()
	if !st.IsProfessional || !st.ProfessionalStatusUpdatedAt.Equal(first) {
		t.Errorf("professional %v at %v, want true at %v", st.IsProfessional, st.ProfessionalStatusUpdatedAt, first)
	}
	want := []domain.Message{{Kind: domain.MessageProfessional, To: "alice@example.com", Name: u.Nickname(), Link: baseURL}}
	if diff := cmp.Diff(want, e.sentTo("alice@example.com", domain.MessageProfessional)); diff != "" {
		t.Errorf("mail mismatch (-want +got):\n%s", diff)
	}

	e.clock.Advance(time.Hour)
	got, err = e.svc.UpgradeToProfessional(context.Background(), manager, u.ID())
	if err != nil {
		t.Fatalf("second UpgradeToProfessional: %v", err)
	}
	if !got.State().ProfessionalStatusUpdatedAt.Equal(first) || !e.user(t, u.ID()).State().ProfessionalStatusUpdatedAt.Equal(first) {
		t.Errorf("the second upgrade moved the timestamp to %v", got.State().ProfessionalStatusUpdatedAt)
	}
	if n := len(e.sentTo("alice@example.com", domain.MessageProfessional)); n != 1 {
		t.Errorf("%d upgrade mails, want 1", n)
	}
}

func TestUpgradeToProfessionalMailerFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	e.mailer.SendFunc = func(context.Context, domain.Message) error { return errBoom }
	if _, err := e.svc.UpgradeToProfessional(context.Background(), adminActor, u.ID()); err != nil {
		t.Fatalf("UpgradeToProfessional with a failing mailer: %v", err)
	}
	if !e.user(t, u.ID()).State().IsProfessional {
		t.Error("the upgrade was not saved")
	}
}

// staffRefusals are the failures every staff-only action on one user shares.
func staffRefusals(t *testing.T, act func(e *env, actor domain.Actor, id string) (*domain.User, error)) {
	t.Helper()
	tests := []struct {
		name   string
		actor  string
		target string
		want   error
	}{
		{"manager on admin", "manager", "admin", domain.ErrNotPermitted},
		{"user", "user", "other", domain.ErrNotPermitted},
		{"anonymous", "anonymous", "other", domain.ErrNotPermitted},
		{"non-UUID id", "admin", "bad", domain.ErrUserNotFound},
		{"unknown id", "admin", "unknown", domain.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			actors := map[string]domain.Actor{
				"admin":     e.admin(t, "root@example.com"),
				"manager":   e.withRole(t, "manager@example.com", domain.RoleManager),
				"user":      e.withRole(t, "user@example.com", domain.RoleAuthenticated),
				"anonymous": {ID: e.register(t, "anon@example.com").ID(), Role: domain.RoleAnonymous},
			}
			targets := map[string]string{
				"admin": actors["admin"].ID, "other": e.verified(t, "other@example.com").ID(),
				"unknown": unknownID, "bad": "",
			}
			before := snapshot(t, e)
			mails := len(e.sent())
			u, err := act(e, actors[tt.actor], targets[tt.target])
			wantErr(t, err, tt.want)
			if u != nil {
				t.Errorf("a refused action returned %v", u)
			}
			if diff := cmp.Diff(before, snapshot(t, e), roleEqual); diff != "" {
				t.Errorf("a refused action changed the store (-before +after):\n%s", diff)
			}
			if len(e.sent()) != mails {
				t.Error("a refused action sent mail")
			}
		})
	}
}

func TestUpgradeToProfessionalRefuses(t *testing.T) {
	t.Parallel()
	staffRefusals(t, func(e *env, actor domain.Actor, id string) (*domain.User, error) {
		return e.svc.UpgradeToProfessional(context.Background(), actor, id)
	})
}

func TestUnlock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	manager := e.withRole(t, "manager@example.com", domain.RoleManager)
	u := e.verified(t, "alice@example.com")
	lockAccount(t, e, "alice@example.com")

	got, err := e.svc.Unlock(context.Background(), manager, u.ID())
	if err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if st := e.user(t, u.ID()).State(); st.IsLocked || st.FailedLoginAttempts != 0 || got.IsLocked() {
		t.Errorf("after Unlock: locked %v, count %d", st.IsLocked, st.FailedLoginAttempts)
	}
	if _, err := e.login("alice@example.com", goodPass); err != nil {
		t.Errorf("Login after Unlock: %v", err)
	}
	// Unlocking an account that is not locked is harmless.
	if _, err := e.svc.Unlock(context.Background(), manager, u.ID()); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
}

func TestUnlockRefuses(t *testing.T) {
	t.Parallel()
	staffRefusals(t, func(e *env, actor domain.Actor, id string) (*domain.User, error) {
		return e.svc.Unlock(context.Background(), actor, id)
	})
}

func TestChangeRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	u := e.verified(t, "alice@example.com")
	for _, r := range []domain.Role{domain.RoleManager, domain.RoleAdmin, domain.RoleAnonymous} {
		got, err := e.svc.ChangeRole(context.Background(), admin, u.ID(), r)
		if err != nil {
			t.Fatalf("ChangeRole(%v): %v", r, err)
		}
		if got.Role() != r || e.user(t, u.ID()).Role() != r {
			t.Errorf("role = %v, want %v", got.Role(), r)
		}
	}
}

func TestChangeRoleRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		actor  string
		target string
		role   domain.Role
		want   error
	}{
		{"manager", "manager", "user", domain.RoleManager, domain.ErrNotPermitted},
		{"manager promotes itself", "manager", "manager", domain.RoleAdmin, domain.ErrNotPermitted},
		{"user promotes itself", "user", "user", domain.RoleAdmin, domain.ErrNotPermitted},
		{"last admin", "admin", "admin", domain.RoleAuthenticated, domain.ErrLastAdmin},
		{"zero role", "admin", "user", domain.Role{}, domain.ErrInvalid},
		{"non-UUID id", "admin", "bad", domain.RoleManager, domain.ErrUserNotFound},
		{"unknown id", "admin", "unknown", domain.RoleManager, domain.ErrUserNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			actors := map[string]domain.Actor{
				"admin":   e.admin(t, "root@example.com"),
				"manager": e.withRole(t, "manager@example.com", domain.RoleManager),
				"user":    e.withRole(t, "user@example.com", domain.RoleAuthenticated),
			}
			targets := map[string]string{
				"admin": actors["admin"].ID, "manager": actors["manager"].ID, "user": actors["user"].ID,
				"unknown": unknownID, "bad": "x",
			}
			before := snapshot(t, e)
			_, err := e.svc.ChangeRole(context.Background(), actors[tt.actor], targets[tt.target], tt.role)
			wantErr(t, err, tt.want)
			if diff := cmp.Diff(before, snapshot(t, e), roleEqual); diff != "" {
				t.Errorf("a refused role change changed the store (-before +after):\n%s", diff)
			}
		})
	}
}

// snapshot returns the state of every stored user, oldest first.
func snapshot(tb testing.TB, e *env) []domain.UserState {
	tb.Helper()
	users, _, err := e.mem.ListUsers(context.Background(), ports.UserQuery{Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]domain.UserState, len(users))
	for i, u := range users {
		out[i] = u.State()
	}
	return out
}
