package domain

// Actor is the authenticated caller of a use case, passed explicitly.
type Actor struct {
	ID        string
	Role      Role
	SessionID string // the session the caller's token belongs to
	// User is the caller's account as authentication read it, when it did:
	// a use case that only shows it needs no second read.
	User *User
}

// CheckAdministers fails unless the actor may administer users at all.
func (a Actor) CheckAdministers() error {
	if !a.Role.IsStaff() {
		return ErrNotPermitted
	}
	return nil
}

// CheckActsOn fails unless the actor may update, delete, lock, unlock,
// upgrade or end the sessions of target: staff only, and a MANAGER acts only
// on ANONYMOUS and AUTHENTICATED accounts, never on an ADMIN nor on another
// MANAGER (who could otherwise take a peer's account over).
func (a Actor) CheckActsOn(target *User) error {
	if err := a.CheckAdministers(); err != nil {
		return err
	}
	if a.Role != RoleAdmin && target.Role().IsStaff() {
		return ErrNotPermitted
	}
	return nil
}

// CheckChangesRoles fails unless the actor may assign roles (ADMIN only).
func (a Actor) CheckChangesRoles() error {
	if a.Role != RoleAdmin {
		return ErrNotPermitted
	}
	return nil
}

// CheckAdminRemains fails when taking target out of the ADMIN role (by
// demotion to newRole, or deletion when newRole is the zero Role) would leave
// no ADMIN. admins is the current number of ADMINs who can log in, target
// included if it is one: an invited ADMIN who has not accepted yet does not
// count (nobody may be able to accept), and removing one leaves the others.
func CheckAdminRemains(target *User, newRole Role, admins int) error {
	if target.Role() == RoleAdmin && !target.InvitationPending() && newRole != RoleAdmin && admins <= 1 {
		return ErrLastAdmin
	}
	return nil
}
