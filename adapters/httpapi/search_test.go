package httpapi_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// searchHarness is a harness holding the bootstrap ADMIN and nine users:
// emails <name>@example.com, nicknames N_<Name>, created two by two (ties on
// created_at); the first six verified (AUTHENTICATED), of which Bob and Carol
// professional and dave locked; the last three ANONYMOUS.
func searchHarness(t *testing.T) (*harness, map[string]string) {
	t.Helper()
	h := newHarness(t)
	ids := map[string]string{"root": h.admin.ID}
	names := []string{"Alice", "alice_b", "Bob", "Carol", "dave", "Eve", "frank", "Grace", "heidi"}
	admin := h.admin.actor(domain.RoleAdmin)
	for i, name := range names {
		if i%2 == 0 {
			h.clock.Advance(time.Second)
		}
		email := strings.ToLower(name) + "@example.com"
		u, err := h.svc.Register(context.Background(), app.NewUserInput{Email: email, Nickname: "N_" + name, Password: testPassword})
		if err != nil {
			t.Fatalf("register %s: %v", email, err)
		}
		ids[name] = u.ID()
		if i < 6 {
			id, token := h.verificationToken(email)
			if err := h.svc.VerifyEmail(context.Background(), id, token); err != nil {
				t.Fatalf("verify %s: %v", email, err)
			}
		}
	}
	for _, name := range []string{"Bob", "Carol"} {
		if _, err := h.svc.UpgradeToProfessional(context.Background(), admin, ids[name]); err != nil {
			t.Fatal(err)
		}
	}
	h.lockByHTTP("dave@example.com")
	return h, ids
}

// emailsOf lists the emails of a page's items.
func emailsOf(items []userBody) []string {
	out := make([]string, 0, len(items))
	for _, u := range items {
		out = append(out, u.Email)
	}
	return out
}

// cursorPageBody is a page paged by cursor.
type cursorPageBody struct {
	Items      []userBody `json:"items"`
	Size       int        `json:"size"`
	NextCursor *string    `json:"next_cursor"`
	Links      []linkBody `json:"links"`
}

// wantKeys checks the top-level keys of a JSON body.
func wantKeys(tb testing.TB, body []byte, keys ...string) {
	tb.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		tb.Fatalf("body is not a JSON object: %s", body)
	}
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, slices.Sorted(slices.Values(keys))) {
		tb.Errorf("body keys %v, want %v", got, keys)
	}
}

// linkQueries maps each link's rel to its query, checking it is an
// absolute GET of http://example.com/users/.
func linkQueries(tb testing.TB, links []linkBody) map[string]url.Values {
	tb.Helper()
	out := map[string]url.Values{}
	for _, l := range links {
		u, err := url.Parse(l.Href)
		if err != nil || !u.IsAbs() || u.Host != "example.com" || u.Path != "/users/" || l.Method != http.MethodGet {
			tb.Errorf("link %+v is not an absolute GET of http://example.com/users/", l)
			continue
		}
		out[l.Rel] = u.Query()
	}
	return out
}

