package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Listing limits, as in the SQL stores.
const (
	defaultEventLimit = 50
	maxEventLimit     = 1000
)

// newEvents prepares events for saving: each gets an id (a UUIDv7, so id
// order is the order they were saved in) unless it has one, and, if it has
// no time, at (the time of the change that recorded it, the user's
// UpdatedAt). It fails with domain.ErrInvalid for an event without a type or
// time, or with an id that is not a UUID, before the caller changes anything.
func newEvents(events []domain.AuditEvent, at time.Time) ([]domain.AuditEvent, error) {
	out := make([]domain.AuditEvent, 0, len(events))
	for _, e := range events {
		if e.At.IsZero() {
			e.At = at
		}
		if e.Type == "" || e.At.IsZero() {
			return nil, fmt.Errorf("memory: audit event %+v has no type or time: %w", e, domain.ErrInvalid)
		}
		if e.ID == "" {
			id, err := uuid.NewV7()
			if err != nil {
				return nil, fmt.Errorf("memory: audit event id: %w", err)
			}
			e.ID = id.String()
		} else if id, ok := domain.CanonicalUserID(e.ID); ok {
			e.ID = id
		} else {
			return nil, fmt.Errorf("memory: audit event id %q is not a UUID: %w", e.ID, domain.ErrInvalid)
		}
		e.ActorID, e.TargetID, e.At = refID(e.ActorID), refID(e.TargetID), e.At.UTC()
		out = append(out, e)
	}
	return out, nil
}

// refID keeps a user id named by an event or filter in canonical form when
// it is a UUID, as the SQL stores do.
func refID(id string) string {
	if c, ok := domain.CanonicalUserID(id); ok {
		return c
	}
	return id
}

// RecordEvent implements ports.AuditLog. The store assigns the id unless e
// has one; an event without a type or time fails with domain.ErrInvalid.
func (s *UserStore) RecordEvent(ctx context.Context, e domain.AuditEvent) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if e.At.IsZero() {
		return fmt.Errorf("memory: record event: no time: %w", domain.ErrInvalid)
	}
	events, err := newEvents([]domain.AuditEvent{e}, time.Time{})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.ContainsFunc(s.events, func(o domain.AuditEvent) bool { return o.ID == events[0].ID }) {
		return fmt.Errorf("memory: audit event %s already exists: %w", events[0].ID, domain.ErrConflict)
	}
	s.events = append(s.events, events...)
	return nil
}

// ListEvents implements ports.AuditLog: newest (highest id) first, at most
// the filter's limit (zero or less: 50; at most 1000). A cursor that is not
// a UUID fails with domain.ErrInvalid.
func (s *UserStore) ListEvents(ctx context.Context, f ports.AuditFilter) ([]domain.AuditEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	before := ""
	if f.Before != "" {
		var ok bool
		if before, ok = domain.CanonicalUserID(f.Before); !ok {
			return nil, fmt.Errorf("memory: list events: cursor %q is not an event id: %w", f.Before, domain.ErrInvalid)
		}
	}
	limit := defaultEventLimit
	if f.Limit > 0 {
		limit = min(f.Limit, maxEventLimit)
	}
	actor, target := refID(f.ActorID), refID(f.TargetID)
	s.mu.RLock()
	var out []domain.AuditEvent
	for _, e := range s.events {
		if (actor == "" || e.ActorID == actor) &&
			(target == "" || e.TargetID == target) &&
			(f.Type == "" || e.Type == f.Type) &&
			(f.Since.IsZero() || !e.At.Before(f.Since)) &&
			(f.Until.IsZero() || e.At.Before(f.Until)) &&
			(before == "" || e.ID < before) {
			out = append(out, e)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b domain.AuditEvent) int { return strings.Compare(b.ID, a.ID) })
	if out == nil {
		out = []domain.AuditEvent{}
	}
	return out[:min(limit, len(out))], nil
}
