package domain_test

import (
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/domain"
)

func TestNormalizeEmailAccepts(t *testing.T) {
	t.Parallel()
	// The longest valid address: a 64-character local part and a 190-character domain.
	longest := strings.Repeat("l", 64) + "@" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 62)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "alice@example.com", "alice@example.com"},
		{"trimmed", " \t alice@example.com \n", "alice@example.com"},
		{"lower-cased", "Alice.Smith@Example.COM", "alice.smith@example.com"},
		{"plus tag", "a+tag@example.com", "a+tag@example.com"},
		{"subdomain", "a@mail.example.co.uk", "a@mail.example.co.uk"},
		{"hyphen in label", "a@my-host.example.com", "a@my-host.example.com"},
		{"255 characters", longest, longest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.NormalizeEmail(tt.in)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	if len(longest) != domain.MaxEmailLen {
		t.Fatalf("test address has %d characters, want %d", len(longest), domain.MaxEmailLen)
	}
}

func TestNormalizeEmailRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		code     domain.Code
	}{
		{"empty", "", domain.CodeEmailEmpty},
		{"blank", "   ", domain.CodeEmailEmpty},
		{"no at", "alice.example.com", domain.CodeEmailAtSign},
		{"two at", "alice@bob@example.com", domain.CodeEmailLocalPart},
		{"nothing before at", "@example.com", domain.CodeEmailAtSign},
		{"nothing after at", "alice@", domain.CodeEmailAtSign},
		{"no dot in domain", "alice@localhost", domain.CodeEmailNoDot},
		{"space in local part", "al ice@example.com", domain.CodeEmailLocalPart},
		{"space in domain", "alice@exa mple.com", domain.CodeEmailDomain},
		{"too long", strings.Repeat("l", 64) + "@" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63), domain.CodeEmailTooLong},
		{"local part over 64", strings.Repeat("l", 65) + "@example.com", domain.CodeEmailLocalPart},
		{"label over 63", "a@" + strings.Repeat("x", 64) + ".com", domain.CodeEmailDomain},
		{"label starts with hyphen", "a@-example.com", domain.CodeEmailDomain},
		{"label ends with hyphen", "a@example-.com", domain.CodeEmailDomain},
		{"empty label", "a@example..com", domain.CodeEmailDomain},
		{"leading dot in domain", "a@.example.com", domain.CodeEmailDomain},
		{"trailing dot in domain", "a@example.com.", domain.CodeEmailDomain},
		{"underscore in label", "a@ex_ample.com", domain.CodeEmailDomain},
		{"numeric top-level domain", "a@1.2.3.4", domain.CodeEmailDomain},
		{"address literal", "a@[127.0.0.1]", domain.CodeEmailDomain},
		{"display name", "A <a@b.com>", domain.CodeEmailLocalPart},
		{"quoted display name", `"Alice" <alice@example.com>`, domain.CodeEmailLocalPart},
		{"angle brackets only", "<alice@example.com>", domain.CodeEmailLocalPart},
		{"comment", "alice@example.com (Alice)", domain.CodeEmailDomain},
		{"double dot in local part", "a..b@example.com", domain.CodeEmailSyntax},
		{"leading dot in local part", ".a@example.com", domain.CodeEmailSyntax},
		{"trailing dot in local part", "a.@example.com", domain.CodeEmailSyntax},
		{"quoted local part", `"a b"@example.com`, domain.CodeEmailLocalPart},
		{"NUL byte", "a\x00@example.com", domain.CodeEmailSyntax},
		{"invalid UTF-8", "\xffa@example.com", domain.CodeEmailInvalidUTF8},
		{"invalid UTF-8 after a capital", "\u00c4\xff@example.com", domain.CodeEmailInvalidUTF8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := domain.NormalizeEmail(tt.in)
			if got != "" {
				t.Errorf("NormalizeEmail(%q) = %q, want \"\"", tt.in, got)
			}
			wantCode(t, err, "email", tt.code)
		})
	}
}

