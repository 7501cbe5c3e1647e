package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// The console's dashboard counts (ports.UserStats): aggregates computed by
// the database, one statement each. Counting users scans the table, which
// a dashboard loaded now and then affords; the per-day counts read the
// indexes on users.created_at and audit_log.at.

var _ ports.UserStats = (*Store)(nil)

// countUsers counts users per role, with the state counts of each role.
// Booleans are compared with CASE, which both dialects read the same. A
// lock by failed logins from at or before the argument has lapsed (see
// buildUserQuery); the zero time's argument is NULL, and no lock lapses.
const countUsers = `SELECT role, count(*) AS total,
	sum(CASE WHEN email_verified THEN 1 ELSE 0 END) AS verified,
	sum(CASE WHEN is_locked AND NOT coalesce(lock_reason = ? AND locked_at <= ?, false) THEN 1 ELSE 0 END) AS locked,
	sum(CASE WHEN totp_secret IS NOT NULL THEN 1 ELSE 0 END) AS mfa,
	sum(CASE WHEN is_professional THEN 1 ELSE 0 END) AS professional,
	sum(CASE WHEN invitation_pending THEN 1 ELSE 0 END) AS invited
FROM users GROUP BY role`

type roleCountRow struct {
	Role         string `db:"role"`
	Total        int    `db:"total"`
	Verified     int    `db:"verified"`
	Locked       int    `db:"locked"`
	MFA          int    `db:"mfa"`
	Professional int    `db:"professional"`
	Invited      int    `db:"invited"`
}

// CountUsers implements ports.UserStats.
func (s *Store) CountUsers(ctx context.Context, locksLapsedAt time.Time) (ports.UserCounts, error) {
	var rows []roleCountRow
	var cutoff any // NULL: no lock lapses
	if !locksLapsedAt.IsZero() {
		cutoff = s.d.timeValue(locksLapsedAt)
	}
	if err := s.db.SelectContext(ctx, &rows, s.q(countUsers), string(domain.LockByFailures), cutoff); err != nil {
		return ports.UserCounts{}, s.wrap("count users", err)
	}
	c := ports.UserCounts{ByRole: make(map[domain.Role]int, len(domain.Roles()))}
	for _, r := range domain.Roles() {
		c.ByRole[r] = 0
	}
	for _, r := range rows {
		role, err := domain.ParseRole(r.Role)
		if err != nil {
			return ports.UserCounts{}, fmt.Errorf("sqlstore: count users: stored role %q: %w", r.Role, err)
		}
		c.ByRole[role] = r.Total
		c.Total += r.Total
		c.Verified += r.Verified
		c.Locked += r.Locked
		c.MFAEnabled += r.MFA
		c.Professional += r.Professional
		c.InvitationPending += r.Invited
	}
	return c, nil
}

type dayCountRow struct {
	Day   string `db:"day"`
	Type  string `db:"type"`
	Count int    `db:"n"`
}

// CountSignupsByDay implements ports.UserStats.
func (s *Store) CountSignupsByDay(ctx context.Context, since time.Time) ([]ports.DayCount, error) {
	day := s.d.utcDate("created_at")
	query := s.q("SELECT " + day + " AS day, '' AS type, count(*) AS n FROM users WHERE created_at >= ? GROUP BY " + day + " ORDER BY day")
	var rows []dayCountRow
	if err := s.db.SelectContext(ctx, &rows, query, s.d.timeValue(since)); err != nil {
		return nil, s.wrap("count signups", err)
	}
	out := make([]ports.DayCount, 0, len(rows))
	for _, r := range rows {
		d, err := parseDay(r.Day)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: count signups: %w", err)
		}
		out = append(out, ports.DayCount{Day: d, Count: r.Count})
	}
	return out, nil
}

// CountEventsByDay implements ports.UserStats.
func (s *Store) CountEventsByDay(ctx context.Context, since time.Time, types []domain.AuditEventType) ([]ports.EventDayCount, error) {
	if len(types) == 0 {
		return []ports.EventDayCount{}, ctx.Err()
	}
	args := []any{s.d.timeValue(since)}
	marks := make([]string, len(types))
	for i, t := range types {
		marks[i] = "?"
		args = append(args, string(t))
	}
	day := s.d.utcDate("at")
	query := s.q("SELECT " + day + " AS day, type, count(*) AS n FROM audit_log WHERE at >= ? AND type IN (" +
		strings.Join(marks, ", ") + ") GROUP BY " + day + ", type ORDER BY day, type" + s.d.byteOrder())
	var rows []dayCountRow
	if err := s.db.SelectContext(ctx, &rows, query, args...); err != nil {
		return nil, s.wrap("count events", err)
	}
	out := make([]ports.EventDayCount, 0, len(rows))
	for _, r := range rows {
		d, err := parseDay(r.Day)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: count events: %w", err)
		}
		out = append(out, ports.EventDayCount{Day: d, Type: domain.AuditEventType(r.Type), Count: r.Count})
	}
	return out, nil
}

// parseDay reads a YYYY-MM-DD date as its midnight, UTC.
func parseDay(s string) (time.Time, error) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored day %q: %w", s, err)
	}
	return d.UTC(), nil
}