func TestSearchUsersOffsetPaging(t *testing.T) {
	t.Parallel()
	h, _ := searchHarness(t)
	for _, tc := range []struct {
		query  string
		total  int
		emails []string // of the page
		links  map[string]string
	}{
		{"?q=N_A&limit=1", 2, []string{"alice@example.com"}, map[string]string{
			"self":  "limit=1&q=N_A&skip=0",
			"first": "limit=1&q=N_A&skip=0",
			"last":  "limit=1&q=N_A&skip=1",
			"next":  "limit=1&q=N_A&skip=1",
		}},
		{"?q=alice&skip=1&limit=1&sort=-email", 2, []string{"alice@example.com"}, map[string]string{
			"self":  "limit=1&q=alice&skip=1&sort=-email",
			"first": "limit=1&q=alice&skip=0&sort=-email",
			"last":  "limit=1&q=alice&skip=1&sort=-email",
			"prev":  "limit=1&q=alice&skip=0&sort=-email",
		}},
		{"?role=AUTHENTICATED&is_professional=true&sort=-nickname", 2, []string{"carol@example.com", "bob@example.com"}, map[string]string{
			"self":  "is_professional=true&limit=10&role=AUTHENTICATED&skip=0&sort=-nickname",
			"first": "is_professional=true&limit=10&role=AUTHENTICATED&skip=0&sort=-nickname",
			"last":  "is_professional=true&limit=10&role=AUTHENTICATED&skip=0&sort=-nickname",
		}},
		{"?email_verified=false&sort=email", 3, []string{"frank@example.com", "grace@example.com", "heidi@example.com"}, map[string]string{
			"self":  "email_verified=false&limit=10&skip=0&sort=email",
			"first": "email_verified=false&limit=10&skip=0&sort=email",
			"last":  "email_verified=false&limit=10&skip=0&sort=email",
		}},
		{"?is_locked=1&role=AUTHENTICATED", 1, []string{"dave@example.com"}, map[string]string{
			"self":  "is_locked=true&limit=10&role=AUTHENTICATED&skip=0",
			"first": "is_locked=true&limit=10&role=AUTHENTICATED&skip=0",
			"last":  "is_locked=true&limit=10&role=AUTHENTICATED&skip=0",
		}},
		{"?sort=email&limit=3&skip=3", 10, []string{"carol@example.com", "dave@example.com", "eve@example.com"}, map[string]string{
			"self":  "limit=3&skip=3&sort=email",
			"first": "limit=3&skip=0&sort=email",
			"last":  "limit=3&skip=9&sort=email",
			"next":  "limit=3&skip=6&sort=email",
			"prev":  "limit=3&skip=0&sort=email",
		}},
		{"?q=nobody", 0, []string{}, map[string]string{
			"self":  "limit=10&q=nobody&skip=0",
			"first": "limit=10&q=nobody&skip=0",
			"last":  "limit=10&q=nobody&skip=0",
		}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			rec := h.do(http.MethodGet, "/users/"+tc.query, h.admin.Token, nil)
			wantStatus(t, rec, http.StatusOK)
			wantKeys(t, rec.Body.Bytes(), "items", "total", "page", "size", "links")
			var p pageBody
			decodeBody(t, rec, &p)
			if p.Total != tc.total || p.Size != len(tc.emails) {
				t.Errorf("total %d, size %d; want %d, %d", p.Total, p.Size, tc.total, len(tc.emails))
			}
			if diff := cmp.Diff(tc.emails, emailsOf(p.Items)); diff != "" {
				t.Errorf("emails (-want +got):\n%s", diff)
			}
			got := map[string]string{}
			for rel, q := range linkQueries(t, p.Links) {
				got[rel] = q.Encode()
			}
			if diff := cmp.Diff(tc.links, got); diff != "" {
				t.Errorf("links (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSearchUsersCursorWalk follows next links from paging=cursor to the
// last page, for several sorts and filters: every user once, in the order
// the same search paged by offset gives.
func TestSearchUsersCursorWalk(t *testing.T) {
	t.Parallel()
	h, _ := searchHarness(t)
	for _, filters := range []string{
		"sort=created_at", "sort=-created_at", "sort=email", "sort=-email", "sort=nickname", "sort=-nickname",
		"q=N_", "q=n_&sort=-created_at", "email_verified=true&sort=nickname", "role=ANONYMOUS&sort=-email",
	} {
		t.Run(filters, func(t *testing.T) {
			t.Parallel()
			rec := h.do(http.MethodGet, "/users/?limit=100&"+filters, h.admin.Token, nil)
			wantStatus(t, rec, http.StatusOK)
			var all pageBody
			decodeBody(t, rec, &all)
			want := emailsOf(all.Items)
			wantFilters, err := url.ParseQuery(filters)
			if err != nil {
				t.Fatal(err)
			}

			var got []string
			target := "/users/?paging=cursor&limit=2&" + filters
			for pages := 1; ; pages++ {
				rec := h.do(http.MethodGet, target, h.admin.Token, nil)
				wantStatus(t, rec, http.StatusOK)
				wantKeys(t, rec.Body.Bytes(), "items", "size", "next_cursor", "links")
				var p cursorPageBody
				decodeBody(t, rec, &p)
				if p.Size != len(p.Items) || p.Size > 2 {
					t.Fatalf("page %d: size %d, %d items, limit 2", pages, p.Size, len(p.Items))
				}
				got = append(got, emailsOf(p.Items)...)
				links := linkQueries(t, p.Links)
				self, ok := links["self"]
				if !ok {
					t.Fatalf("page %d: no self link: %+v", pages, p.Links)
				}
				reqQuery, _ := url.ParseQuery(strings.TrimPrefix(target, "/users/?"))
				if diff := cmp.Diff(reqQuery, self); diff != "" {
					t.Errorf("page %d: self link query (-request +link):\n%s", pages, diff)
				}
				next, hasNext := links["next"]
				if p.NextCursor == nil {
					if hasNext {
						t.Errorf("page %d: a next link and no next_cursor", pages)
					}
					break
				}
				if !hasNext || next.Get("cursor") != *p.NextCursor || next.Get("limit") != "2" || next.Has("paging") {
					t.Fatalf("page %d: next link %v for next_cursor %q", pages, next, *p.NextCursor)
				}
				for k := range wantFilters {
					if next.Get(k) != wantFilters.Get(k) {
						t.Errorf("page %d: the next link has %s=%q, want %q", pages, k, next.Get(k), wantFilters.Get(k))
					}
				}
				if len(p.Items) != 2 {
					t.Errorf("page %d: %d users and a next page", pages, len(p.Items))
				}
				target = "/users/?" + next.Encode()
				if pages > 20 {
					t.Fatal("the walk does not end")
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("walked (-offset order +cursor order):\n%s", diff)
			}
		})
	}
}

func TestSearchUsersRefused(t *testing.T) {
	t.Parallel()
	h, _ := searchHarness(t)
	rec := h.do(http.MethodGet, "/users/?paging=cursor&limit=1&role=AUTHENTICATED", h.admin.Token, nil)
	wantStatus(t, rec, http.StatusOK)
	var p cursorPageBody
	decodeBody(t, rec, &p)
	if p.NextCursor == nil {
		t.Fatalf("no next_cursor: %s", rec.Body)
	}
	cursor := url.QueryEscape(*p.NextCursor)
	for _, tc := range []struct{ query, field string }{
		{"?q=", "q"},
		{"?q=" + strings.Repeat("x", 101), "q"},
		{"?q=%FF", "q"},
		{"?q=a%00", "q"},
		{"?role=", "role"},
		{"?role=ROOT", "role"},
		{"?role=admin", "role"},
		{"?is_professional=maybe", "is_professional"},
		{"?email_verified=", "email_verified"},
		{"?is_locked=yes", "is_locked"},
		{"?sort=name", "sort"},
		{"?sort=created_at,email", "sort"},
		{"?sort=", "sort"},
		{"?paging=pages", "paging"},
		{"?paging=", "paging"},
		{"?cursor=", "cursor"},
		{"?cursor=garbage", "cursor"},
		{"?cursor=" + cursor, "cursor"},                   // no role: another search
		{"?cursor=" + cursor + "&role=MANAGER", "cursor"}, // another role
		{"?cursor=" + cursor + "&role=AUTHENTICATED&sort=email", "cursor"}, // another sort
		{"?cursor=" + cursor + "&role=AUTHENTICATED&q=a", "cursor"},        // a filter more
		{"?cursor=" + cursor[:len(cursor)/2] + "&role=AUTHENTICATED", "cursor"},
		{"?cursor=" + cursor + "&role=AUTHENTICATED&paging=offset", "cursor"},
		{"?cursor=" + cursor + "&role=AUTHENTICATED&skip=2", "skip"},
		{"?paging=cursor&skip=2", "skip"},
		{"?paging=cursor&limit=0", "limit"},
		{"?paging=cursor&limit=101", "limit"},
		{"?q=a&limit=abc", "limit"},
		{"?q=a&skip=-1", "skip"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			t.Parallel()
			wantValidation(t, h.do(http.MethodGet, "/users/"+tc.query, h.admin.Token, nil), "query", tc.field)
		})
	}
	// The same cursor with its search answers.
	wantStatus(t, h.do(http.MethodGet, "/users/?cursor="+cursor+"&role=AUTHENTICATED&limit=5", h.admin.Token, nil), http.StatusOK)

	t.Run("not staff", func(t *testing.T) {
		t.Parallel()
		user := h.user(domain.RoleAuthenticated)
		for _, query := range []string{"?q=a", "?paging=cursor", "?cursor=" + cursor + "&role=AUTHENTICATED", "?sort=bad"} {
			wantForbidden(t, h.do(http.MethodGet, "/users/"+query, user.Token, nil))
		}
		wantUnauthorized(t, h.do(http.MethodGet, "/users/?q=a", "", nil))
	})
}

// TestSearchUsersParsing checks what the handler hands the use cases: the
// seed's query goes to ListUsers, anything else to SearchUsers.
func TestSearchUsersParsing(t *testing.T) {
	t.Parallel()
	u := mockUser(t)
	yes, no := true, false
	for _, tc := range []struct {
		query string
		want  app.UserSearch
	}{
		{"?q=Ab&role=ADMIN&is_professional=1&email_verified=false&is_locked=TRUE&sort=-email&skip=3&limit=7", app.UserSearch{
			Q: "Ab", Role: "ADMIN", IsProfessional: &yes, EmailVerified: &no, IsLocked: &yes, Sort: "-email", Skip: 3, Limit: 7,
		}},
		{"?paging=cursor", app.UserSearch{Paging: "cursor", Limit: 10}},
		{"?cursor=abc&limit=5", app.UserSearch{Cursor: "abc", Limit: 5}},
		{"?q=a&q=b&unknown=1", app.UserSearch{Q: "b", Limit: 10}},
		{"?q=%C3%A9t%C3%A9+x", app.UserSearch{Q: "été x", Limit: 10}},
		{"?sort=nickname", app.UserSearch{Sort: "nickname", Limit: 10}},
	} {
		m := &httpapi.UserListerMock{
			SearchUsersFunc: func(_ context.Context, _ domain.Actor, in app.UserSearch) (app.UserSearchPage, error) {
				return app.UserSearchPage{Users: []*domain.User{u}, Limit: in.Limit, Cursor: in.Paging == "cursor", NextCursor: "nxt"}, nil
			},
		}
		srv, _ := newMockServer(parts{Authenticator: asAdmin(), UserLister: m})
		rec := serve(srv, newRequest(t, http.MethodGet, "/users/"+tc.query, mockToken, nil))
		wantStatus(t, rec, http.StatusOK)
		calls := m.SearchUsersCalls()
		if len(calls) != 1 {
			t.Fatalf("%s: %d SearchUsers calls", tc.query, len(calls))
		}
		if diff := cmp.Diff(tc.want, calls[0].In); diff != "" {
			t.Errorf("%s: SearchUsers input (-want +got):\n%s", tc.query, diff)
		}
	}

	// A cursor page as the use case returned it.
	m := &httpapi.UserListerMock{
		SearchUsersFunc: func(_ context.Context, _ domain.Actor, in app.UserSearch) (app.UserSearchPage, error) {
			return app.UserSearchPage{Users: []*domain.User{u}, Limit: in.Limit, Cursor: true, NextCursor: "nxt"}, nil
		},
	}
	srv, _ := newMockServer(parts{Authenticator: asAdmin(), UserLister: m})
	rec := serve(srv, newRequest(t, http.MethodGet, "/users/?paging=cursor&limit=1&q=M&is_locked=false", mockToken, nil))
	wantStatus(t, rec, http.StatusOK)
	var p cursorPageBody
	decodeBody(t, rec, &p)
	links := map[string]string{}
	for rel, q := range linkQueries(t, p.Links) {
		links[rel] = q.Encode()
	}
	if diff := cmp.Diff(map[string]string{
		"self": "is_locked=false&limit=1&paging=cursor&q=M",
		"next": "cursor=nxt&is_locked=false&limit=1&q=M",
	}, links); diff != "" {
		t.Errorf("links (-want +got):\n%s", diff)
	}
	if p.Size != 1 || p.NextCursor == nil || *p.NextCursor != "nxt" || len(p.Items) != 1 || p.Items[0].ID != u.ID() {
		t.Errorf("page %+v", p)
	}

	// The seed's query is the seed's listing.
	lister := &httpapi.UserListerMock{
		ListUsersFunc: func(_ context.Context, _ domain.Actor, skip, limit int) (app.UserPage, error) {
			return app.UserPage{Skip: skip, Limit: limit}, nil
		},
	}
	srv, _ = newMockServer(parts{Authenticator: asAdmin(), UserLister: lister})
	for _, query := range []string{"", "?skip=1&limit=2", "?other=1"} {
		wantStatus(t, serve(srv, newRequest(t, http.MethodGet, "/users/"+query, mockToken, nil)), http.StatusOK)
	}
	if n := len(lister.ListUsersCalls()); n != 3 {
		t.Errorf("%d ListUsers calls, want 3", n)
	}
}

// TestSearchRefusesAQueryItCannotReadWhole: past 10,000 parameters Go's
// parser stops; the request is refused rather than answered from part of it.
func TestSearchRefusesAQueryItCannotReadWhole(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	query := "q=a" + strings.Repeat("&x=1", 10_001) + "&limit=5"
	rec := h.do(http.MethodGet, "/users/?"+query, h.admin.Token, nil)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422; body %s", rec.Code, rec.Body)
	}
	rec = h.do(http.MethodGet, "/users/?q=%zz", h.admin.Token, nil)
	if rec.Code != http.StatusUnprocessableEntity {
		t.Fatalf("bad escape: status %d, want 422", rec.Code)
	}
}