func TestValidateNickname(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		code     domain.Code // "" = valid
	}{
		{"three letters", "abc", ""},
		{"fifty characters", strings.Repeat("a", 50), ""},
		{"word characters and hyphen", "John_Doe-42", ""},
		{"only underscores", "___", ""},
		{"two characters", "ab", domain.CodeTooShort},
		{"empty", "", domain.CodeTooShort},
		{"two runes, four bytes", "éé", domain.CodeTooShort},
		{"fifty-one characters", strings.Repeat("a", 51), domain.CodeTooLong},
		{"space", "john doe", domain.CodePattern},
		{"dot", "john.doe", domain.CodePattern},
		{"at sign", "john@doe", domain.CodePattern},
		{"non-ASCII letter", "jöhn", domain.CodePattern},
		{"non-ASCII digits", "١٢٣", domain.CodePattern},
		{"trailing newline", "john\n", domain.CodePattern},
		{"invalid UTF-8", "ab\xff", domain.CodePattern},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidateNickname(tt.in)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ValidateNickname(%q): %v", tt.in, err)
				}
				return
			}
			wantCode(t, err, "nickname", tt.code)
		})
	}
}

func TestProfileValidate(t *testing.T) {
	t.Parallel()
	long := func(n int) string { return strings.Repeat("é", n) } // runes, not bytes, count
	tooLongURL := "https://example.com/" + strings.Repeat("a", 232) + ".png"
	if len(tooLongURL) != 256 {
		t.Fatalf("tooLongURL has %d characters, want 256", len(tooLongURL))
	}
	tests := []struct {
		name    string
		profile domain.Profile
		fields  []string // nil = valid
	}{
		{"empty", domain.Profile{}, nil},
		{"every field at its limit", domain.Profile{
			FirstName: long(100), LastName: long(100), Bio: long(500), PreferredLanguage: long(50),
			ProfilePictureURL:  "https://example.com/" + strings.Repeat("a", 231) + ".png",
			LinkedInProfileURL: "https://www.linkedin.com/in/alice",
			GitHubProfileURL:   "https://github.com/alice",
		}, nil},
		{"first name too long", domain.Profile{FirstName: long(101)}, []string{"first_name"}},
		{"last name too long", domain.Profile{LastName: long(101)}, []string{"last_name"}},
		{"bio too long", domain.Profile{Bio: long(501)}, []string{"bio"}},
		{"language too long", domain.Profile{PreferredLanguage: long(51)}, []string{"preferred_language"}},
		{"invalid UTF-8 in a name", domain.Profile{FirstName: "a\xffb"}, []string{"first_name"}},
		{"all failures at once", domain.Profile{
			FirstName: long(101), LastName: long(101), Bio: long(501), PreferredLanguage: long(51),
			ProfilePictureURL: "nope", LinkedInProfileURL: "https://evil.com/in/x", GitHubProfileURL: "ftp://github.com/x",
		}, []string{"first_name", "last_name", "bio", "preferred_language", "profile_picture_url", "linkedin_profile_url", "github_profile_url"}},

		// Any URL: absolute http(s) with a host, at most 255 characters.
		{"picture over 255", domain.Profile{ProfilePictureURL: tooLongURL}, []string{"profile_picture_url"}},
		{"http picture", domain.Profile{ProfilePictureURL: "http://example.com/a.jpg"}, nil},
		{"relative URL", domain.Profile{ProfilePictureURL: "/img/a.jpg"}, []string{"profile_picture_url"}},
		{"scheme-relative URL", domain.Profile{ProfilePictureURL: "//example.com/a.jpg"}, []string{"profile_picture_url"}},
		{"ftp URL", domain.Profile{ProfilePictureURL: "ftp://example.com/a.jpg"}, []string{"profile_picture_url"}},
		{"javascript URL", domain.Profile{GitHubProfileURL: "javascript:alert(1)//github.com"}, []string{"github_profile_url"}},
		{"no host", domain.Profile{ProfilePictureURL: "https:///a.jpg"}, []string{"profile_picture_url"}},
		{"port only", domain.Profile{ProfilePictureURL: "https://:443/a.jpg"}, []string{"profile_picture_url"}},
		{"user info", domain.Profile{GitHubProfileURL: "https://user:pass@github.com/alice"}, []string{"github_profile_url"}},
		{"space", domain.Profile{ProfilePictureURL: "https://example.com/a b.jpg"}, []string{"profile_picture_url"}},
		{"invalid UTF-8 URL", domain.Profile{ProfilePictureURL: "https://example.com/\xff.jpg"}, []string{"profile_picture_url"}},
		{"unparsable URL", domain.Profile{ProfilePictureURL: "https://exa%mple.com/a.jpg"}, []string{"profile_picture_url"}},

		// Picture: must name an image.
		{"jpg", domain.Profile{ProfilePictureURL: "https://example.com/a.jpg"}, nil},
		{"jpeg", domain.Profile{ProfilePictureURL: "https://example.com/a.jpeg"}, nil},
		{"png upper-case", domain.Profile{ProfilePictureURL: "https://example.com/A.PNG"}, nil},
		{"gif", domain.Profile{ProfilePictureURL: "https://example.com/a.gif"}, nil},
		{"webp with query", domain.Profile{ProfilePictureURL: "https://example.com/a.webp?size=2"}, nil},
		{"not an image", domain.Profile{ProfilePictureURL: "https://example.com/a.html"}, []string{"profile_picture_url"}},
		{"no extension", domain.Profile{ProfilePictureURL: "https://example.com/jpg"}, []string{"profile_picture_url"}},
		{"extension only in query", domain.Profile{ProfilePictureURL: "https://example.com/a.php?x=.jpg"}, []string{"profile_picture_url"}},
		{"svg", domain.Profile{ProfilePictureURL: "https://example.com/a.svg"}, []string{"profile_picture_url"}},

		// LinkedIn: linkedin.com or a subdomain.
		{"linkedin bare", domain.Profile{LinkedInProfileURL: "https://linkedin.com/in/alice"}, nil},
		{"linkedin www", domain.Profile{LinkedInProfileURL: "https://www.linkedin.com/in/alice"}, nil},
		{"linkedin upper-case host", domain.Profile{LinkedInProfileURL: "https://WWW.LinkedIn.com/in/alice"}, nil},
		{"linkedin with port", domain.Profile{LinkedInProfileURL: "https://linkedin.com:443/in/alice"}, nil},
		{"linkedin in path only", domain.Profile{LinkedInProfileURL: "https://evil.com/linkedin.com"}, []string{"linkedin_profile_url"}},
		{"linkedin as suffix of another name", domain.Profile{LinkedInProfileURL: "https://notlinkedin.com/x"}, []string{"linkedin_profile_url"}},
		{"linkedin as prefix of another host", domain.Profile{LinkedInProfileURL: "https://linkedin.com.evil.com/in/x"}, []string{"linkedin_profile_url"}},
		{"linkedin in user info", domain.Profile{LinkedInProfileURL: "https://linkedin.com@evil.com/in/x"}, []string{"linkedin_profile_url"}},
		{"linkedin on github", domain.Profile{LinkedInProfileURL: "https://github.com/alice"}, []string{"linkedin_profile_url"}},

		// GitHub: github.com.
		{"github", domain.Profile{GitHubProfileURL: "https://github.com/alice"}, nil},
		{"github in path only", domain.Profile{GitHubProfileURL: "https://evil.com/github.com"}, []string{"github_profile_url"}},
		{"github as suffix of another name", domain.Profile{GitHubProfileURL: "https://notgithub.com/alice"}, []string{"github_profile_url"}},
		{"github on linkedin", domain.Profile{GitHubProfileURL: "https://linkedin.com/in/alice"}, []string{"github_profile_url"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.profile.Validate()
			if tt.fields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantInvalid(t, err, tt.fields...)
		})
	}
}

