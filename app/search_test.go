package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/portmock"
)

// seedSearch stores n users straight in the memory store, created in
// threes at the same time: user i has email useri@example.com, nickname
// Nick_i, role MANAGER when i%3 == 0, and is professional when i is even.
func seedSearch(tb testing.TB, e *env, n int) []*domain.User {
	tb.Helper()
	var out []*domain.User
	for i := range n {
		role := domain.RoleAuthenticated
		if i%3 == 0 {
			role = domain.RoleManager
		}
		u, err := domain.NewUser(domain.NewUserParams{
			ID:    fmt.Sprintf("00000000-0000-4000-9000-%012d", (i*7)%n), // ids not in creation order
			Email: fmt.Sprintf("user%02d@example.com", i), Nickname: fmt.Sprintf("Nick_%02d", i),
			PasswordHash: "x", Role: role, Now: t0.Add(time.Duration(i/3) * time.Second),
		})
		if err != nil {
			tb.Fatal(err)
		}
		st := u.State()
		st.IsProfessional = i%2 == 0
		u = domain.RehydrateUser(st)
		if err := e.mem.CreateUser(context.Background(), u); err != nil {
			tb.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

func idsOf(users []*domain.User) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		out = append(out, u.ID())
	}
	return out
}

// searchAll pages through in by cursor, limit at a time, and returns the ids
// in the order visited and the number of pages.
func searchAll(tb testing.TB, e *env, in app.UserSearch) ([]string, int) {
	tb.Helper()
	in.Paging = app.PagingCursor
	var seen []string
	for pages := 1; ; pages++ {
		page, err := e.svc.SearchUsers(context.Background(), adminActor, in)
		if err != nil {
			tb.Fatalf("SearchUsers(%+v): %v", in, err)
		}
		if !page.Cursor || page.Total != 0 {
			tb.Fatalf("a cursor page: Cursor %v, Total %d", page.Cursor, page.Total)
		}
		seen = append(seen, idsOf(page.Users)...)
		if page.NextCursor == "" {
			return seen, pages
		}
		if len(page.Users) != in.Limit {
			tb.Fatalf("a page of %d users, limit %d, has a next cursor", len(page.Users), in.Limit)
		}
		in.Cursor = page.NextCursor
		if pages > 100 {
			tb.Fatal("the walk does not end")
		}
	}
}

func TestSearchUsers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedSearch(t, e, 12)
	yes := true
	for _, in := range []app.UserSearch{
		{},
		{Sort: "-created_at"},
		{Sort: "email"},
		{Sort: "-email"},
		{Sort: "nickname"},
		{Sort: "-nickname"},
		{Q: "NICK_0", Sort: "-email"},       // any case
		{Q: "user1"},                        // user10, user11
		{Role: "MANAGER", Sort: "nickname"}, // 0, 3, 6, 9
		{IsProfessional: &yes, Role: "MANAGER"},
		{Q: "nobody"},
	} {
		t.Run(fmt.Sprintf("%+v", in), func(t *testing.T) {
			t.Parallel()
			// Offset paging: everything in one page, counted.
			in.Limit = 100
			all, err := e.svc.SearchUsers(context.Background(), adminActor, in)
			if err != nil {
				t.Fatalf("SearchUsers: %v", err)
			}
			if all.Cursor || all.NextCursor != "" || all.Total != len(all.Users) || all.Skip != 0 || all.Limit != 100 {
				t.Errorf("offset page: Cursor %v, NextCursor %q, Total %d for %d users, Skip %d, Limit %d",
					all.Cursor, all.NextCursor, all.Total, len(all.Users), all.Skip, all.Limit)
			}
			want := idsOf(all.Users)
			in.Skip, in.Limit = 1, 2
			page, err := e.svc.SearchUsers(context.Background(), adminActor, in)
			if err != nil {
				t.Fatalf("SearchUsers: %v", err)
			}
			if diff := cmp.Diff(want[min(1, len(want)):min(3, len(want))], idsOf(page.Users)); diff != "" || page.Total != len(want) {
				t.Errorf("skip 1, limit 2: total %d, ids (-want +got):\n%s", page.Total, diff)
			}
			// Cursor paging visits the same users in the same order, and
			// never ends on an empty page.
			in.Skip = 0
			for _, limit := range []int{1, 2, 4, 100} {
				in.Limit = limit
				got, pages := searchAll(t, e, in)
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("cursor pages of %d (-want +got):\n%s", limit, diff)
				}
				if wantPages := max(1, (len(want)+limit-1)/limit); pages != wantPages {
					t.Errorf("cursor pages of %d: %d pages, want %d", limit, pages, wantPages)
				}
			}
		})
	}
	if page, _ := e.svc.SearchUsers(context.Background(), adminActor, app.UserSearch{Q: "user1", Limit: 100}); len(page.Users) != 2 {
		t.Errorf("q=user1: %d users, want 2", len(page.Users))
	}
}

