package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// link is a HATEOAS link.
type link struct {
	Rel    string `json:"rel"`
	Href   string `json:"href"`
	Method string `json:"method"`
}

// userJSON is a user as every response shows it: never a hash or a token.
type userJSON struct {
	ID                          string     `json:"id"`
	Email                       string     `json:"email"`
	Nickname                    string     `json:"nickname"`
	FirstName                   *string    `json:"first_name"`
	LastName                    *string    `json:"last_name"`
	Bio                         *string    `json:"bio"`
	PreferredLanguage           *string    `json:"preferred_language"`
	ProfilePictureURL           *string    `json:"profile_picture_url"`
	LinkedInProfileURL          *string    `json:"linkedin_profile_url"`
	GitHubProfileURL            *string    `json:"github_profile_url"`
	Role                        string     `json:"role"`
	IsProfessional              bool       `json:"is_professional"`
	ProfessionalStatusUpdatedAt *time.Time `json:"professional_status_updated_at"`
	EmailVerified               bool       `json:"email_verified"`
	IsLocked                    bool       `json:"is_locked"`
	MFAEnabled                  bool       `json:"mfa_enabled"`
	LastLoginAt                 *time.Time `json:"last_login_at"`
	CreatedAt                   time.Time  `json:"created_at"`
	UpdatedAt                   time.Time  `json:"updated_at"`
	InvitationPending           bool       `json:"invitation_pending"`
	Links                       []link     `json:"links"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// renderUser shows u with links based at base (scheme://host).
func renderUser(base string, u *domain.User) userJSON {
	s := u.State()
	self := base + "/users/" + s.ID
	return userJSON{
		ID:                          s.ID,
		Email:                       s.Email,
		Nickname:                    s.Nickname,
		FirstName:                   optional(s.Profile.FirstName),
		LastName:                    optional(s.Profile.LastName),
		Bio:                         optional(s.Profile.Bio),
		PreferredLanguage:           optional(s.Profile.PreferredLanguage),
		ProfilePictureURL:           optional(s.Profile.ProfilePictureURL),
		LinkedInProfileURL:          optional(s.Profile.LinkedInProfileURL),
		GitHubProfileURL:            optional(s.Profile.GitHubProfileURL),
		Role:                        s.Role.String(),
		IsProfessional:              s.IsProfessional,
		ProfessionalStatusUpdatedAt: optionalTime(s.ProfessionalStatusUpdatedAt),
		EmailVerified:               s.EmailVerified,
		IsLocked:                    s.IsLocked,
		MFAEnabled:                  u.MFAEnabled(),
		LastLoginAt:                 optionalTime(s.LastLoginAt),
		CreatedAt:                   s.CreatedAt.UTC(),
		UpdatedAt:                   s.UpdatedAt.UTC(),
		InvitationPending:           s.InvitationPending,
		Links: []link{
			{Rel: "self", Href: self, Method: http.MethodGet},
			{Rel: "update", Href: self, Method: http.MethodPut},
			{Rel: "delete", Href: self, Method: http.MethodDelete},
			{Rel: "upgrade", Href: self + "/upgrade", Method: http.MethodPost},
		},
	}
}

// userPageJSON is the seed's UserListResponse.
type userPageJSON struct {
	Items []userJSON `json:"items"`
	Total int        `json:"total"`
	Page  int        `json:"page"`
	Size  int        `json:"size"`
	Links []link     `json:"links"`
}

// renderPage builds a list page with self, first, last and, where they
// exist, next and prev links. Every link carries the search's filters and
// sort (nil: none).
func renderPage(base, path string, users []*domain.User, total, skip, limit int, filters url.Values) userPageJSON {
	href := func(skip int) string {
		q := url.Values{"skip": {strconv.Itoa(skip)}, "limit": {strconv.Itoa(limit)}}
		for k, vs := range filters {
			q[k] = vs
		}
		return base + path + "?" + q.Encode()
	}
	lastSkip := 0
	if total > 0 {
		lastSkip = ((total - 1) / limit) * limit
	}
	links := []link{
		{Rel: "self", Href: href(skip), Method: http.MethodGet},
		{Rel: "first", Href: href(0), Method: http.MethodGet},
		{Rel: "last", Href: href(lastSkip), Method: http.MethodGet},
	}
	if skip+limit < total {
		links = append(links, link{Rel: "next", Href: href(skip + limit), Method: http.MethodGet})
	}
	if skip > 0 {
		links = append(links, link{Rel: "prev", Href: href(max(skip-limit, 0)), Method: http.MethodGet})
	}
	items := renderUsers(base, users)
	return userPageJSON{Items: items, Total: total, Page: skip/limit + 1, Size: len(items), Links: links}
}

func renderUsers(base string, users []*domain.User) []userJSON {
	items := make([]userJSON, 0, len(users))
	for _, u := range users {
		items = append(items, renderUser(base, u))
	}
	return items
}

// userCursorPageJSON is a page of a search paged by cursor: no count, and
// no page number, which a keyset page does not know.
type userCursorPageJSON struct {
	Items      []userJSON `json:"items"`
	Size       int        `json:"size"`
	NextCursor *string    `json:"next_cursor"`
	Links      []link     `json:"links"`
}

// renderCursorPage builds a page with a self link (the query that asked
// for it) and, unless it is the last, a next link: the same search from
// nextCursor.
func renderCursorPage(base, path string, users []*domain.User, self url.Values, nextCursor string) userCursorPageJSON {
	items := renderUsers(base, users)
	out := userCursorPageJSON{
		Items: items, Size: len(items),
		Links: []link{{Rel: "self", Href: base + path + "?" + self.Encode(), Method: http.MethodGet}},
	}
	if nextCursor != "" {
		out.NextCursor = &nextCursor
		next := url.Values{}
		for k, vs := range self {
			if k != "paging" {
				next[k] = vs
			}
		}
		next.Set("cursor", nextCursor)
		out.Links = append(out.Links, link{Rel: "next", Href: base + path + "?" + next.Encode(), Method: http.MethodGet})
	}
	return out
}
