package porttest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// The contract of UserStore.ListUsers beyond plain paging: filters, prefix
// search, every sort in both directions and keyset pages. want* functions
// are the specification the stores are checked against.

// searchTests are part of the UserStore contract.
var searchTests = []struct {
	name string
	fn   func(t *testing.T, s ports.UserStore)
}{
	{"SearchFilters", testSearchFilters},
	{"SearchPrefix", testSearchPrefix},
	{"SearchSorts", testSearchSorts},
	{"SearchKeysetWalk", testSearchKeysetWalk},
	{"SearchKeysetWithFilters", testSearchKeysetWithFilters},
	{"SearchLapsedLocks", testSearchLapsedLocks},
}

// UserSearch runs the search cases of the UserStore contract alone (which
// UserStore runs too), for a store set up in some other way.
func UserSearch(t *testing.T, newStore func(t *testing.T) ports.UserStore) {
	for _, tt := range searchTests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// searchUser is a user to seed, with the flags the filters look at.
type searchUser struct {
	email, nickname     string
	role                domain.Role
	pro, verified, lock bool
	at                  time.Duration // created at epoch + at
}

// seedSearch stores users and returns their states.
func seedSearch(t *testing.T, s ports.UserStore, users []searchUser) []domain.UserState {
	t.Helper()
	out := make([]domain.UserState, 0, len(users))
	for _, su := range users {
		if su.role.IsZero() {
			su.role = domain.RoleAuthenticated
		}
		st := newUser(t, su.email, su.nickname, su.role, epoch.Add(su.at)).State()
		st.IsProfessional, st.EmailVerified, st.IsLocked = su.pro, su.verified, su.lock
		if su.lock {
			st.LockedAt, st.LockReason = st.CreatedAt, domain.LockByFailures
		}
		mustCreate(t, s, domain.RehydrateUser(st))
		out = append(out, st)
	}
	return out
}

// wantMatches is what the filters of q select.
func wantMatches(st domain.UserState, q ports.UserQuery) bool {
	if q.Prefix != "" && !strings.HasPrefix(st.Email, q.Prefix) && !strings.HasPrefix(strings.ToLower(st.Nickname), q.Prefix) {
		return false
	}
	flag := func(want *bool, got bool) bool { return want == nil || *want == got }
	return (q.Role.IsZero() || st.Role == q.Role) &&
		flag(q.IsProfessional, st.IsProfessional) && flag(q.EmailVerified, st.EmailVerified) && flag(q.IsLocked, st.IsLocked)
}

// wantOrder compares two users in order by: the key by code point, then id.
func wantOrder(by ports.UserSort) func(a, b domain.UserState) int {
	return func(a, b domain.UserState) int {
		var c int
		switch by.By {
		case ports.SortByCreatedAt:
			c = a.CreatedAt.Compare(b.CreatedAt)
		case ports.SortByEmail:
			c = strings.Compare(a.Email, b.Email)
		case ports.SortByNickname:
			c = strings.Compare(strings.ToLower(a.Nickname), strings.ToLower(b.Nickname))
		}
		c = cmp.Or(c, strings.Compare(a.ID, b.ID))
		if by.Desc {
			return -c
		}
		return c
	}
}

// wantList is the whole answer to q (without After, Offset, Limit).
func wantList(states []domain.UserState, q ports.UserQuery) []string {
	var sel []domain.UserState
	for _, st := range states {
		if wantMatches(st, q) {
			sel = append(sel, st)
		}
	}
	slices.SortFunc(sel, wantOrder(q.Sort))
	return ids(sel)
}

// someSorts has each key once, in alternating directions, where a case
// needs a sort but not every one.
func someSorts() []ports.UserSort {
	return []ports.UserSort{{By: ports.SortByCreatedAt}, {By: ports.SortByEmail, Desc: true}, {By: ports.SortByNickname}}
}

// allSorts lists every sort, both directions.
func allSorts() []ports.UserSort {
	var out []ports.UserSort
	for _, by := range []ports.UserSortKey{ports.SortByCreatedAt, ports.SortByEmail, ports.SortByNickname} {
		out = append(out, ports.UserSort{By: by}, ports.UserSort{By: by, Desc: true})
	}
	return out
}

func sortName(s ports.UserSort) string {
	name := map[ports.UserSortKey]string{ports.SortByCreatedAt: "created_at", ports.SortByEmail: "email", ports.SortByNickname: "nickname"}[s.By]
	if s.Desc {
		return "-" + name
	}
	return name
}

// listIDs runs q and returns the ids and total.
func listIDs(t *testing.T, s ports.UserStore, q ports.UserQuery) ([]string, int) {
	t.Helper()
	users, total, err := s.ListUsers(t.Context(), q)
	if err != nil {
		t.Fatalf("ListUsers(%+v): %v", q, err)
	}
	return userIDs(users), total
}

// searchFixture has every role, every combination of the three flags, and
// ties on created_at.
func searchFixture() []searchUser {
	var out []searchUser
	roles := domain.Roles()
	for i := range 16 {
		out = append(out, searchUser{
			email:    fmt.Sprintf("user%02d@example.com", i),
			nickname: fmt.Sprintf("Nick_%02d", i),
			role:     roles[i%len(roles)],
			pro:      i&1 != 0, verified: i&2 != 0, lock: i&4 != 0,
			at: time.Duration(i/3) * time.Second,
		})
	}
	return out
}

func testSearchFilters(t *testing.T, s ports.UserStore) {
	states := seedSearch(t, s, searchFixture())
	yes, no := true, false
	queries := []ports.UserQuery{{}}
	for _, r := range domain.Roles() {
		queries = append(queries, ports.UserQuery{Role: r})
	}
	for _, b := range []*bool{&yes, &no} {
		queries = append(queries, ports.UserQuery{IsProfessional: b}, ports.UserQuery{EmailVerified: b}, ports.UserQuery{IsLocked: b})
	}
	queries = append(queries,
		ports.UserQuery{Role: domain.RoleManager, IsProfessional: &yes},
		ports.UserQuery{IsProfessional: &yes, EmailVerified: &no, IsLocked: &yes},
		ports.UserQuery{Role: domain.RoleAnonymous, IsProfessional: &no, EmailVerified: &no, IsLocked: &no, Prefix: "user0"},
		ports.UserQuery{Role: domain.RoleAnonymous, IsLocked: &yes, IsProfessional: &yes, EmailVerified: &yes}, // selects nobody
	)
	for _, q := range queries {
		want := wantList(states, q)
		q.Limit, q.WithTotal = 100, true
		got, total := listIDs(t, s, q)
		if diff := gocmp.Diff(want, got, cmpEmpty); diff != "" {
			t.Errorf("ListUsers(%+v) ids (-want +got):\n%s", q, diff)
		}
		if total != len(want) {
			t.Errorf("ListUsers(%+v) total = %d, want %d", q, total, len(want))
		}
		// Offset paging of a filtered list: total is still the filtered count.
		q.Offset, q.Limit = 1, 2
		got, total = listIDs(t, s, q)
		if diff := gocmp.Diff(want[min(1, len(want)):min(3, len(want))], got, cmpEmpty); diff != "" || total != len(want) {
			t.Errorf("ListUsers(%+v): total %d, ids (-want +got):\n%s", q, total, diff)
		}
		// No count unless asked for; a limit of 0 returns nobody.
		q.Offset, q.Limit, q.WithTotal = 0, 0, false
		if got, total = listIDs(t, s, q); len(got) != 0 || total != 0 {
			t.Errorf("ListUsers(%+v) = %d users, total %d; want none and 0", q, len(got), total)
		}
	}
}

// cmpEmpty treats a nil and an empty list alike.
var cmpEmpty = gocmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

func testSearchPrefix(t *testing.T, s ports.UserStore) {
	states := seedSearch(t, s, []searchUser{
		{email: "alice@example.com", nickname: "Wonder_Land"},
		{email: "bob@example.com", nickname: "ALICE_fan"},   // the nickname matches "alice"
		{email: "carol@alice.example", nickname: "carol"},   // "alice" only after the start: no
		{email: "alicia@example.com", nickname: "Alic_ia"},  // both match "alic": listed once
		{email: "a_b@example.com", nickname: "under_score"}, // "_" and "%" are plain characters
		{email: "a%b@example.com", nickname: "percent"},
		{email: "axb@example.com", nickname: "a-x-b"},
		{email: "zed@example.com", nickname: "Zed-ZED"},
		{email: "dave@example.org", nickname: "dave"},
		{email: "dave.smith@example.org", nickname: "dave_smith"},
	})
	for _, tc := range []struct {
		prefix string
		want   int
	}{
		{"alice", 2}, {"alic", 3}, {"a", 6}, {"a_", 1}, {"a%", 1}, {"a-", 1}, {"zed-z", 1}, {"z", 1},
		{"dave", 2}, {"dave.", 1}, {"dave@example.org", 1}, {"alice@example.com", 1},
		{"nobody", 0}, {"é", 0}, {"\U0010FFFF", 0}, {"~", 0},
	} {
		q := ports.UserQuery{Prefix: tc.prefix, Limit: 100, WithTotal: true}
		want := wantList(states, q)
		if len(want) != tc.want {
			t.Fatalf("fixture: prefix %q selects %d, want %d", tc.prefix, len(want), tc.want)
		}
		for _, sort := range someSorts() {
			q.Sort = sort
			got, total := listIDs(t, s, q)
			if diff := gocmp.Diff(wantList(states, q), got, cmpEmpty); diff != "" || total != tc.want {
				t.Errorf("prefix %q, sort %s: total %d (want %d), ids (-want +got):\n%s", tc.prefix, sortName(sort), total, tc.want, diff)
			}
		}
	}
}

func testSearchSorts(t *testing.T, s ports.UserStore) {
	// Emails and nicknames whose code-point order differs from a linguistic
	// one ("-" < "." < digits < "@" < "_" < letters) and from a
	// case-sensitive one (nicknames sort lower-cased); created_at has ties.
	states := seedSearch(t, s, []searchUser{
		{email: "ab@example.com", nickname: "bravo", at: time.Second},
		{email: "a.b@example.com", nickname: "Alpha", at: time.Second},
		{email: "a-b@example.com", nickname: "ZULU", at: 0},
		{email: "a_b@example.com", nickname: "charlie", at: 2 * time.Second},
		{email: "a0@example.com", nickname: "Delta-1", at: time.Second},
		{email: "b@example.com", nickname: "delta_2", at: 0},
		{email: "ba@example.com", nickname: "delta0", at: -time.Hour},
	})
	for _, sort := range allSorts() {
		q := ports.UserQuery{Sort: sort, Limit: 100}
		got, _ := listIDs(t, s, q)
		if diff := gocmp.Diff(wantList(states, q), got); diff != "" {
			t.Errorf("sort %s (-want +got):\n%s", sortName(sort), diff)
		}
	}
}

// walk pages through q by keyset, pageSize at a time, and returns every id
// in the order visited.
func walk(t *testing.T, s ports.UserStore, q ports.UserQuery, pageSize int) []string {
	t.Helper()
	var seen []string
	q.Limit = pageSize
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("sort %s: the keyset walk does not end", sortName(q.Sort))
		}
		users, _, err := s.ListUsers(t.Context(), q)
		if err != nil {
			t.Fatalf("ListUsers(%+v): %v", q, err)
		}
		seen = append(seen, userIDs(users)...)
		if len(users) < pageSize {
			return seen
		}
		after := ports.CursorAt(users[len(users)-1], q.Sort.By)
		q.After = &after
	}
}

