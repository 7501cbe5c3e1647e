package argon2hash_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/usersvc/usersvc/domain"
)

func bcryptHash(tb testing.TB, password string, cost int, prefix string) string {
	tb.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		tb.Fatal(err)
	}
	return prefix + string(b[4:]) // GenerateFromPassword writes $2a$
}

// TestVerifyBcrypt: an imported bcrypt hash is checked as bcrypt, whatever
// its version letter, and is always stale, so a login replaces it.
func TestVerifyBcrypt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHasher(t, cheap)
	for _, prefix := range []string{"$2a$", "$2b$", "$2y$"} {
		hash := bcryptHash(t, "correct horse battery staple", bcrypt.MinCost, prefix)
		if err := h.ValidateHash(hash); err != nil {
			t.Errorf("ValidateHash(%s…): %v", prefix, err)
		}
		for _, tc := range []struct {
			password string
			want     bool
		}{
			{"correct horse battery staple", true},
			{"correct horse battery stapl", false},
			{"", false},
			{strings.Repeat("x", 100), false},
		} {
			ok, stale, err := h.Verify(ctx, tc.password, hash)
			if err != nil || ok != tc.want || !stale {
				t.Errorf("Verify(%q, %s…) = %v, %v, %v; want %v, stale, nil", tc.password, prefix, ok, stale, err, tc.want)
			}
		}
	}
	if _, _, err := h.Verify(ctx, "x", "$2b$04$short"); err == nil {
		t.Error("a malformed bcrypt hash verified without an error")
	}
}

func TestValidateHash(t *testing.T) {
	t.Parallel()
	h := newHasher(t, cheap)
	own, err := h.Hash(context.Background(), "a password")
	if err != nil {
		t.Fatal(err)
	}
	valid := []string{
		own,
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
		bcryptHash(t, "pw", bcrypt.MinCost, "$2y$"),
	}
	for _, hash := range valid {
		if err := h.ValidateHash(hash); err != nil {
			t.Errorf("ValidateHash(%q): %v", hash, err)
		}
	}
	invalid := map[string]string{
		"":           "want an argon2id",
		"plaintext":  "want an argon2id",
		"$1$abc$def": "want an argon2id",
		"$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$aGFzaA":                                                "only argon2id",
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ":                                                      "PHC",
		"$argon2id$v=16$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA":    "PHC",
		"$argon2id$v=19$m=99999999,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA": "memory",
		"$argon2id$v=19$m=19456,t=1000,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA": "iterations",
		"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA":                    "salt",
		"$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaA":                                    "key",
		"$2b$04$tooshort": "60 characters",
		bcryptHash(t, "pw", bcrypt.MinCost, "$2b$")[:59] + "!": "not a bcrypt hash",
		"$2b$31$" + strings.Repeat("a", 53):                    "cost 31",
	}
	for hash, want := range invalid {
		err := h.ValidateHash(hash)
		if !errors.Is(err, domain.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateHash(%q) = %v; want an invalid-input error mentioning %q", hash, err, want)
		}
	}
}
