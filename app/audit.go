package app

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Codes of ListAuditEvents' own checks.
const (
	CodeUnknownEvent       domain.Code = "unknown_event"         // "event" names no audit event type
	CodeUntilNotAfterSince domain.Code = "until_not_after_since" // "until" is not after "since"
)

// AuditQuery selects audit events; zero fields select everything.
type AuditQuery struct {
	ActorID  string
	TargetID string
	Type     string
	Since    time.Time
	Until    time.Time
	Cursor   string // the next_cursor of the previous page
	Limit    int    // 1..100, default 50
}

// AuditPage is one page of events, newest first.
type AuditPage struct {
	Events     []domain.AuditEvent
	NextCursor string // empty on the last page
}

// ListAuditEvents returns security events to an ADMIN.
func (s *Service) ListAuditEvents(ctx context.Context, actor domain.Actor, q AuditQuery) (AuditPage, error) {
	if err := actor.CheckChangesRoles(); err != nil { // ADMIN only
		return AuditPage{}, fmt.Errorf("audit log: %w", err)
	}
	v := &domain.ValidationError{}
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > 100 {
		v.Add(domain.FieldError{Field: "limit", Code: domain.CodeOutOfRange, Min: 1, Max: 100})
	}
	if q.Type != "" && !slices.Contains(domain.AuditEvents(), domain.AuditEventType(q.Type)) {
		v.Add(domain.FieldError{Field: "event", Code: CodeUnknownEvent})
	}
	for field, id := range map[string]string{"actor": q.ActorID, "target": q.TargetID, "cursor": q.Cursor} {
		if field == "actor" && id == OperatorID { // the command line
			continue
		}
		if _, ok := domain.CanonicalUserID(id); id != "" && !ok {
			v.Add(domain.FieldError{Field: field, Code: domain.CodeNotUUID})
		}
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		v.Add(domain.FieldError{Field: "until", Code: CodeUntilNotAfterSince})
	}
	if err := v.Err(); err != nil {
		return AuditPage{}, fmt.Errorf("audit log: %w", err)
	}
	// One more than asked tells whether another page exists.
	events, err := s.audit.ListEvents(ctx, ports.AuditFilter{
		ActorID: q.ActorID, TargetID: q.TargetID, Type: domain.AuditEventType(q.Type),
		Since: q.Since, Until: q.Until, Before: q.Cursor, Limit: q.Limit + 1,
	})
	if err != nil {
		return AuditPage{}, fmt.Errorf("audit log: %w", err)
	}
	page := AuditPage{Events: events}
	if len(events) > q.Limit {
		page.Events = events[:q.Limit]
		page.NextCursor = page.Events[q.Limit-1].ID
	}
	return page, nil
}
