package domain_test

import (
	"testing"

	"github.com/usersvc/usersvc/domain"
)

func TestCanonicalUserID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"lower-case", "0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4a10", "0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4a10", true},
		{"upper-case is lowered", "0B9F7F3E-5D0E-4C36-9A2B-6F1D3C8E4A10", "0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4a10", true},
		{"nil UUID", "00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", true},
		{"empty", "", "", false},
		{"no hyphens", "0b9f7f3e5d0e4c369a2b6f1d3c8e4a10", "", false},
		{"braces", "{0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4a10}", "", false},
		{"urn", "urn:uuid:0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4a10", "", false},
		{"hyphen misplaced", "0b9f7f3e5-d0e-4c36-9a2b-6f1d3c8e4a10", "", false},
		{"non-hex digit", "0b9f7f3g-5d0e-4c36-9a2b-6f1d3c8e4a10", "", false},
		{"hyphen instead of digit", "0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4a1-", "", false},
		{"one character short", "0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4a1", "", false},
		{"number", "42", "", false},
		{"path traversal", "../../../../../../../../../etc/passwd", "", false},
		{"multi-byte of the right length", "0b9f7f3e-5d0e-4c36-9a2b-6f1d3c8e4aé", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := domain.CanonicalUserID(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("CanonicalUserID(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}