func TestSearchUsersRefuses(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	manager := e.withRole(t, "manager@example.com", domain.RoleManager)
	for _, tt := range []struct {
		name   string
		actor  domain.Actor
		in     app.UserSearch
		fields []string // nil: want ErrNotPermitted
	}{
		{"q too long", adminActor, app.UserSearch{Q: strings.Repeat("é", 101), Limit: 10}, []string{"q"}},
		{"q of 100 characters", manager, app.UserSearch{Q: strings.Repeat("é", 100), Limit: 10}, []string{}},
		{"q not UTF-8", adminActor, app.UserSearch{Q: "ab\xff", Limit: 10}, []string{"q"}},
		{"q with NUL", adminActor, app.UserSearch{Q: "ab\x00", Limit: 10}, []string{"q"}},
		{"unknown role", adminActor, app.UserSearch{Role: "ROOT", Limit: 10}, []string{"role"}},
		{"role in lower case", adminActor, app.UserSearch{Role: "admin", Limit: 10}, []string{"role"}},
		{"unknown sort", adminActor, app.UserSearch{Sort: "name", Limit: 10}, []string{"sort"}},
		{"sort by a column", adminActor, app.UserSearch{Sort: "password_hash", Limit: 10}, []string{"sort"}},
		{"unknown paging", adminActor, app.UserSearch{Paging: "pages", Limit: 10}, []string{"paging"}},
		{"cursor with offset paging", adminActor, app.UserSearch{Paging: app.PagingOffset, Cursor: "x", Limit: 10}, []string{"cursor"}},
		{"skip with cursor paging", adminActor, app.UserSearch{Paging: app.PagingCursor, Skip: 10, Limit: 10}, []string{"skip"}},
		{"skip with a cursor", adminActor, app.UserSearch{Cursor: "x", Skip: 10, Limit: 10}, []string{"skip"}},
		{"negative skip", adminActor, app.UserSearch{Skip: -1, Limit: 10}, []string{"skip"}},
		{"limit 0", adminActor, app.UserSearch{Paging: app.PagingCursor}, []string{"limit"}},
		{"limit 101", adminActor, app.UserSearch{Limit: 101}, []string{"limit"}},
		{"everything", adminActor, app.UserSearch{Q: "\xff", Role: "x", Sort: "x", Paging: "x", Skip: -1, Limit: 101},
			[]string{"q", "role", "sort", "paging", "skip", "limit"}},
		{"not staff", nobodyActor, app.UserSearch{Limit: 10}, nil},
		{"not staff, bad input", nobodyActor, app.UserSearch{Sort: "x", Cursor: "garbage"}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := e.svc.SearchUsers(context.Background(), tt.actor, tt.in)
			switch {
			case tt.fields == nil:
				wantErr(t, err, domain.ErrNotPermitted)
			case len(tt.fields) == 0:
				wantErr(t, err, nil)
			default:
				wantInvalid(t, err, tt.fields...)
			}
		})
	}
}

// cursorOf decodes a cursor into its JSON fields.
func cursorOf(tb testing.TB, c string) map[string]any {
	tb.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		tb.Fatalf("cursor %q is not base64url: %v", c, err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Fatalf("cursor %q is not JSON: %v", c, err)
	}
	return m
}

