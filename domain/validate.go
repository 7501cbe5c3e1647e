package domain

import (
	"net/mail"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits of the user fields; the database mirrors them with check constraints.
const (
	MaxEmailLen       = 255
	MinNicknameLen    = 3
	MaxNicknameLen    = 50
	MaxNameLen        = 100
	MaxBioLen         = 500
	MaxLanguageLen    = 50
	MaxURLLen         = 255
	MinPasswordLen    = 8
	MaxPasswordLen    = 128
	maxEmailLocalPart = 64
)

// nicknamePattern is the nickname rule as PRODUCT.md writes it; in RE2,
// \w is ASCII only: [0-9A-Za-z_].
const nicknamePattern = `^[\w-]+$`

var (
	nicknameRE      = regexp.MustCompile(nicknamePattern)
	domainLabel     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	imageExtensions = []string{".jpg", ".jpeg", ".png", ".gif", ".webp"}
)

// NormalizeEmail validates an address and returns it trimmed and lower-cased.
func NormalizeEmail(raw string) (string, error) {
	const field = "email"
	// Checked before lower-casing, which would replace invalid bytes with U+FFFD.
	if !utf8.ValidString(raw) {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailInvalidUTF8})
	}
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailEmpty})
	}
	if utf8.RuneCountInString(e) > MaxEmailLen {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailTooLong, Max: MaxEmailLen})
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailAtSign})
	}
	local, host := e[:at], e[at+1:]
	if len(local) > maxEmailLocalPart || strings.ContainsAny(local, " \t\r\n\"(),:;<>[\\]@") {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailLocalPart})
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailNoDot})
	}
	for _, l := range labels {
		if len(l) > 63 || !domainLabel.MatchString(l) {
			return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailDomain})
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailDomain})
	}
	// net/mail applies RFC 5322 to what is left (dots, quoting).
	if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeEmailSyntax})
	}
	return e, nil
}

// ValidateNickname checks the nickname rules of section 4.
func ValidateNickname(n string) error {
	const field = "nickname"
	l := utf8.RuneCountInString(n)
	switch {
	case l < MinNicknameLen:
		return FieldInvalid(FieldError{Field: field, Code: CodeTooShort, Min: MinNicknameLen})
	case l > MaxNicknameLen:
		return FieldInvalid(FieldError{Field: field, Code: CodeTooLong, Max: MaxNicknameLen})
	case !nicknameRE.MatchString(n):
		return FieldInvalid(FieldError{Field: field, Code: CodePattern, Values: []string{nicknamePattern}})
	}
	return nil
}

// checkText validates an optional free-text field's encoding and length.
func checkText(v *ValidationError, field, s string, maxLen int) {
	if !utf8.ValidString(s) {
		v.Add(FieldError{Field: field, Code: CodeInvalidUTF8})
		return
	}
	if utf8.RuneCountInString(s) > maxLen {
		v.Add(FieldError{Field: field, Code: CodeTooLong, Max: maxLen})
	}
}

// urlKind says which extra rule a URL field follows.
type urlKind int

const (
	urlImage urlKind = iota + 1
	urlLinkedIn
	urlGitHub
)

// checkURL validates an optional absolute http(s) URL.
func checkURL(v *ValidationError, field, raw string, kind urlKind) {
	if !utf8.ValidString(raw) {
		v.Add(FieldError{Field: field, Code: CodeURLInvalidUTF8})
		return
	}
	if utf8.RuneCountInString(raw) > MaxURLLen {
		v.Add(FieldError{Field: field, Code: CodeTooLong, Max: MaxURLLen})
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
		strings.ContainsAny(raw, " \t\r\n") {
		v.Add(FieldError{Field: field, Code: CodeURLNotAbsolute})
		return
	}
	host := strings.ToLower(u.Hostname())
	switch kind {
	case urlImage:
		ext := strings.ToLower(path.Ext(u.Path))
		ok := false
		for _, e := range imageExtensions {
			ok = ok || ext == e
		}
		if !ok {
			v.Add(FieldError{Field: field, Code: CodeURLNotImage, Values: slices.Clone(imageExtensions)})
		}
	case urlLinkedIn:
		if host != "linkedin.com" && !strings.HasSuffix(host, ".linkedin.com") {
			v.Add(FieldError{Field: field, Code: CodeURLWrongHost, Values: []string{"linkedin.com"}})
		}
	case urlGitHub:
		if host != "github.com" && !strings.HasSuffix(host, ".github.com") {
			v.Add(FieldError{Field: field, Code: CodeURLWrongHost, Values: []string{"github.com"}})
		}
	}
}
