package domain

import "strings"

// CanonicalUserID returns a user id in its canonical form (lower-case UUID,
// 8-4-4-4-12 hex digits) and whether s is one at all. Anything that is not a
// UUID cannot name a user.
func CanonicalUserID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
				return "", false
			}
		}
	}
	return strings.ToLower(s), true
}