func testSearchKeysetWalk(t *testing.T, s ports.UserStore) {
	// 23 users, created in threes at the same time (ties broken by id), and
	// with nicknames differing only in case from those of other users'
	// emails, so every key has neighbours.
	var users []searchUser
	for i := range 23 {
		users = append(users, searchUser{
			email:    fmt.Sprintf("walker%02d@example.com", (i*7)%23),
			nickname: fmt.Sprintf("Walker_%02d", (i*11)%23),
			at:       time.Duration(i/3) * time.Second,
		})
	}
	states := seedSearch(t, s, users)
	for _, sort := range allSorts() {
		want := wantList(states, ports.UserQuery{Sort: sort})
		for _, size := range []int{2, 5} { // pages end inside and between groups of ties
			got := walk(t, s, ports.UserQuery{Sort: sort}, size)
			if diff := gocmp.Diff(want, got); diff != "" {
				t.Errorf("sort %s, pages of %d: visited (-want +got):\n%s", sortName(sort), size, diff)
			}
		}
		// A position past the last user leaves nothing; one before the
		// first leaves everybody.
		last := ports.CursorAt(mustGet(t, s, want[len(want)-1]), sort.By)
		if got, _ := listIDs(t, s, ports.UserQuery{Sort: sort, After: &last, Limit: 100}); len(got) != 0 {
			t.Errorf("sort %s: %d users after the last one", sortName(sort), len(got))
		}
	}
	// A cursor of a user deleted since still finds its place.
	gone := mustGet(t, s, states[10].ID)
	if err := s.DeleteUser(t.Context(), gone.ID(), func(*domain.User, int) error { return nil }); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	for _, sort := range allSorts() {
		at := ports.CursorAt(gone, sort.By)
		full := wantList(states, ports.UserQuery{Sort: sort})
		i := slices.Index(full, gone.ID())
		want := full[i+1:]
		got, _ := listIDs(t, s, ports.UserQuery{Sort: sort, After: &at, Limit: 100})
		if diff := gocmp.Diff(want, got, cmpEmpty); diff != "" {
			t.Errorf("sort %s, after a deleted user (-want +got):\n%s", sortName(sort), diff)
		}
	}
}

