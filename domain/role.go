package domain

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

// RoleNames lists the names of every valid role, lowest privilege first.
func RoleNames() []string {
	names := make([]string, 0, len(Roles()))
	for _, r := range Roles() {
		names = append(names, r.name)
	}
	return names
}

// ParseRole accepts a role's exact name. It fails with a CodeNotOneOf
// ValidationError on "role" that echoes s.
func ParseRole(s string) (Role, error) {
	for _, r := range Roles() {
		if r.name == s {
			return r, nil
		}
	}
	return Role{}, FieldInvalid(FieldError{Field: "role", Code: CodeNotOneOf, Values: RoleNames(), Got: s})
}

func (r Role) String() string { return r.name }

// IsZero reports whether r is the invalid zero Role.
func (r Role) IsZero() bool { return r.name == "" }

// IsStaff reports whether r may administer users (ADMIN or MANAGER).
func (r Role) IsStaff() bool { return r == RoleAdmin || r == RoleManager }