// TestFieldErrorParameters checks what each kind of failure tells the
// edge besides its code: the bound broken or the values that would pass.
func TestFieldErrorParameters(t *testing.T) {
	t.Parallel()
	fieldsOf := func(err error) []domain.FieldError {
		var ve *domain.ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("error %v is not a *domain.ValidationError", err)
		}
		return ve.Fields
	}
	_, longEmail := domain.NormalizeEmail(strings.Repeat("l", 64) + "@" + strings.Repeat("a", 190) + ".io")
	_, role := domain.ParseRole("SUPERUSER")
	for _, tt := range []struct {
		name string
		err  error
		want []domain.FieldError
	}{
		{"nickname too short", domain.ValidateNickname("ab"), []domain.FieldError{{Field: "nickname", Code: domain.CodeTooShort, Min: 3}}},
		{"nickname too long", domain.ValidateNickname(strings.Repeat("a", 51)), []domain.FieldError{{Field: "nickname", Code: domain.CodeTooLong, Max: 50}}},
		{"nickname pattern", domain.ValidateNickname("a b c"), []domain.FieldError{{Field: "nickname", Code: domain.CodePattern, Values: []string{`^[\w-]+$`}}}},
		{"email too long", longEmail, []domain.FieldError{{Field: "email", Code: domain.CodeEmailTooLong, Max: 255}}},
		{"password too short", domain.ValidatePassword("password", "short", "", ""), []domain.FieldError{{Field: "password", Code: domain.CodeTooShort, Min: 8}}},
		{"password too long", domain.ValidatePassword("password", strings.Repeat("x", 129), "", ""), []domain.FieldError{{Field: "password", Code: domain.CodeTooLong, Max: 128}}},
		{"role", role, []domain.FieldError{{Field: "role", Code: domain.CodeNotOneOf, Values: []string{"ANONYMOUS", "AUTHENTICATED", "MANAGER", "ADMIN"}, Got: "SUPERUSER"}}},
		{"profile", domain.Profile{
			FirstName: "a\xff", Bio: strings.Repeat("b", 501),
			ProfilePictureURL: "https://example.com/a.svg", LinkedInProfileURL: "https://evil.com/in/x", GitHubProfileURL: "\xff",
		}.Validate(), []domain.FieldError{
			{Field: "first_name", Code: domain.CodeInvalidUTF8},
			{Field: "bio", Code: domain.CodeTooLong, Max: 500},
			{Field: "profile_picture_url", Code: domain.CodeURLNotImage, Values: []string{".jpg", ".jpeg", ".png", ".gif", ".webp"}},
			{Field: "linkedin_profile_url", Code: domain.CodeURLWrongHost, Values: []string{"linkedin.com"}},
			{Field: "github_profile_url", Code: domain.CodeURLInvalidUTF8},
		}},
		{"URL not absolute", domain.Profile{GitHubProfileURL: "/alice"}.Validate(), []domain.FieldError{{Field: "github_profile_url", Code: domain.CodeURLNotAbsolute}}},
		{"URL too long", domain.Profile{GitHubProfileURL: "https://github.com/" + strings.Repeat("a", 240)}.Validate(), []domain.FieldError{{Field: "github_profile_url", Code: domain.CodeTooLong, Max: 255}}},
	} {
		if diff := cmp.Diff(tt.want, fieldsOf(tt.err)); diff != "" {
			t.Errorf("%s: fields mismatch (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestGenerateNickname(t *testing.T) {
	t.Parallel()
	format := regexp.MustCompile(`^[a-z]+_[a-z]+_\d{3}$`)
	check := func(t *testing.T, n string) {
		t.Helper()
		if !format.MatchString(n) {
			t.Errorf("GenerateNickname() = %q, does not match %s", n, format)
		}
		if err := domain.ValidateNickname(n); err != nil {
			t.Errorf("generated nickname %q is not valid: %v", n, err)
		}
	}
	// Every word list boundary: the lowest and highest index of each draw.
	first := domain.GenerateNickname(func(int) int { return 0 })
	if first != "agile_badger_000" {
		t.Errorf("GenerateNickname(lowest) = %q, want agile_badger_000", first)
	}
	check(t, first)
	last := domain.GenerateNickname(func(n int) int { return n - 1 })
	if last != "zesty_zebra_999" {
		t.Errorf("GenerateNickname(highest) = %q, want zesty_zebra_999", last)
	}
	check(t, last)
	// Every index of a word list in turn.
	for i := range 50 {
		check(t, domain.GenerateNickname(func(n int) int { return i % n }))
	}
}
