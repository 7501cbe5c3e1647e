package domain_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/usersvc/usersvc/domain"
)

// The fuzz targets check properties every input must keep. `make test` runs
// each briefly; `make fuzz` longer.

func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{"a@b.co", " Ada@Example.COM ", "a@@b.c", "a@localhost", "\xff@x.io", `"a b"@x.io`, "a@b.c.d.e.f", strings.Repeat("a", 300) + "@x.io"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := domain.NormalizeEmail(raw)
		if err != nil {
			if !errors.Is(err, domain.ErrInvalid) {
				t.Fatalf("error %v is not ErrInvalid", err)
			}
			return
		}
		if !utf8.ValidString(got) || utf8.RuneCountInString(got) > domain.MaxEmailLen || got != strings.ToLower(got) || strings.TrimSpace(got) != got {
			t.Fatalf("NormalizeEmail(%q) = %q: not a normalised address", raw, got)
		}
		again, err := domain.NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", raw, got, again, err)
		}
	})
}

func FuzzValidateNickname(f *testing.F) {
	for _, s := range []string{"abc", "ab", "a_b-c", "José", "x y", strings.Repeat("n", 51)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, n string) {
		err := domain.ValidateNickname(n)
		if err == nil {
			if l := len(n); l < domain.MinNicknameLen || l > domain.MaxNicknameLen {
				t.Fatalf("accepted %q of length %d", n, l)
			}
			for _, c := range n {
				if ok := c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'; !ok {
					t.Fatalf("accepted %q with %q", n, c)
				}
			}
		} else if !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
	})
}

func FuzzProfileValidate(f *testing.F) {
	f.Add("Ada", "Lovelace", "bio", "en", "https://x.io/a.png", "https://linkedin.com/in/ada", "https://github.com/ada")
	f.Add("", "", "", "", "javascript:alert(1)//.png", "https://evil.com/linkedin.com", "http://github.com.evil.io/")
	f.Fuzz(func(t *testing.T, first, last, bio, lang, pic, li, gh string) {
		p := domain.Profile{FirstName: first, LastName: last, Bio: bio, PreferredLanguage: lang,
			ProfilePictureURL: pic, LinkedInProfileURL: li, GitHubProfileURL: gh}
		err := p.Validate()
		if err != nil {
			var ve *domain.ValidationError
			if !errors.As(err, &ve) || len(ve.Fields) == 0 {
				t.Fatalf("error %v is not a ValidationError with fields", err)
			}
			return
		}
		for _, u := range []string{pic, li, gh} {
			if u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				t.Fatalf("accepted a non-http URL %q", u)
			}
		}
		if li != "" && !strings.Contains(strings.ToLower(li), "linkedin.com") {
			t.Fatalf("accepted LinkedIn URL %q", li)
		}
		if gh != "" && !strings.Contains(strings.ToLower(gh), "github.com") {
			t.Fatalf("accepted GitHub URL %q", gh)
		}
	})
}

func FuzzValidatePassword(f *testing.F) {
	f.Add("correct horse battery", "a@b.co", "nick")
	f.Add("password", "a@b.co", "nick")
	f.Add("a@b.co", "a@b.co", "nick")
	f.Fuzz(func(t *testing.T, pw, email, nick string) {
		err := domain.ValidatePassword("password", pw, email, nick)
		if err == nil {
			if n := utf8.RuneCountInString(pw); n < domain.MinPasswordLen || n > domain.MaxPasswordLen {
				t.Fatalf("accepted a password of %d characters", n)
			}
			if email != "" && strings.EqualFold(pw, email) {
				t.Fatal("accepted the email as password")
			}
		} else if !errors.Is(err, domain.ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
	})
}

func FuzzCanonicalUserID(f *testing.F) {
	f.Add("0190f7a2-7c1e-7abc-8def-0123456789ab")
	f.Add("0190F7A2-7C1E-7ABC-8DEF-0123456789AB")
	f.Add("not-a-uuid")
	f.Fuzz(func(t *testing.T, s string) {
		id, ok := domain.CanonicalUserID(s)
		if !ok {
			return
		}
		if len(id) != 36 || id != strings.ToLower(s) {
			t.Fatalf("CanonicalUserID(%q) = %q", s, id)
		}
		if again, ok := domain.CanonicalUserID(id); !ok || again != id {
			t.Fatalf("not idempotent: %q", id)
		}
	})
}

func FuzzParseRole(f *testing.F) {
	f.Add("ADMIN")
	f.Add("admin")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := domain.ParseRole(s)
		if err == nil && r.String() != s {
			t.Fatalf("ParseRole(%q) = %v", s, r)
		}
	})
}
