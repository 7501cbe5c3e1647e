package memory

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

var _ ports.UserStats = (*UserStore)(nil)

// CountUsers implements ports.UserStats.
func (s *UserStore) CountUsers(ctx context.Context, locksLapsedAt time.Time) (ports.UserCounts, error) {
	if err := ctx.Err(); err != nil {
		return ports.UserCounts{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := ports.UserCounts{ByRole: make(map[domain.Role]int, len(domain.Roles()))}
	for _, r := range domain.Roles() {
		c.ByRole[r] = 0
	}
	for _, u := range s.users {
		c.Total++
		c.ByRole[u.Role]++
		c.Verified += b2i(u.EmailVerified)
		c.Locked += b2i(u.IsLocked && (locksLapsedAt.IsZero() || !u.LockLapsedBy(locksLapsedAt)))
		c.MFAEnabled += b2i(u.TOTPSecret != "")
		c.Professional += b2i(u.IsProfessional)
		c.InvitationPending += b2i(u.InvitationPending)
	}
	return c, nil
}

// CountSignupsByDay implements ports.UserStats.
func (s *UserStore) CountSignupsByDay(ctx context.Context, since time.Time) ([]ports.DayCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	byDay := map[time.Time]int{}
	for _, u := range s.users {
		if !u.CreatedAt.Before(since) {
			byDay[utcDay(u.CreatedAt)]++
		}
	}
	out := make([]ports.DayCount, 0, len(byDay))
	for d, n := range byDay {
		out = append(out, ports.DayCount{Day: d, Count: n})
	}
	slices.SortFunc(out, func(a, b ports.DayCount) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// CountEventsByDay implements ports.UserStats.
func (s *UserStore) CountEventsByDay(ctx context.Context, since time.Time, types []domain.AuditEventType) ([]ports.EventDayCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	type key struct {
		day time.Time
		typ domain.AuditEventType
	}
	counts := map[key]int{}
	for _, e := range s.events {
		if !e.At.Before(since) && slices.Contains(types, e.Type) {
			counts[key{utcDay(e.At), e.Type}]++
		}
	}
	out := make([]ports.EventDayCount, 0, len(counts))
	for k, n := range counts {
		out = append(out, ports.EventDayCount{Day: k.day, Type: k.typ, Count: n})
	}
	slices.SortFunc(out, func(a, b ports.EventDayCount) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Type, b.Type))
	})
	return out, nil
}

// utcDay is the midnight (UTC) that starts t's UTC day.
func utcDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
