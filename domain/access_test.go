package domain_test

import (
	"errors"
	"testing"

	"github.com/usersvc/usersvc/domain"
)

var (
	anonymous     = domain.RoleAnonymous
	authenticated = domain.RoleAuthenticated
	manager       = domain.RoleManager
	admin         = domain.RoleAdmin
	noRole        = domain.Role{}
)

func TestActorCheckAdministers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		role domain.Role
		want error
	}{
		{noRole, domain.ErrNotPermitted},
		{anonymous, domain.ErrNotPermitted},
		{authenticated, domain.ErrNotPermitted},
		{manager, nil},
		{admin, nil},
	}
	for _, tt := range tests {
		if err := (domain.Actor{ID: "a", Role: tt.role}).CheckAdministers(); !errors.Is(err, tt.want) {
			t.Errorf("%q.CheckAdministers() = %v, want %v", tt.role, err, tt.want)
		}
	}
}

func TestActorCheckActsOn(t *testing.T) {
	t.Parallel()
	tests := []struct {
		actor, target domain.Role
		want          error
	}{
		{admin, admin, nil},
		{admin, manager, nil},
		{admin, authenticated, nil},
		{admin, anonymous, nil},
		{manager, admin, domain.ErrNotPermitted},
		{manager, manager, domain.ErrNotPermitted}, // a peer's account could be taken over
		{manager, authenticated, nil},
		{manager, anonymous, nil},
		{authenticated, authenticated, domain.ErrNotPermitted},
		{authenticated, anonymous, domain.ErrNotPermitted},
		{anonymous, anonymous, domain.ErrNotPermitted},
		{noRole, anonymous, domain.ErrNotPermitted},
	}
	for _, tt := range tests {
		t.Run(tt.actor.String()+" on "+tt.target.String(), func(t *testing.T) {
			t.Parallel()
			err := domain.Actor{ID: "a", Role: tt.actor}.CheckActsOn(userWithRole(tt.target))
			if !errors.Is(err, tt.want) { // errors.Is(err, nil) is err == nil
				t.Errorf("CheckActsOn = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestActorCheckChangesRoles(t *testing.T) {
	t.Parallel()
	for _, r := range []domain.Role{noRole, anonymous, authenticated, manager, admin} {
		err := domain.Actor{ID: "a", Role: r}.CheckChangesRoles()
		if r == admin && err != nil || r != admin && !errors.Is(err, domain.ErrNotPermitted) {
			t.Errorf("%q.CheckChangesRoles() = %v", r, err)
		}
	}
}

func TestCheckAdminRemains(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		target  domain.Role
		newRole domain.Role // zero: deletion
		admins  int
		want    error
	}{
		{"demote the last admin", admin, manager, 1, domain.ErrLastAdmin},
		{"demote the last admin to anonymous", admin, anonymous, 1, domain.ErrLastAdmin},
		{"delete the last admin", admin, noRole, 1, domain.ErrLastAdmin},
		{"count of zero is treated as last", admin, manager, 0, domain.ErrLastAdmin},
		{"demote one of two admins", admin, manager, 2, nil},
		{"delete one of two admins", admin, noRole, 2, nil},
		{"keep the last admin an admin", admin, admin, 1, nil},
		{"demote a manager with one admin", manager, authenticated, 1, nil},
		{"delete a user when no admin exists", authenticated, noRole, 0, nil},
		{"promote to admin", authenticated, admin, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := domain.CheckAdminRemains(userWithRole(tt.target), tt.newRole, tt.admins)
			if !errors.Is(err, tt.want) { // errors.Is(err, nil) is err == nil
				t.Errorf("CheckAdminRemains = %v, want %v", err, tt.want)
			}
		})
	}
}
