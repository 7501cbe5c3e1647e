package sqlstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// sortKeys are the expressions each sort key orders by, before id. Only
// these ever reach the SQL: a query names a key, never a column. Text keys
// are compared by code point (dialect.byteOrder), and each has an index
// (key, id) in that order (migration 00005; created_at's is in 00001).
var sortKeys = map[ports.UserSortKey]struct {
	expr string
	text bool
}{
	ports.SortByCreatedAt: {"created_at", false},
	ports.SortByEmail:     {"email", true},
	ports.SortByNickname:  {"lower(nickname)", true},
}

// userSQL is a built ListUsers query: the page's SELECT, and the count of
// what the filters select, each with its arguments (? placeholders).
type userSQL struct {
	list      string
	listArgs  []any
	count     string
	countArgs []any
}

// buildUserQuery writes the SQL of q for the store's dialect. Every value
// is a parameter; the only text taken from q is chosen from sortKeys.
func (s *Store) buildUserQuery(q ports.UserQuery) (userSQL, error) {
	key, ok := sortKeys[q.Sort.By]
	if !ok {
		return userSQL{}, fmt.Errorf("sqlstore: list users: unknown sort key %d: %w", q.Sort.By, domain.ErrInvalid)
	}
	keyExpr := key.expr
	if key.text {
		keyExpr += s.d.byteOrder()
	}

	var conds []string
	var args []any
	// A prefix is a range in code-point order, which the B-trees of the
	// sort keys serve. (PostgreSQL turns LIKE 'p%' into such a range only
	// for a C collation and a pattern known when planning.) It matches the
	// email or the nickname: one range each.
	var ranges [2]string
	var rangeArgs [2][]any
	if q.Prefix != "" {
		end, bounded := prefixEnd(q.Prefix)
		for i, col := range []string{"email" + s.d.byteOrder(), "lower(nickname)" + s.d.byteOrder()} {
			if bounded {
				ranges[i], rangeArgs[i] = "("+col+" >= ? AND "+col+" < ?)", []any{q.Prefix, end}
			} else {
				ranges[i], rangeArgs[i] = "("+col+" >= ?)", []any{q.Prefix}
			}
		}
	}
	if !q.Role.IsZero() {
		conds = append(conds, "role = ?")
		args = append(args, q.Role.String())
	}
	for _, f := range []struct {
		col string
		v   *bool
	}{{"is_professional", q.IsProfessional}, {"email_verified", q.EmailVerified}} {
		if f.v != nil {
			conds = append(conds, f.col+" = ?")
			args = append(args, *f.v)
		}
	}
	switch {
	case q.IsLocked == nil:
	case q.LocksLapsedAt.IsZero():
		conds = append(conds, "is_locked = ?")
		args = append(args, *q.IsLocked)
	default:
		// A lock by failed logins as old as LOCKOUT_DURATION has lapsed
		// (domain.UserState.LockLapsedBy); its row says locked until the
		// user's next change.
		lapsed := "(lock_reason = ? AND locked_at <= ?)"
		if *q.IsLocked {
			conds = append(conds, "is_locked AND NOT "+lapsed)
		} else {
			conds = append(conds, "(NOT is_locked OR "+lapsed+")")
		}
		args = append(args, string(domain.LockByFailures), s.d.timeValue(q.LocksLapsedAt))
	}
	where, countArgs := "", slices.Clone(args)
	if q.Prefix != "" {
		where = " WHERE (" + ranges[0] + " OR " + ranges[1] + ")"
		countArgs = append(append(slices.Clone(rangeArgs[0]), rangeArgs[1]...), args...)
		if len(conds) > 0 {
			where += " AND " + strings.Join(conds, " AND ")
		}
	} else if len(conds) > 0 {
		where = " WHERE " + strings.Join(conds, " AND ")
	}
	out := userSQL{count: "SELECT count(*) FROM users" + where, countArgs: countArgs}
	if where == "" {
		// Every user: the count kept by inserts and deletes (00011).
		out.count = "SELECT n FROM user_count"
	}

	listConds, listArgs := slices.Clone(conds), slices.Clone(args)
	if a := q.After; a != nil {
		id, ok := domain.CanonicalUserID(a.ID)
		if !ok {
			return userSQL{}, fmt.Errorf("sqlstore: list users: cursor id %q is not a user id: %w", a.ID, domain.ErrInvalid)
		}
		op := ">"
		if q.Sort.Desc {
			op = "<"
		}
		// (key, id) > (k, id): PostgreSQL reads it as a range of the
		// (key, id) index. key >= k says as much, for SQLite, which does
		// not use a row value on an expression (lower(nickname)).
		listConds = append(listConds, keyExpr+" "+op+"= ? AND ("+keyExpr+", id) "+op+" (?, ?)")
		var k any = a.Text
		if !key.text {
			k = s.d.timeValue(a.CreatedAt)
		}
		listArgs = append(listArgs, k, k, id)
	}
	dir := " ASC"
	if q.Sort.Desc {
		dir = " DESC"
	}
	order := " ORDER BY " + keyExpr + dir + ", id" + dir
	if q.Prefix == "" {
		out.list = selectUser
		if len(listConds) > 0 {
			out.list += " WHERE " + strings.Join(listConds, " AND ")
		}
		out.list += order + " LIMIT ? OFFSET ?"
		out.listArgs = append(listArgs, max(q.Limit, 0), max(q.Offset, 0))
		return out, nil
	}
	// With a prefix, each range gets its own branch, ordered and limited on
	// its own: an OR of the two would let neither bound the scan of the
	// sort index, which then reads from one end until it meets the prefix.
	// UNION drops a user whose email and nickname both match.
	n := max(q.Limit, 0) + max(q.Offset, 0)
	var branches []string
	out.listArgs = nil
	for i := range ranges {
		c := append([]string{ranges[i]}, listConds...)
		branches = append(branches, "SELECT * FROM ("+selectUser+" WHERE "+strings.Join(c, " AND ")+order+" LIMIT ?) AS b"+strconv.Itoa(i))
		out.listArgs = append(append(append(out.listArgs, rangeArgs[i]...), listArgs...), n)
	}
	out.list = "SELECT * FROM (" + strings.Join(branches, " UNION ") + ") AS u" + order + " LIMIT ? OFFSET ?"
	out.listArgs = append(out.listArgs, max(q.Limit, 0), max(q.Offset, 0))
	return out, nil
}

