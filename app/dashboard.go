package app

import (
	"context"
	"fmt"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// DashboardDays is how many UTC days the dashboard's charts cover, today
// included.
const DashboardDays = 30

// Dashboard is what the console's dashboard shows: the users as they are,
// and what happened on each of the last DashboardDays days.
type Dashboard struct {
	Counts ports.UserCounts
	Days   []DashboardDay // DashboardDays of them, oldest first, today last
}

// DashboardDay is one UTC day of the dashboard's charts.
type DashboardDay struct {
	Day     time.Time // its midnight, UTC
	Signups int       // accounts created that day (and not deleted since)
	// Login outcomes: successful logins, wrong passwords or codes (a wrong
	// second factor included), and accounts locked by wrong attempts.
	LoginsSucceeded int
	LoginsFailed    int
	Lockouts        int
}

// loginOutcomes are the audit events the dashboard's login chart counts.
var loginOutcomes = []domain.AuditEventType{
	domain.EventLoginSucceeded, domain.EventLoginFailed, domain.EventMFACodeFailed, domain.EventAccountLocked,
}

// Dashboard gives staff (ADMIN and MANAGER) the counts of the console's
// dashboard.
func (s *Service) Dashboard(ctx context.Context, actor domain.Actor) (Dashboard, error) {
	d, err := s.dashboard(ctx, actor)
	if err != nil {
		return Dashboard{}, fmt.Errorf("dashboard: %w", err)
	}
	return d, nil
}

func (s *Service) dashboard(ctx context.Context, actor domain.Actor) (Dashboard, error) {
	if err := actor.CheckAdministers(); err != nil {
		return Dashboard{}, err
	}
	y, m, d := s.clock.Now().UTC().Date()
	since := time.Date(y, m, d-(DashboardDays-1), 0, 0, 0, 0, time.UTC)
	var lapsedAt time.Time
	if s.cfg.Lockout.Duration > 0 {
		lapsedAt = s.clock.Now().Add(-s.cfg.Lockout.Duration)
	}
	counts, err := s.stats.CountUsers(ctx, lapsedAt)
	if err != nil {
		return Dashboard{}, err
	}
	signups, err := s.stats.CountSignupsByDay(ctx, since)
	if err != nil {
		return Dashboard{}, err
	}
	events, err := s.stats.CountEventsByDay(ctx, since, loginOutcomes)
	if err != nil {
		return Dashboard{}, err
	}
	out := Dashboard{Counts: counts, Days: make([]DashboardDay, DashboardDays)}
	index := make(map[time.Time]*DashboardDay, DashboardDays)
	for i := range out.Days {
		day := since.AddDate(0, 0, i)
		out.Days[i].Day = day
		index[day] = &out.Days[i]
	}
	for _, c := range signups {
		if day, ok := index[c.Day.UTC()]; ok {
			day.Signups += c.Count
		}
	}
	for _, c := range events {
		day, ok := index[c.Day.UTC()]
		if !ok {
			continue
		}
		switch c.Type {
		case domain.EventLoginSucceeded:
			day.LoginsSucceeded += c.Count
		case domain.EventLoginFailed, domain.EventMFACodeFailed:
			day.LoginsFailed += c.Count
		case domain.EventAccountLocked:
			day.Lockouts += c.Count
		}
	}
	return out, nil
}
