package sqlstore

import (
	"context"
	"time"
)

// Retention is how long rows that no longer do anything are kept: every
// login adds a session and a refresh token, every refresh a token, every
// email and webhook a row, and without pruning the tables only grow.
type Retention struct {
	// Sessions: a session expired or ended this long ago goes, with its
	// refresh tokens. Until then a rotated token presented again is
	// recognised as reuse; after, it is merely unknown (401 either way: the
	// session it belonged to is over).
	Sessions time.Duration
	// Messages: an outbox message sent or given up this long ago goes.
	Messages time.Duration
	// Deliveries: a webhook delivery delivered or given up this long ago
	// goes (the console and GET /webhooks/{id}/deliveries show the rest);
	// an event goes with its last delivery.
	Deliveries time.Duration
}

// DefaultRetention keeps a week of sessions and mail, a month of webhook
// deliveries. The audit log is kept whole: it is the record.
var DefaultRetention = Retention{
	Sessions:   7 * 24 * time.Hour,
	Messages:   7 * 24 * time.Hour,
	Deliveries: 30 * 24 * time.Hour,
}

// Pruned counts the rows Prune deleted.
type Pruned struct {
	Sessions, Messages, Deliveries, Events, Receipts int64
}

// receiptTTL is how long a change's receipt is kept: far beyond the
// moment database/sql would run its statement again (see
// change_receipts), which is at once.
const receiptTTL = 10 * time.Minute

// pruneBatch bounds each delete: a long backlog goes in short
// transactions that hold few locks, not one that holds them all.
const pruneBatch = 1000

const (
	pruneSessions = "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions" +
		" WHERE expires_at < ? OR revoked_at < ? LIMIT ?)"
	pruneMessages = "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox" +
		" WHERE sent_at < ? OR failed_at < ? LIMIT ?)"
	pruneDeliveries = "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries" +
		" WHERE delivered_at < ? OR failed_at < ? LIMIT ?)"
	// An event is written with its deliveries in one transaction, so one
	// without any has had them all pruned (or its endpoints deleted).
	pruneEvents = "DELETE FROM webhook_events WHERE id IN (SELECT e.id FROM webhook_events e" +
		" WHERE e.occurred_at < ? AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) LIMIT ?)"
	pruneReceipts = "DELETE FROM change_receipts WHERE id IN (SELECT id FROM change_receipts WHERE created_at < ? LIMIT ?)"
)

// Prune deletes what r no longer keeps, as of now. Several instances may
// prune at once: each delete is idempotent.
func (s *Store) Prune(ctx context.Context, now time.Time, r Retention) (Pruned, error) {
	var p Pruned
	var err error
	sessions := s.d.timeValue(now.Add(-r.Sessions))
	if p.Sessions, err = s.pruneAll(ctx, "prune sessions", pruneSessions, sessions, sessions); err != nil {
		return p, err
	}
	messages := s.d.timeValue(now.Add(-r.Messages))
	if p.Messages, err = s.pruneAll(ctx, "prune messages", pruneMessages, messages, messages); err != nil {
		return p, err
	}
	deliveries := s.d.timeValue(now.Add(-r.Deliveries))
	if p.Deliveries, err = s.pruneAll(ctx, "prune webhook deliveries", pruneDeliveries, deliveries, deliveries); err != nil {
		return p, err
	}
	if p.Events, err = s.pruneAll(ctx, "prune webhook events", pruneEvents, deliveries); err != nil {
		return p, err
	}
	p.Receipts, err = s.pruneAll(ctx, "prune change receipts", pruneReceipts, s.d.timeValue(now.Add(-receiptTTL)))
	return p, err
}

// pruneAll runs the batched delete query until a batch finds fewer rows
// than it may delete.
func (s *Store) pruneAll(ctx context.Context, op, query string, args ...any) (int64, error) {
	var total int64
	for {
		res, err := s.db.ExecContext(ctx, s.q(query), append(args, pruneBatch)...)
		if err != nil {
			return total, s.wrap(op, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, s.wrap(op, err)
		}
		total += n
		if n < pruneBatch {
			return total, nil
		}
	}
}