// prefixEnd returns the least string greater, in code-point order, than
// every string that starts with p: p with its last character incremented
// (past the surrogates, which UTF-8 cannot hold). ok is false when there is
// none (p is made of U+10FFFF only). p must be valid UTF-8.
func prefixEnd(p string) (string, bool) {
	r := []rune(p)
	for i := len(r) - 1; i >= 0; i-- {
		if r[i] == unicode.MaxRune {
			continue
		}
		next := r[i] + 1
		if next >= 0xD800 && next <= 0xDFFF {
			next = 0xE000
		}
		return string(append(r[:i], next)), true
	}
	return "", false
}

// listTimeout bounds one listing: a search the indexes serve takes
// milliseconds, and one that does not must not hold a connection for long.
const listTimeout = 5 * time.Second

// ListUsers implements ports.UserStore.
func (s *Store) ListUsers(ctx context.Context, q ports.UserQuery) ([]*domain.User, int, error) {
	ctx, cancel := context.WithTimeout(ctx, listTimeout)
	defer cancel()
	b, err := s.buildUserQuery(q)
	if err != nil {
		return nil, 0, err
	}
	total := 0
	if q.WithTotal {
		if err := s.getPrepared(ctx, &total, s.q(b.count), b.countArgs...); err != nil {
			return nil, 0, s.wrap("list users", err)
		}
		if q.After == nil && q.Offset >= total {
			return []*domain.User{}, total, nil
		}
	}
	if q.Limit <= 0 {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		return []*domain.User{}, total, nil
	}
	var rows []userRow
	st, err := s.prepared(ctx, s.q(b.list))
	if err == nil {
		err = st.SelectContext(ctx, &rows, b.listArgs...)
	}
	if err != nil {
		return nil, 0, s.wrap("list users", err)
	}
	users := make([]*domain.User, 0, len(rows))
	for i := range rows {
		u, err := rows[i].user()
		if err != nil {
			return nil, 0, err
		}
		users = append(users, u)
	}
	return users, total, nil
}
