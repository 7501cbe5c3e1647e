package sqlstore

import (
	"strings"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix, want string
		ok           bool
	}{
		{"a", "b", true},
		{"ab", "ac", true},
		{"a_", "a`", true},
		{"a%", "a&", true},
		{"é", "ê", true},
		{"a\uD7FF", "a\uE000", true}, // past the surrogates
		{"a\U0010FFFF", "b", true},
		{"a\U0010FFFF\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
	} {
		got, ok := prefixEnd(tc.prefix)
		if got != tc.want || ok != tc.ok {
			t.Errorf("prefixEnd(%+q) = %+q, %v; want %+q, %v", tc.prefix, got, ok, tc.want, tc.ok)
		}
		// Every string that starts with the prefix sorts before the end.
		for _, s := range []string{tc.prefix, tc.prefix + "\x00", tc.prefix + "z", tc.prefix + "\U0010FFFF\U0010FFFF"} {
			if ok && strings.Compare(s, got) >= 0 {
				t.Errorf("%+q is not before prefixEnd(%+q) = %+q", s, tc.prefix, got)
			}
		}
	}
}
