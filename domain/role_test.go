package domain_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/domain"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	valid := []struct {
		in   string
		want domain.Role
	}{
		{"ANONYMOUS", domain.RoleAnonymous},
		{"AUTHENTICATED", domain.RoleAuthenticated},
		{"MANAGER", domain.RoleManager},
		{"ADMIN", domain.RoleAdmin},
	}
	for _, tt := range valid {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseRole(tt.in)
			if err != nil {
				t.Fatalf("ParseRole(%q): %v", tt.in, err)
			}
			if got != tt.want || got.String() != tt.in || got.IsZero() {
				t.Errorf("ParseRole(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
	for _, in := range []string{"", "admin", "Admin", " ADMIN", "ADMIN ", "SUPERUSER", "USER"} {
		t.Run("reject "+in, func(t *testing.T) {
			t.Parallel()
			got, err := domain.ParseRole(in)
			wantCode(t, err, "role", domain.CodeNotOneOf)
			if !got.IsZero() {
				t.Errorf("ParseRole(%q) = %v, want the zero Role", in, got)
			}
		})
	}
}

func TestParseRoleTruncatesLongInput(t *testing.T) {
	t.Parallel()
	_, err := domain.ParseRole(strings.Repeat("x", 10_000))
	if err == nil {
		t.Fatal("ParseRole accepted a long string")
	}
	if n := utf8.RuneCountInString(err.Error()); n > 200 {
		t.Errorf("error message has %d characters; a long input must be truncated", n)
	}
}

func TestRoles(t *testing.T) {
	t.Parallel()
	want := []domain.Role{domain.RoleAnonymous, domain.RoleAuthenticated, domain.RoleManager, domain.RoleAdmin}
	if diff := cmp.Diff(want, domain.Roles(), cmp.Comparer(func(a, b domain.Role) bool { return a == b })); diff != "" {
		t.Errorf("Roles() mismatch (-want +got):\n%s", diff)
	}
	staff := map[domain.Role]bool{domain.RoleManager: true, domain.RoleAdmin: true}
	for _, r := range append(domain.Roles(), domain.Role{}) {
		if r.IsStaff() != staff[r] {
			t.Errorf("%q.IsStaff() = %v, want %v", r, r.IsStaff(), staff[r])
		}
	}
	if !(domain.Role{}).IsZero() || (domain.Role{}).String() != "" {
		t.Error("the zero Role must be zero and named \"\"")
	}
}
