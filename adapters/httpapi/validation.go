package httpapi

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// wording is how a 422 item words one code: FastAPI/pydantic's `type`, and
// its `msg` built from the code's parameters.
type wording struct {
	typ string
	msg func(f domain.FieldError) string
}

// notEmail starts the message of every refused email, as the seed's
// email-validator worded it.
const notEmail = "value is not a valid email address"

// codeWording is the one table from the codes of domain and app validation
// errors to the seed's words. The core reports a field and a code; only
// this table knows how FastAPI would have said it.
var codeWording = map[domain.Code]wording{
	domain.CodeRequired:    {"missing", say("Field required")},
	domain.CodeInvalidUTF8: {"string_unicode", say("Input should be a valid string")},
	domain.CodeTooShort: {"string_too_short", func(f domain.FieldError) string {
		return "String should have at least " + characters(f.Min)
	}},
	domain.CodeTooLong: {"string_too_long", func(f domain.FieldError) string {
		return "String should have at most " + characters(f.Max)
	}},
	domain.CodePattern: {"string_pattern_mismatch", func(f domain.FieldError) string {
		return "String should match pattern '" + first(f.Values) + "'"
	}},
	domain.CodeTooSmall: {"greater_than_equal", func(f domain.FieldError) string {
		return fmt.Sprintf("Input should be greater than or equal to %d", f.Min)
	}},
	domain.CodeTooLarge: {"less_than_equal", func(f domain.FieldError) string {
		return fmt.Sprintf("Input should be less than or equal to %d", f.Max)
	}},
	domain.CodeOutOfRange: {"less_than_equal", func(f domain.FieldError) string {
		return fmt.Sprintf("Input should be between %d and %d", f.Min, f.Max)
	}},
	domain.CodeNotOneOf: {"enum", func(f domain.FieldError) string {
		msg := "Input should be " + oneOf(f.Values)
		if f.Got != "" {
			msg += ", got " + strconv.Quote(shorten(f.Got, maxEchoed))
		}
		return msg
	}},
	domain.CodeNotUUID: {"uuid_parsing", say("Input should be a valid UUID")},

	domain.CodeEmailInvalidUTF8: {"value_error", say(notEmail + ": invalid UTF-8")},
	domain.CodeEmailEmpty:       {"value_error", say(notEmail + ": an email address is required")},
	domain.CodeEmailTooLong: {"string_too_long", func(f domain.FieldError) string {
		return notEmail + ": at most " + characters(f.Max)
	}},
	domain.CodeEmailAtSign:    {"value_error", say(notEmail + ": an email address must have exactly one @-sign")},
	domain.CodeEmailLocalPart: {"value_error", say(notEmail + ": the part before the @-sign is not valid")},
	domain.CodeEmailNoDot:     {"value_error", say(notEmail + ": the domain name must contain a dot")},
	domain.CodeEmailDomain:    {"value_error", say(notEmail + ": the domain name is not valid")},
	domain.CodeEmailSyntax:    {"value_error", say(notEmail)},

	domain.CodeURLInvalidUTF8: {"url_parsing", say("Input should be a valid URL")},
	domain.CodeURLNotAbsolute: {"url_parsing", say("Input should be a valid URL, an absolute http(s) URL with a host")},
	domain.CodeURLNotImage: {"value_error", func(f domain.FieldError) string {
		return "Value error, the URL must point to an image (" + strings.Join(f.Values, ", ") + ")"
	}},
	domain.CodeURLWrongHost: {"value_error", func(f domain.FieldError) string {
		return "Value error, the URL must be on " + strings.Join(f.Values, " or ")
	}},

	domain.CodeURLNotHTTPS:  {"url_scheme", say("URL scheme should be 'https'")},
	domain.CodeURLNotPublic: {"value_error", say("Value error, the URL must lead to a public address, not a private, loopback or link-local one")},

	domain.CodePasswordCommon:     {"value_error", say("Value error, this password is too common")},
	domain.CodePasswordIsEmail:    {"value_error", say("Value error, the password must differ from the email")},
	domain.CodePasswordIsNickname: {"value_error", say("Value error, the password must differ from the nickname")},
	domain.CodeEmailUnchanged:     {"value_error", say("Value error, the new email must differ from the current one")},

	app.CodeEmptyUpdate: {"value_error", say("Value error, at least one field must be provided for update")},

	app.CodeSearchInvalidUTF8:       {"string_unicode", say("Input should be a valid UTF-8 string")},
	app.CodeSearchContainsNUL:       {"string_type", say("Input should be a valid string without NUL characters")},
	app.CodeCursorNeedsCursorPaging: {"value_error", say("Value error, a cursor needs cursor paging")},
	app.CodeSkipInCursorPaging:      {"value_error", say("Value error, skip cannot be combined with cursor paging")},
	app.CodeInvalidCursor:           {"value_error", say("Value error, invalid cursor")},
	app.CodeCursorOtherSearch:       {"value_error", say("Value error, the cursor belongs to a search with other filters or another sort")},

	app.CodeNoWebhookEvents: {"too_short", say("List should have at least 1 item after validation, not 0")},

	app.CodeUnknownEvent:       {"enum", say("Input should be a known event type")},
	app.CodeUntilNotAfterSince: {"value_error", say("Value error, until must be after since")},
}

// maxEchoed bounds, in characters, a refused value echoed in a message.
const maxEchoed = 40

// describe words one field error.
func describe(f domain.FieldError) (typ, msg string) {
	w, ok := codeWording[f.Code]
	if !ok {
		// A code without words still answers a 422 a program can read;
		// TestEveryCodeHasWords keeps this branch for the unforeseen.
		return "value_error", "Value error, " + string(f.Code)
	}
	return w.typ, w.msg(f)
}

// validationItems words the fields of ve as a FastAPI 422 list, each
// located in loc ("body", "query" or "path"), then at its field if it has one.
func validationItems(loc string, ve *domain.ValidationError) []validationItem {
	items := make([]validationItem, 0, len(ve.Fields))
	for _, f := range ve.Fields {
		l := []any{loc}
		if f.Field != "" {
			l = append(l, f.Field)
		}
		typ, msg := describe(f)
		items = append(items, validationItem{Loc: l, Msg: msg, Type: typ})
	}
	return items
}

// first is the one value of codes that have one.
func first(values []string) string {
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

func say(msg string) func(domain.FieldError) string {
	return func(domain.FieldError) string { return msg }
}

// characters is pydantic's "1 character", "3 characters".
func characters(n int) string {
	if n == 1 {
		return "1 character"
	}
	return strconv.Itoa(n) + " characters"
}

// oneOf is pydantic's list of choices: "'a', 'b' or 'c'".
func oneOf(values []string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "'" + v + "'"
	}
	if len(quoted) < 2 {
		return strings.Join(quoted, "")
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " or " + quoted[len(quoted)-1]
}

// shorten keeps the first n characters of s, marking a cut with "…".
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// FieldMessage is the words the API answers a field error with, for other
// edges (the command line) that show it to a person.
func FieldMessage(f domain.FieldError) string {
	_, msg := describe(f)
	return msg
}
