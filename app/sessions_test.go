package app_test

import (
	"context"
	"errors"
	"testing"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// ids lists the ids of sessions, in order.
func sessionIDs(list []app.SessionInfo) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.ID
	}
	return out
}

func TestListAndEndMySessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	var actors []domain.Actor
	for range 3 {
		actors = append(actors, e.actorOf(t, e.session(t, "alice@example.com", goodPass).AccessToken))
		e.clock.Advance(1)
	}
	me := actors[2]

	list, err := e.svc.ListMySessions(ctx, me)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{actors[2].SessionID, actors[1].SessionID, actors[0].SessionID}
	if got := sessionIDs(list); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("sessions %v, want newest first %v", got, want)
	}
	for i, s := range list {
		if s.Current != (i == 0) {
			t.Errorf("session %d current = %v", i, s.Current)
		}
	}

	e.verified(t, "bob@example.com")
	bobActor := e.actorOf(t, e.session(t, "bob@example.com", goodPass).AccessToken)
	for _, id := range []string{bobActor.SessionID, "00000000-0000-4000-8000-999999999999", "not-an-id", ""} {
		wantErr(t, e.svc.EndMySession(ctx, me, id), domain.ErrSessionNotFound)
	}
	if !e.sessionAlive(t, bobActor.SessionID) {
		t.Error("another user's session ended")
	}

	wantErr(t, e.svc.EndMySession(ctx, me, actors[0].SessionID), nil)
	if e.sessionAlive(t, actors[0].SessionID) {
		t.Error("the session did not end")
	}
	wantErr(t, e.svc.EndMySession(ctx, me, actors[0].SessionID), domain.ErrSessionNotFound) // over
	if list, _ := e.svc.ListMySessions(ctx, me); len(list) != 2 {
		t.Errorf("%d sessions listed after ending one, want 2", len(list))
	}

	wantErr(t, e.svc.EndMyOtherSessions(ctx, me), nil)
	if e.sessionAlive(t, actors[1].SessionID) || !e.sessionAlive(t, me.SessionID) {
		t.Error("EndMyOtherSessions: the other session lives or the caller's ended")
	}
	if list, _ := e.svc.ListMySessions(ctx, me); len(list) != 1 || !list[0].Current {
		t.Errorf("sessions %+v, want the caller's alone", list)
	}
	if !e.sessionAlive(t, bobActor.SessionID) {
		t.Error("another user's session ended")
	}
	events := e.events(t, domain.EventSessionEnded)
	if len(events) != 2 || events[0].ActorID != me.ID || events[0].TargetID != me.ID {
		t.Errorf("audit events %+v, want two by the owner", events)
	}
}

func TestStaffSessions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	admin.SessionID = e.actorOf(t, e.session(t, "root@example.com", goodPass).AccessToken).SessionID
	mgr := e.withRole(t, "mgr@example.com", domain.RoleManager)
	peer := e.withRole(t, "peer@example.com", domain.RoleManager)
	anon := e.withRole(t, "anon@example.com", domain.RoleAnonymous)
	user := e.verified(t, "user@example.com")
	e.session(t, "user@example.com", goodPass)
	e.session(t, "user@example.com", goodPass)
	userActor := domain.Actor{ID: user.ID(), Role: domain.RoleAuthenticated}

	cases := []struct {
		name   string
		actor  domain.Actor
		target string
		want   error
	}{
		{"ADMIN on a user", admin, user.ID(), nil},
		{"ADMIN on a MANAGER", admin, mgr.ID, nil},
		{"ADMIN on itself", admin, admin.ID, nil},
		{"MANAGER on a user", mgr, user.ID(), nil},
		{"MANAGER on an ANONYMOUS", mgr, anon.ID, nil},
		{"MANAGER on a peer", mgr, peer.ID, domain.ErrNotPermitted},
		{"MANAGER on an ADMIN", mgr, admin.ID, domain.ErrNotPermitted},
		{"MANAGER on itself", mgr, mgr.ID, domain.ErrNotPermitted},
		{"a user on a user", userActor, user.ID(), domain.ErrNotPermitted},
		{"an unknown user", admin, "00000000-0000-4000-8000-999999999999", domain.ErrUserNotFound},
		{"a malformed id", admin, "me", domain.ErrUserNotFound},
	}
	for _, tc := range cases {
		list, err := e.svc.ListUserSessions(ctx, tc.actor, tc.target)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: ListUserSessions error %v, want %v", tc.name, err, tc.want)
		}
		for _, s := range list {
			if s.Current {
				t.Errorf("%s: a session is current in staff's view", tc.name)
			}
		}
	}
	list, _ := e.svc.ListUserSessions(ctx, mgr, user.ID())
	if len(list) != 2 {
		t.Fatalf("%d sessions of the user, want 2", len(list))
	}
	for _, tc := range cases {
		if tc.want == nil {
			continue
		}
		wantErr(t, e.svc.EndUserSessions(ctx, tc.actor, tc.target), tc.want)
	}
	if l, _ := e.svc.ListUserSessions(ctx, admin, user.ID()); len(l) != 2 {
		t.Error("a refused EndUserSessions ended sessions")
	}
	wantErr(t, e.svc.EndUserSessions(ctx, mgr, user.ID()), nil)
	for _, s := range list {
		if e.sessionAlive(t, s.ID) {
			t.Errorf("session %s lives on", s.ID)
		}
	}
	if !e.sessionAlive(t, admin.SessionID) {
		t.Error("the ADMIN's session ended")
	}
	events := e.events(t, domain.EventSessionEnded)
	if len(events) != 1 || events[0].ActorID != mgr.ID || events[0].TargetID != user.ID() {
		t.Errorf("audit events %+v, want one by the MANAGER about the user", events)
	}
	// The user logs in again: the password stays.
	e.session(t, "user@example.com", goodPass)
}
