package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

func TestMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	actor := domain.Actor{ID: u.ID(), Role: u.Role()}
	got, err := e.svc.Me(context.Background(), actor)
	if err != nil {
		t.Fatalf("Me: %v", err)
	}
	if diff := cmp.Diff(u.State(), got.State(), roleEqual); diff != "" {
		t.Errorf("Me mismatch (-want +got):\n%s", diff)
	}
	if err := e.svc.DeleteUser(context.Background(), adminActor, u.ID()); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Me(context.Background(), actor)
	wantErr(t, err, domain.ErrUserNotFound)
}

func TestUpdateMe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	actor := domain.Actor{ID: u.ID(), Role: u.Role()}
	e.clock.Advance(time.Hour)

	got, err := e.svc.UpdateMe(context.Background(), actor, app.UpdateMeInput{
		Nickname: ptr("Alice_2"),
		Profile:  domain.ProfilePatch{FirstName: ptr("Alice"), ProfilePictureURL: ptr("https://cdn.example.com/me.webp")},
	})
	if err != nil {
		t.Fatalf("UpdateMe: %v", err)
	}
	st := e.user(t, u.ID()).State()
	if diff := cmp.Diff(got.State(), st, roleEqual); diff != "" {
		t.Errorf("returned and stored users differ (-returned +stored):\n%s", diff)
	}
	want := domain.Profile{FirstName: "Alice", ProfilePictureURL: "https://cdn.example.com/me.webp"}
	if diff := cmp.Diff(want, st.Profile); diff != "" || st.Nickname != "Alice_2" || !st.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("nickname %q, updated %v, profile (-want +got):\n%s", st.Nickname, st.UpdatedAt, diff)
	}
	if st.Role != u.Role() || st.TokenVersion != u.TokenVersion() || st.Email != u.Email() {
		t.Error("UpdateMe changed more than the profile")
	}

	// Clearing a field with a pointer to "" keeps the others.
	if _, err := e.svc.UpdateMe(context.Background(), actor, app.UpdateMeInput{Profile: domain.ProfilePatch{FirstName: ptr("")}}); err != nil {
		t.Fatalf("UpdateMe(clear): %v", err)
	}
	if p := e.user(t, u.ID()).State().Profile; p.FirstName != "" || p.ProfilePictureURL == "" {
		t.Errorf("profile after clearing first_name: %+v", p)
	}
}

func TestUpdateMeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		in     app.UpdateMeInput
		want   error
		fields []string
	}{
		{"empty input", app.UpdateMeInput{}, nil, []string{""}},
		{"invalid fields together", app.UpdateMeInput{
			Nickname: ptr("bad nick"),
			Profile:  domain.ProfilePatch{ProfilePictureURL: ptr("https://example.com/me.txt"), GitHubProfileURL: ptr("https://evil.com/github.com")},
		}, nil, []string{"nickname", "profile_picture_url", "github_profile_url"}},
		{"taken nickname", app.UpdateMeInput{Nickname: ptr("BOB")}, domain.ErrNicknameTaken, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			u := e.verified(t, "alice@example.com")
			if _, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "bob@example.com", Nickname: "bob", Password: goodPass}); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, e)
			got, err := e.svc.UpdateMe(context.Background(), domain.Actor{ID: u.ID(), Role: u.Role()}, tt.in)
			if tt.fields != nil {
				wantInvalid(t, err, tt.fields...)
			} else {
				wantErr(t, err, tt.want)
			}
			if got != nil {
				t.Errorf("a refused update returned %v", got)
			}
			if diff := cmp.Diff(before, snapshot(t, e), roleEqual); diff != "" {
				t.Errorf("a refused update changed the store (-before +after):\n%s", diff)
			}
		})
	}
}

func TestUpdateMeDeletedUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.svc.UpdateMe(context.Background(), domain.Actor{ID: unknownID, Role: domain.RoleAuthenticated},
		app.UpdateMeInput{Profile: domain.ProfilePatch{Bio: ptr("x")}})
	wantErr(t, err, domain.ErrUserNotFound)
}
