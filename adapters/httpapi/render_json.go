package httpapi

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// The user is the body of most answers, and encoding/json spent a tenth of
// the CPU of a cached GET /users/me walking its fields by reflection. The
// appenders below write the same bytes (TestUserJSONAsEncodingJSON and
// FuzzUserJSON compare them with encoding/json's, HTML escaping included),
// without reflection; writeJSON uses them for the types that have one.

// jsonAppender is a body that writes its own JSON.
type jsonAppender interface {
	appendJSON(b []byte) []byte
}

func (u userJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, u.ID)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, u.Email)
	b = append(b, `,"nickname":`...)
	b = appendJSONString(b, u.Nickname)
	b = append(b, `,"first_name":`...)
	b = appendOptionalString(b, u.FirstName)
	b = append(b, `,"last_name":`...)
	b = appendOptionalString(b, u.LastName)
	b = append(b, `,"bio":`...)
	b = appendOptionalString(b, u.Bio)
	b = append(b, `,"preferred_language":`...)
	b = appendOptionalString(b, u.PreferredLanguage)
	b = append(b, `,"profile_picture_url":`...)
	b = appendOptionalString(b, u.ProfilePictureURL)
	b = append(b, `,"linkedin_profile_url":`...)
	b = appendOptionalString(b, u.LinkedInProfileURL)
	b = append(b, `,"github_profile_url":`...)
	b = appendOptionalString(b, u.GitHubProfileURL)
	b = append(b, `,"role":`...)
	b = appendJSONString(b, u.Role)
	b = append(b, `,"is_professional":`...)
	b = strconv.AppendBool(b, u.IsProfessional)
	b = append(b, `,"professional_status_updated_at":`...)
	b = appendOptionalTime(b, u.ProfessionalStatusUpdatedAt)
	b = append(b, `,"email_verified":`...)
	b = strconv.AppendBool(b, u.EmailVerified)
	b = append(b, `,"is_locked":`...)
	b = strconv.AppendBool(b, u.IsLocked)
	b = append(b, `,"mfa_enabled":`...)
	b = strconv.AppendBool(b, u.MFAEnabled)
	b = append(b, `,"last_login_at":`...)
	b = appendOptionalTime(b, u.LastLoginAt)
	b = append(b, `,"created_at":`...)
	b = appendJSONTime(b, u.CreatedAt)
	b = append(b, `,"updated_at":`...)
	b = appendJSONTime(b, u.UpdatedAt)
	b = append(b, `,"invitation_pending":`...)
	b = strconv.AppendBool(b, u.InvitationPending)
	b = append(b, `,"links":`...)
	b = appendLinks(b, u.Links)
	return append(b, '}')
}

func (p userPageJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"items":`...)
	b = appendUsers(b, p.Items)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(p.Total), 10)
	b = append(b, `,"page":`...)
	b = strconv.AppendInt(b, int64(p.Page), 10)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, int64(p.Size), 10)
	b = append(b, `,"links":`...)
	b = appendLinks(b, p.Links)
	return append(b, '}')
}

func (p userCursorPageJSON) appendJSON(b []byte) []byte {
	b = append(b, `{"items":`...)
	b = appendUsers(b, p.Items)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, int64(p.Size), 10)
	b = append(b, `,"next_cursor":`...)
	b = appendOptionalString(b, p.NextCursor)
	b = append(b, `,"links":`...)
	b = appendLinks(b, p.Links)
	return append(b, '}')
}

// appendArray appends items as an array, each by appendItem; nil is
// null, as encoding/json has it.
func appendArray[T any](b []byte, items []T, appendItem func([]byte, T) []byte) []byte {
	if items == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, item := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendItem(b, item)
	}
	return append(b, ']')
}

func appendUsers(b []byte, users []userJSON) []byte {
	return appendArray(b, users, func(b []byte, u userJSON) []byte { return u.appendJSON(b) })
}

func appendLinks(b []byte, links []link) []byte {
	return appendArray(b, links, func(b []byte, l link) []byte {
		b = append(b, `{"rel":`...)
		b = appendJSONString(b, l.Rel)
		b = append(b, `,"href":`...)
		b = appendJSONString(b, l.Href)
		b = append(b, `,"method":`...)
		b = appendJSONString(b, l.Method)
		return append(b, '}')
	})
}

func appendOptionalString(b []byte, s *string) []byte {
	if s == nil {
		return append(b, "null"...)
	}
	return appendJSONString(b, *s)
}

func appendOptionalTime(b []byte, t *time.Time) []byte {
	if t == nil {
		return append(b, "null"...)
	}
	return appendJSONTime(b, *t)
}

// appendJSONTime appends t as time.Time.MarshalJSON does (RFC 3339 with
// the nanoseconds it has). Times here are the database's: years 0 to 9999.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json does by default: <, >
// and & escaped for HTML, control characters, invalid UTF-8 as U+FFFD, and
// U+2028 and U+2029 escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
