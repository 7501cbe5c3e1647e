package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Limits of SearchUsers.
const (
	MaxSearchLen = 100  // characters of UserSearch.Q
	maxCursorLen = 1024 // bytes of an encoded cursor; ours are under 300
)

// Paging modes of SearchUsers.
const (
	PagingOffset = "offset"
	PagingCursor = "cursor"
)

// userSorts are the orders SearchUsers knows, by name. Each breaks ties by
// id in the same direction.
var userSorts = map[string]ports.UserSort{
	"created_at":  {By: ports.SortByCreatedAt},
	"-created_at": {By: ports.SortByCreatedAt, Desc: true},
	"email":       {By: ports.SortByEmail},
	"-email":      {By: ports.SortByEmail, Desc: true},
	"nickname":    {By: ports.SortByNickname},
	"-nickname":   {By: ports.SortByNickname, Desc: true},
}

// sortNames are the keys of userSorts, in the order errors list them.
var sortNames = []string{"created_at", "-created_at", "email", "-email", "nickname", "-nickname"}

// Codes of SearchUsers' own checks.
const (
	CodeSearchInvalidUTF8       domain.Code = "search_invalid_utf8"        // Q is not valid UTF-8
	CodeSearchContainsNUL       domain.Code = "search_contains_nul"        // Q holds a NUL character
	CodeCursorNeedsCursorPaging domain.Code = "cursor_needs_cursor_paging" // a Cursor with PagingOffset
	CodeSkipInCursorPaging      domain.Code = "skip_in_cursor_paging"      // Skip set with cursor paging
	CodeInvalidCursor           domain.Code = "invalid_cursor"             // not a cursor this service made
	CodeCursorOtherSearch       domain.Code = "cursor_other_search"        // a cursor of another search's filters or sort
)

// UserSearch is a search of users by staff. Zero fields select everything.
type UserSearch struct {
	// Q keeps users whose email or nickname starts with it, in any case;
	// 1 to MaxSearchLen characters when set.
	Q              string
	Role           string // a role's name
	IsProfessional *bool
	EmailVerified  *bool
	IsLocked       *bool
	Sort           string // "created_at" (default), "-created_at", "email", "-email", "nickname", "-nickname"
	// Paging is PagingOffset (default, with Skip) or PagingCursor (with
	// Cursor, empty for the first page). A Cursor implies PagingCursor.
	Paging string
	Cursor string // the NextCursor of the previous page, with the same filters and sort
	Skip   int    // offset paging only; from 0
	Limit  int    // MinPageSize..MaxPageSize
}

// UserSearchPage is one page of a search.
type UserSearchPage struct {
	Users []*domain.User
	Limit int
	// Cursor reports cursor paging: then NextCursor is set (empty on the
	// last page) and Total and Skip are not, as counting is not free.
	Cursor     bool
	NextCursor string
	Total      int // users the filters select, in every page
	Skip       int
}

// SearchUsers returns a page of the users a search selects, to staff.
// Offset paging counts them too; cursor paging (keyset) costs the same on
// every page, however deep.
func (s *Service) SearchUsers(ctx context.Context, actor domain.Actor, in UserSearch) (UserSearchPage, error) {
	page, err := s.searchUsers(ctx, actor, in)
	if err != nil {
		return UserSearchPage{}, fmt.Errorf("search users: %w", err)
	}
	return page, nil
}

func (s *Service) searchUsers(ctx context.Context, actor domain.Actor, in UserSearch) (UserSearchPage, error) {
	if err := actor.CheckAdministers(); err != nil {
		return UserSearchPage{}, err
	}
	q, filters, err := in.query()
	if err != nil {
		return UserSearchPage{}, err
	}
	if !q.WithTotal {
		if in.Cursor != "" {
			after, err := decodeCursor(in.Cursor, in.sortName(), filters, q.Sort.By)
			if err != nil {
				return UserSearchPage{}, err
			}
			q.After = &after
		}
		q.Limit++ // one more than asked tells whether another page exists
	}
	if q.IsLocked != nil && s.cfg.Lockout.Duration > 0 {
		q.LocksLapsedAt = s.clock.Now().Add(-s.cfg.Lockout.Duration)
	}
	users, total, err := s.users.ListUsers(ctx, q)
	if err != nil {
		return UserSearchPage{}, err
	}
	for _, u := range users {
		s.asOfNow(u)
	}
	if q.WithTotal {
		return UserSearchPage{Users: users, Total: total, Skip: in.Skip, Limit: in.Limit}, nil
	}
	page := UserSearchPage{Users: users, Limit: in.Limit, Cursor: true}
	if len(users) > in.Limit {
		page.Users = users[:in.Limit]
		last := ports.CursorAt(page.Users[in.Limit-1], q.Sort.By)
		page.NextCursor = encodeCursor(in.sortName(), filters, last)
	}
	return page, nil
}

func (in UserSearch) sortName() string {
	if in.Sort == "" {
		return "created_at"
	}
	return in.Sort
}