func makeCursor(tb testing.TB, m map[string]any) string {
	tb.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestSearchUsersCursorTampering(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seedSearch(t, e, 12)
	yes := true
	search := app.UserSearch{Q: "user", Role: "MANAGER", IsProfessional: &yes, Sort: "-created_at", Paging: app.PagingCursor, Limit: 1}
	first, err := e.svc.SearchUsers(context.Background(), adminActor, search)
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: next cursor %q, %v", first.NextCursor, err)
	}
	good := first.NextCursor
	next := search
	next.Cursor = good
	if _, err := e.svc.SearchUsers(context.Background(), adminActor, next); err != nil {
		t.Fatalf("the next page: %v", err)
	}
	// A cursor works with the same search whatever the case of q or the
	// limit, and without paging=cursor.
	same := next
	same.Q, same.Limit, same.Paging = "USER", 5, ""
	if _, err := e.svc.SearchUsers(context.Background(), adminActor, same); err != nil {
		t.Errorf("the same search in capitals, another limit: %v", err)
	}

	fields := cursorOf(t, good)
	with := func(k string, v any) string {
		m := map[string]any{}
		for k, v := range fields {
			m[k] = v
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return makeCursor(t, m)
	}
	no := false
	for _, tt := range []struct {
		name string
		in   func(in *app.UserSearch)
	}{
		{"garbage", func(in *app.UserSearch) { in.Cursor = "garbage!" }},
		{"padded base64", func(in *app.UserSearch) { in.Cursor = base64.URLEncoding.EncodeToString([]byte(`{"s":"xy"}`)) }},
		{"not JSON", func(in *app.UserSearch) { in.Cursor = base64.RawURLEncoding.EncodeToString([]byte("hello")) }},
		{"JSON array", func(in *app.UserSearch) { in.Cursor = base64.RawURLEncoding.EncodeToString([]byte("[]")) }},
		{"trailing data", func(in *app.UserSearch) {
			in.Cursor = base64.RawURLEncoding.EncodeToString([]byte(`{"s":"-created_at"}{}`))
		}},
		{"truncated", func(in *app.UserSearch) { in.Cursor = good[:len(good)-4] }},
		{"too long", func(in *app.UserSearch) { in.Cursor = good + strings.Repeat("A", 1100) }},
		{"unknown field", func(in *app.UserSearch) { in.Cursor = with("x", 1) }},
		{"no id", func(in *app.UserSearch) { in.Cursor = with("i", nil) }},
		{"id not a UUID", func(in *app.UserSearch) { in.Cursor = with("i", "1; DROP TABLE users") }},
		{"id in capitals", func(in *app.UserSearch) { in.Cursor = with("i", "ABCDEF00-0000-4000-8000-000000000000") }},
		{"key not a time", func(in *app.UserSearch) { in.Cursor = with("k", "yesterday") }},
		{"key in year 10000", func(in *app.UserSearch) { in.Cursor = with("k", "9999-12-31T23:59:59-23:59") }},
		{"key in year 0", func(in *app.UserSearch) { in.Cursor = with("k", "0000-01-01T00:00:00Z") }},
		{"key of another type", func(in *app.UserSearch) { in.Cursor = with("k", 42) }},
		{"filters digest changed", func(in *app.UserSearch) { in.Cursor = with("f", "AAAAAAAAAAAA") }},
		{"sort changed in the cursor", func(in *app.UserSearch) { in.Cursor = with("s", "created_at") }},
		{"other sort", func(in *app.UserSearch) { in.Sort = "created_at" }},
		{"no sort", func(in *app.UserSearch) { in.Sort = "" }},
		{"other q", func(in *app.UserSearch) { in.Q = "user0" }},
		{"no q", func(in *app.UserSearch) { in.Q = "" }},
		{"other role", func(in *app.UserSearch) { in.Role = "ADMIN" }},
		{"flag flipped", func(in *app.UserSearch) { in.IsProfessional = &no }},
		{"flag dropped", func(in *app.UserSearch) { in.IsProfessional = nil }},
		{"flag added", func(in *app.UserSearch) { in.IsLocked = &no }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := next
			tt.in(&in)
			_, err := e.svc.SearchUsers(context.Background(), adminActor, in)
			wantInvalid(t, err, "cursor")
		})
	}
}

// TestSearchUsersStoreQuery checks what SearchUsers asks the store: a
// count only when paging by offset, and one user more than the page when
// paging by cursor.
func TestSearchUsersStoreQuery(t *testing.T) {
	t.Parallel()
	var got []ports.UserQuery
	u, err := domain.NewUser(domain.NewUserParams{ID: unknownID, Email: "a@example.com", Nickname: "Some_One", PasswordHash: "x", Role: domain.RoleAdmin, Now: t0})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(d *deps) {
		d.store = &portmock.UserStoreMock{ListUsersFunc: func(_ context.Context, q ports.UserQuery) ([]*domain.User, int, error) {
			got = append(got, q)
			return []*domain.User{u, u, u}, 42, nil
		}}
	})
	yes := true
	page, err := e.svc.SearchUsers(context.Background(), adminActor, app.UserSearch{
		Q: "Ab", Role: "ADMIN", EmailVerified: &yes, Sort: "-nickname", Skip: 5, Limit: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total != 42 || page.Cursor || len(page.Users) != 3 {
		t.Errorf("offset page: total %d, cursor %v, %d users", page.Total, page.Cursor, len(page.Users))
	}
	page, err = e.svc.SearchUsers(context.Background(), adminActor, app.UserSearch{Sort: "-nickname", Paging: app.PagingCursor, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !page.Cursor || len(page.Users) != 2 || page.NextCursor == "" {
		t.Fatalf("cursor page: cursor %v, %d users, next %q", page.Cursor, len(page.Users), page.NextCursor)
	}
	if _, err := e.svc.SearchUsers(context.Background(), adminActor, app.UserSearch{Sort: "-nickname", Cursor: page.NextCursor, Limit: 2}); err != nil {
		t.Fatal(err)
	}
	want := []ports.UserQuery{
		{Prefix: "ab", Role: domain.RoleAdmin, EmailVerified: &yes, Sort: ports.UserSort{By: ports.SortByNickname, Desc: true}, Offset: 5, Limit: 3, WithTotal: true},
		{Sort: ports.UserSort{By: ports.SortByNickname, Desc: true}, Limit: 3},
		{Sort: ports.UserSort{By: ports.SortByNickname, Desc: true}, Limit: 3, After: &ports.UserCursor{Text: "some_one", ID: unknownID}},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b domain.Role) bool { return a == b })); diff != "" {
		t.Errorf("store queries (-want +got):\n%s", diff)
	}
}

func TestSearchUsersStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.store = &portmock.UserStoreMock{ListUsersFunc: func(context.Context, ports.UserQuery) ([]*domain.User, int, error) { return nil, 0, errBoom }}
	})
	for _, paging := range []string{app.PagingOffset, app.PagingCursor} {
		_, err := e.svc.SearchUsers(context.Background(), adminActor, app.UserSearch{Paging: paging, Limit: 10})
		wantErr(t, err, errBoom)
	}
}