func testSearchKeysetWithFilters(t *testing.T, s ports.UserStore) {
	states := seedSearch(t, s, searchFixture())
	yes := true
	for _, q := range []ports.UserQuery{
		{Role: domain.RoleAuthenticated},
		{IsProfessional: &yes},
		{Prefix: "user1"},
		{Prefix: "nick_0", EmailVerified: &yes},
	} {
		for _, sort := range someSorts() {
			q.Sort = sort
			want := wantList(states, q)
			if len(want) < 2 {
				t.Fatalf("fixture: %+v selects %d users, want several", q, len(want))
			}
			if diff := gocmp.Diff(want, walk(t, s, q, 2)); diff != "" {
				t.Errorf("%+v, pages of 2: visited (-want +got):\n%s", q, diff)
			}
			// The total ignores the position.
			at := ports.CursorAt(mustGet(t, s, want[0]), sort.By)
			q2 := q
			q2.After, q2.Limit, q2.WithTotal = &at, 100, true
			got, total := listIDs(t, s, q2)
			if diff := gocmp.Diff(want[1:], got, cmpEmpty); diff != "" || total != len(want) {
				t.Errorf("%+v after the first: total %d (want %d), ids (-want +got):\n%s", q2, total, len(want), diff)
			}
		}
	}
}

