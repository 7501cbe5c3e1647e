package httpapi

import (
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// searchParams are the query parameters of GET /users/ beyond the seed's
// skip and limit. A request with none of them is the seed's listing.
var searchParams = []string{"q", "role", "is_professional", "email_verified", "is_locked", "sort", "paging", "cursor"}

// isSearch reports whether a GET /users/ request uses a search parameter.
func isSearch(r *http.Request) bool {
	qs := r.URL.Query()
	for _, p := range searchParams {
		if _, ok := qs[p]; ok {
			return true
		}
	}
	return false
}

// searchUsers answers GET /users/ with search parameters. Paged by offset
// (the default) it is the seed's page, its total counting what the filters
// select; paged by cursor (paging=cursor, or a cursor) it is a
// userCursorPageJSON. Links carry the filters and sort. qe holds what
// reading skip and limit found wrong.
func searchUsers(w http.ResponseWriter, r *http.Request, log *slog.Logger, uc userLister, actor domain.Actor,
	qe *queryErrors, skip, limit int,
) {
	qs := r.URL.Query()
	in := app.UserSearch{
		Q:              queryText(qs, qe, "q"),
		Role:           queryText(qs, qe, "role"),
		IsProfessional: queryBool(qs, qe, "is_professional"),
		EmailVerified:  queryBool(qs, qe, "email_verified"),
		IsLocked:       queryBool(qs, qe, "is_locked"),
		Sort:           queryText(qs, qe, "sort"),
		Paging:         queryText(qs, qe, "paging"),
		Cursor:         queryText(qs, qe, "cursor"),
		Skip:           skip,
		Limit:          limit,
	}
	if writeDecodeError(w, qe.err()) {
		return
	}
	page, err := uc.SearchUsers(r.Context(), actor, in)
	if err != nil {
		writeError(w, r, log, "query", err)
		return
	}
	filters := searchFilters(in)
	if !page.Cursor {
		writeJSON(w, http.StatusOK, renderPage(baseURL(r), "/users/", page.Users, page.Total, page.Skip, page.Limit, filters))
		return
	}
	self := filters
	self.Set("limit", strconv.Itoa(page.Limit))
	if in.Cursor != "" {
		self.Set("cursor", in.Cursor)
	} else {
		self.Set("paging", app.PagingCursor)
	}
	writeJSON(w, http.StatusOK, renderCursorPage(baseURL(r), "/users/", page.Users, self, page.NextCursor))
}

// searchFilters are the filters and sort of in as query parameters, for
// links.
func searchFilters(in app.UserSearch) url.Values {
	out := url.Values{}
	for k, s := range map[string]string{"q": in.Q, "role": in.Role, "sort": in.Sort} {
		if s != "" {
			out.Set(k, s)
		}
	}
	for k, b := range map[string]*bool{"is_professional": in.IsProfessional, "email_verified": in.EmailVerified, "is_locked": in.IsLocked} {
		if b != nil {
			out.Set(k, strconv.FormatBool(*b))
		}
	}
	return out
}

// queryText reads a text query parameter (the last, if repeated). Present,
// it must not be empty.
func queryText(qs url.Values, qe *queryErrors, name string) string {
	vals, ok := qs[name]
	if !ok {
		return ""
	}
	s := vals[len(vals)-1]
	if s == "" {
		qe.fail(name, "string_too_short", "String should have at least 1 character")
	}
	return s
}

// queryBool reads a boolean query parameter (the last, if repeated); nil
// when absent.
func queryBool(qs url.Values, qe *queryErrors, name string) *bool {
	vals, ok := qs[name]
	if !ok {
		return nil
	}
	b, err := strconv.ParseBool(vals[len(vals)-1])
	if err != nil {
		qe.fail(name, "bool_parsing", "Input should be a valid boolean, unable to interpret input")
		return nil
	}
	return &b
}
