package memory

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Delivery states of an outbox entry, as in the SQL stores.
const (
	statusPending = "pending"
	statusSent    = "sent"
	statusFailed  = "failed"
)

// outboxEntry is one saved message. Entries are guarded by UserStore.mu.
type outboxEntry struct {
	seq       int // insertion order, which is also id order
	msg       domain.Message
	status    string
	attempts  int
	next      time.Time // next attempt; a claim moves it to the lease's end
	created   time.Time
	sentAt    time.Time
	failedAt  time.Time
	lastError string
}

// newEntries makes pending entries for msgs, created and due at the time of
// the change that queued them (the user's UpdatedAt, from the service's
// clock). It allocates ids before the caller changes anything, so a failure
// leaves the store as it was.
func newEntries(msgs []domain.Message, at time.Time) ([]*outboxEntry, error) {
	entries := make([]*outboxEntry, 0, len(msgs))
	for _, m := range msgs {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("memory: message id: %w", err)
		}
		m.ID = id.String()
		entries = append(entries, &outboxEntry{msg: m, status: statusPending, next: at.UTC(), created: at.UTC()})
	}
	return entries, nil
}

// appendEntries saves entries. The caller holds mu for writing.
func (s *UserStore) appendEntries(entries []*outboxEntry) {
	for _, e := range entries {
		e.seq = len(s.outbox)
		s.outbox = append(s.outbox, e)
		s.byID[e.msg.ID] = e
	}
}

// ClaimMessages implements ports.Outbox. It picks the due pending messages
// most overdue first, as the SQL stores do, and returns them oldest first.
func (s *UserStore) ClaimMessages(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]ports.OutboxMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var due []*outboxEntry
	for _, e := range s.outbox {
		if e.status == statusPending && !e.next.After(now) {
			due = append(due, e)
		}
	}
	slices.SortFunc(due, func(a, b *outboxEntry) int { return cmp.Or(a.next.Compare(b.next), cmp.Compare(a.seq, b.seq)) })
	due = due[:min(max(limit, 0), len(due))]
	slices.SortFunc(due, func(a, b *outboxEntry) int { return cmp.Or(a.created.Compare(b.created), cmp.Compare(a.seq, b.seq)) })
	until := now.Add(max(lease, 0)).UTC()
	out := make([]ports.OutboxMessage, 0, len(due))
	for _, e := range due {
		e.attempts++
		e.next = until
		out = append(out, ports.OutboxMessage{Message: e.msg, Attempts: e.attempts, CreatedAt: e.created})
	}
	return out, nil
}

// MarkSent implements ports.Outbox. A sent message stays sent.
func (s *UserStore) MarkSent(ctx context.Context, id string, now time.Time) error {
	return s.mark(ctx, id, func(e *outboxEntry) {
		if e.status != statusSent {
			e.status, e.sentAt, e.failedAt = statusSent, now.UTC(), time.Time{}
			e.msg.Link, e.lastError = "", ""
		}
	})
}

// MarkRetry implements ports.Outbox. It does nothing to a message that is
// no longer pending.
func (s *UserStore) MarkRetry(ctx context.Context, id string, next time.Time, lastError string) error {
	return s.mark(ctx, id, func(e *outboxEntry) {
		if e.status == statusPending {
			e.next, e.lastError = next.UTC(), lastError
		}
	})
}

// MarkFailed implements ports.Outbox. It does nothing to a message that is
// no longer pending.
func (s *UserStore) MarkFailed(ctx context.Context, id string, now time.Time, lastError string) error {
	return s.mark(ctx, id, func(e *outboxEntry) {
		if e.status == statusPending {
			e.status, e.failedAt, e.lastError = statusFailed, now.UTC(), lastError
			e.msg.Link = "" // never sent: its secret is of no more use
		}
	})
}

// mark applies change to message id, failing with domain.ErrNotFound when
// there is no such message.
func (s *UserStore) mark(ctx context.Context, id string, change func(e *outboxEntry)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if uid, err := uuid.Parse(id); err == nil {
		id = uid.String()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("memory: outbox message %q: %w", id, domain.ErrNotFound)
	}
	change(e)
	return nil
}
