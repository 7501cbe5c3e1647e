package domain

import "fmt"

// Role is a user's role. It is a struct so code outside the package cannot
// invent one; the zero Role is invalid.
type Role struct{ name string }

// The roles, lowest to highest privilege.
var (
	RoleAnonymous     = Role{"ANONYMOUS"}
	RoleAuthenticated = Role{"AUTHENTICATED"}
	RoleManager       = Role{"MANAGER"}
	RoleAdmin         = Role{"ADMIN"}
)

// Roles lists every valid role.
func Roles() []Role { return []Role{RoleAnonymous, RoleAuthenticated, RoleManager, RoleAdmin} }

// ParseRole accepts a role's exact name.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if r.name == s {
			return r, nil
		}
	}
	return Role{}, FieldInvalid("role", "enum", fmt.Sprintf("Input should be 'ANONYMOUS', 'AUTHENTICATED', 'MANAGER' or 'ADMIN', got %q", truncate(s, 40)))
}

func (r Role) String() string { return r.name }

// IsZero reports whether r is the invalid zero Role.
func (r Role) IsZero() bool { return r.name == "" }

// IsStaff reports whether r may administer users (ADMIN or MANAGER).
func (r Role) IsStaff() bool { return r == RoleAdmin || r == RoleManager }

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