// query validates the search and returns the store query (without its
// cursor) and a digest of the filters and sort, which cursors carry.
func (in UserSearch) query() (ports.UserQuery, string, error) {
	v := &domain.ValidationError{}
	q := ports.UserQuery{
		Prefix:         strings.ToLower(in.Q),
		IsProfessional: in.IsProfessional,
		EmailVerified:  in.EmailVerified,
		IsLocked:       in.IsLocked,
		Offset:         in.Skip,
		Limit:          in.Limit,
	}
	switch {
	case !utf8.ValidString(in.Q):
		v.Add(domain.FieldError{Field: "q", Code: CodeSearchInvalidUTF8})
	case strings.ContainsRune(in.Q, 0):
		v.Add(domain.FieldError{Field: "q", Code: CodeSearchContainsNUL})
	case utf8.RuneCountInString(in.Q) > MaxSearchLen:
		v.Add(domain.FieldError{Field: "q", Code: domain.CodeTooLong, Max: MaxSearchLen})
	}
	if in.Role != "" {
		role, err := domain.ParseRole(in.Role)
		v.Merge(err)
		q.Role = role
	}
	sort, ok := userSorts[in.sortName()]
	if !ok {
		v.Add(domain.FieldError{Field: "sort", Code: domain.CodeNotOneOf, Values: slices.Clone(sortNames)})
	}
	q.Sort = sort
	cursorPaging := in.Cursor != ""
	switch in.Paging {
	case "", PagingOffset:
		if in.Paging == PagingOffset && in.Cursor != "" {
			v.Add(domain.FieldError{Field: "cursor", Code: CodeCursorNeedsCursorPaging})
		}
	case PagingCursor:
		cursorPaging = true
	default:
		v.Add(domain.FieldError{Field: "paging", Code: domain.CodeNotOneOf, Values: []string{PagingOffset, PagingCursor}})
	}
	q.WithTotal = !cursorPaging
	if in.Skip < 0 {
		v.Add(domain.FieldError{Field: "skip", Code: domain.CodeTooSmall, Min: 0})
	} else if in.Skip > 0 && cursorPaging {
		v.Add(domain.FieldError{Field: "skip", Code: CodeSkipInCursorPaging})
	}
	if in.Limit < MinPageSize {
		v.Add(domain.FieldError{Field: "limit", Code: domain.CodeTooSmall, Min: MinPageSize})
	} else if in.Limit > MaxPageSize {
		v.Add(domain.FieldError{Field: "limit", Code: domain.CodeTooLarge, Max: MaxPageSize})
	}
	if err := v.Err(); err != nil {
		return ports.UserQuery{}, "", err
	}
	return q, filterDigest(q, in.sortName()), nil
}

// filterDigest identifies the filters and sort of q, so that a cursor is
// refused by any other search.
func filterDigest(q ports.UserQuery, sort string) string {
	flag := func(b *bool) string {
		if b == nil {
			return "-"
		}
		return fmt.Sprint(*b)
	}
	canon, _ := json.Marshal([]string{ // strings always marshal
		q.Prefix, q.Role.String(), flag(q.IsProfessional), flag(q.EmailVerified), flag(q.IsLocked), sort,
	})
	sum := sha256.Sum256(canon)
	return base64.RawURLEncoding.EncodeToString(sum[:9])
}

// cursorJSON is a cursor before base64url: the position of the last user
// of a page in a sort, and the digest of the search that made it. Cursors
// are opaque to clients but not secret, nor signed: a forged one only
// chooses where a page starts.
type cursorJSON struct {
	Sort    string `json:"s"`
	Key     string `json:"k"`
	ID      string `json:"i"`
	Filters string `json:"f"`
}

func encodeCursor(sort, filters string, at ports.UserCursor) string {
	c := cursorJSON{Sort: sort, Key: at.Text, ID: at.ID, Filters: filters}
	if userSorts[sort].By == ports.SortByCreatedAt {
		c.Key = at.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor made by the search with this sort and filter
// digest. Anything else fails with a ValidationError on "cursor".
func decodeCursor(s, sort, filters string, by ports.UserSortKey) (ports.UserCursor, error) {
	invalid := domain.FieldInvalid(domain.FieldError{Field: "cursor", Code: CodeInvalidCursor})
	if len(s) > maxCursorLen {
		return ports.UserCursor{}, invalid
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return ports.UserCursor{}, invalid
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c cursorJSON
	if err := dec.Decode(&c); err != nil || dec.More() {
		return ports.UserCursor{}, invalid
	}
	if c.Sort != sort || c.Filters != filters {
		return ports.UserCursor{}, domain.FieldInvalid(domain.FieldError{Field: "cursor", Code: CodeCursorOtherSearch})
	}
	id, ok := domain.CanonicalUserID(c.ID)
	if !ok || id != c.ID {
		return ports.UserCursor{}, invalid
	}
	at := ports.UserCursor{ID: id}
	if by == ports.SortByCreatedAt {
		t, err := time.Parse(time.RFC3339Nano, c.Key)
		// Years outside 1..9999 in UTC cannot be a user's creation time,
		// and a store comparing times as text would misorder them.
		if err != nil || t.UTC().Year() < 1 || t.UTC().Year() > 9999 {
			return ports.UserCursor{}, invalid
		}
		at.CreatedAt = t.UTC()
	} else {
		if !utf8.ValidString(c.Key) || strings.ContainsRune(c.Key, 0) || utf8.RuneCountInString(c.Key) > domain.MaxEmailLen {
			return ports.UserCursor{}, invalid
		}
		at.Text = c.Key
	}
	return at, nil
}