// A lock by failed logins locked at or before LocksLapsedAt has lapsed:
// is_locked selects it as unlocked; a lock by staff never lapses.
func testSearchLapsedLocks(t *testing.T, s ports.UserStore) {
	cutoff := epoch.Add(time.Hour)
	ids := map[string]string{}
	for i, c := range []struct {
		name     string
		reason   domain.LockReason
		lockedAt time.Time
	}{
		{"lapsed", domain.LockByFailures, epoch},
		{"lapsed-at-the-cutoff", domain.LockByFailures, cutoff},
		{"recent", domain.LockByFailures, cutoff.Add(time.Second)},
		{"staff", domain.LockByStaff, epoch},
		{"unlocked", "", time.Time{}},
	} {
		st := newUser(t, c.name+"@example.com", fmt.Sprintf("lapse_%d", i), domain.RoleAuthenticated, epoch.Add(time.Duration(i)*time.Second)).State()
		st.IsLocked, st.LockReason, st.LockedAt = c.reason != "", c.reason, c.lockedAt
		mustCreate(t, s, domain.RehydrateUser(st))
		ids[st.ID] = c.name
	}
	yes, no := true, false
	for _, tc := range []struct {
		q    ports.UserQuery
		want []string
	}{
		{ports.UserQuery{IsLocked: &yes, LocksLapsedAt: cutoff}, []string{"recent", "staff"}},
		{ports.UserQuery{IsLocked: &no, LocksLapsedAt: cutoff}, []string{"lapsed", "lapsed-at-the-cutoff", "unlocked"}},
		{ports.UserQuery{IsLocked: &yes}, []string{"lapsed", "lapsed-at-the-cutoff", "recent", "staff"}},
		{ports.UserQuery{LocksLapsedAt: cutoff}, []string{"lapsed", "lapsed-at-the-cutoff", "recent", "staff", "unlocked"}},
	} {
		tc.q.Limit, tc.q.WithTotal = 100, true
		got, total := listIDs(t, s, tc.q)
		var names []string
		for _, id := range got {
			names = append(names, ids[id])
		}
		if diff := gocmp.Diff(tc.want, names, cmpEmpty); diff != "" || total != len(tc.want) {
			t.Errorf("ListUsers(IsLocked %v, LocksLapsedAt %v): total %d, users (-want +got):\n%s",
				deref(tc.q.IsLocked), tc.q.LocksLapsedAt, total, diff)
		}
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}
