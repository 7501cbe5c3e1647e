package domain

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

// commonPasswords holds the 10,000 most common passwords of 8 or more
// characters, lower-cased, from the zxcvbn frequency list (MIT licence,
// Dropbox and github.com/trustelem/zxcvbn).
//
//go:embed common_passwords.txt
var commonPasswords string

var commonSet = sync.OnceValue(func() map[string]struct{} {
	lines := strings.Split(commonPasswords, "\n")
	m := make(map[string]struct{}, len(lines))
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			m[l] = struct{}{}
		}
	}
	return m
})

// ValidatePassword applies the password policy: 8 to 128 characters, not a
// common password, not the email or the nickname. field names the input.
func ValidatePassword(field, password, email, nickname string) error {
	if !utf8.ValidString(password) {
		return FieldInvalid(FieldError{Field: field, Code: CodeInvalidUTF8})
	}
	n := utf8.RuneCountInString(password)
	switch {
	case n < MinPasswordLen:
		return FieldInvalid(FieldError{Field: field, Code: CodeTooShort, Min: MinPasswordLen})
	case n > MaxPasswordLen:
		return FieldInvalid(FieldError{Field: field, Code: CodeTooLong, Max: MaxPasswordLen})
	}
	lower := strings.ToLower(password)
	if _, ok := commonSet()[lower]; ok {
		return FieldInvalid(FieldError{Field: field, Code: CodePasswordCommon})
	}
	if email != "" && (lower == strings.ToLower(email) || lower == strings.ToLower(localPart(email))) {
		return FieldInvalid(FieldError{Field: field, Code: CodePasswordIsEmail})
	}
	if nickname != "" && lower == strings.ToLower(nickname) {
		return FieldInvalid(FieldError{Field: field, Code: CodePasswordIsNickname})
	}
	return nil
}

func localPart(email string) string {
	if i := strings.LastIndexByte(email, '@'); i > 0 {
		return email[:i]
	}
	return email
}
