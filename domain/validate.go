package domain

import (
	"net/mail"
	"net/url"
	"path"
	"regexp"
	"strconv"
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

var (
	nicknamePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	domainLabel     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	imageExtensions = []string{".jpg", ".jpeg", ".png", ".gif", ".webp"}
)

// NormalizeEmail validates an address and returns it trimmed and lower-cased.
func NormalizeEmail(raw string) (string, error) {
	const field = "email"
	// Checked before lower-casing, which would replace invalid bytes with U+FFFD.
	if !utf8.ValidString(raw) {
		return "", FieldInvalid(field, "value_error", "value is not a valid email address: invalid UTF-8")
	}
	e := strings.ToLower(strings.TrimSpace(raw))
	if e == "" {
		return "", FieldInvalid(field, "value_error", "value is not a valid email address: an email address is required")
	}
	if utf8.RuneCountInString(e) > MaxEmailLen {
		return "", FieldInvalid(field, "string_too_long", "value is not a valid email address: at most 255 characters")
	}
	at := strings.LastIndexByte(e, '@')
	if at <= 0 || at == len(e)-1 {
		return "", FieldInvalid(field, "value_error", "value is not a valid email address: an email address must have exactly one @-sign")
	}
	local, host := e[:at], e[at+1:]
	if len(local) > maxEmailLocalPart || strings.ContainsAny(local, " \t\r\n\"(),:;<>[\\]@") {
		return "", FieldInvalid(field, "value_error", "value is not a valid email address: the part before the @-sign is not valid")
	}
	labels := strings.Split(host, ".")
	if len(labels) < 2 {
		return "", FieldInvalid(field, "value_error", "value is not a valid email address: the domain name must contain a dot")
	}
	for _, l := range labels {
		if len(l) > 63 || !domainLabel.MatchString(l) {
			return "", FieldInvalid(field, "value_error", "value is not a valid email address: the domain name is not valid")
		}
	}
	if tld := labels[len(labels)-1]; strings.Trim(tld, "0123456789") == "" {
		return "", FieldInvalid(field, "value_error", "value is not a valid email address: the domain name is not valid")
	}
	// net/mail applies RFC 5322 to what is left (dots, quoting).
	if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
		return "", FieldInvalid(field, "value_error", "value is not a valid email address")
	}
	return e, nil
}

// ValidateNickname checks the nickname rules of section 4.
func ValidateNickname(n string) error {
	const field = "nickname"
	l := utf8.RuneCountInString(n)
	switch {
	case l < MinNicknameLen:
		return FieldInvalid(field, "string_too_short", "String should have at least 3 characters")
	case l > MaxNicknameLen:
		return FieldInvalid(field, "string_too_long", "String should have at most 50 characters")
	case !nicknamePattern.MatchString(n):
		return FieldInvalid(field, "string_pattern_mismatch", "String should match pattern '^[\\w-]+$'")
	}
	return nil
}

// checkText validates an optional free-text field's encoding and length.
func checkText(v *ValidationError, field, s string, maxLen int) {
	if !utf8.ValidString(s) {
		v.Add(field, "string_unicode", "Input should be a valid string")
		return
	}
	if utf8.RuneCountInString(s) > maxLen {
		v.Add(field, "string_too_long", "String should have at most "+strconv.Itoa(maxLen)+" characters")
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
		v.Add(field, "url_parsing", "Input should be a valid URL")
		return
	}
	if utf8.RuneCountInString(raw) > MaxURLLen {
		v.Add(field, "string_too_long", "String should have at most 255 characters")
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.User != nil ||
		strings.ContainsAny(raw, " \t\r\n") {
		v.Add(field, "url_parsing", "Input should be a valid URL, an absolute http(s) URL with a host")
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
			v.Add(field, "value_error", "Value error, the URL must point to an image (.jpg, .jpeg, .png, .gif, .webp)")
		}
	case urlLinkedIn:
		if host != "linkedin.com" && !strings.HasSuffix(host, ".linkedin.com") {
			v.Add(field, "value_error", "Value error, the URL must be on linkedin.com")
		}
	case urlGitHub:
		if host != "github.com" && !strings.HasSuffix(host, ".github.com") {
			v.Add(field, "value_error", "Value error, the URL must be on github.com")
		}
	}
}
