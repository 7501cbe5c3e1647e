package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Webhooks: endpoints, the events user changes owe them and one delivery
// per event and endpoint. CreateUser, UpdateUser(…) and DeleteUser save the
// webhook events a change recorded in its own transaction
// (saveWebhookEvents), fanned out there into deliveries to the endpoints
// subscribed at that moment; the webhook dispatcher claims, sends and marks
// deliveries as the email dispatcher does the outbox.
//
// Fanning out at write time keeps delivery a single claim of one row per
// attempt (no second stage that itself would need leases), gives each
// delivery its own attempts, backoff and log line, and means an endpoint
// created after a change never receives it. The event's content is stored
// once, in webhook_events.

var (
	_ ports.WebhookStore  = (*Store)(nil)
	_ ports.WebhookOutbox = (*Store)(nil)
)

// Listing limits of ListDeliveries.
const (
	defaultDeliveryLimit = 100
	maxDeliveryLimit     = 1000
)

// The webhook SQL, with ? placeholders rebound per dialect.
const (
	insertWebhook = "INSERT INTO webhooks (id, url, events, secret, created_at) VALUES (?, ?, ?, ?, ?)"
	selectWebhook = "SELECT id, url, events, secret, created_at FROM webhooks"
	// subscribers are the endpoints an event may go to; %s locks them
	// against deletion until the change commits (keyShare).
	selectSubscribers = "SELECT id, events FROM webhooks ORDER BY id%s"
	insertHookEvent   = "INSERT INTO webhook_events (id, type, occurred_at, user_data) VALUES (?, ?, ?, ?)"
	insertDelivery    = "INSERT INTO webhook_deliveries (id, event_id, webhook_id, status, attempts, next_attempt_at, created_at)" +
		" VALUES (?, ?, ?, 'pending', 0, ?, ?)"
	// deleteOwnEvents deletes the events that went to this endpoint only,
	// with their deliveries; deleting the endpoint cascades to the rest.
	deleteOwnEvents = "DELETE FROM webhook_events WHERE id IN (SELECT event_id FROM webhook_deliveries WHERE webhook_id = ?)" +
		" AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id AND d.webhook_id <> ?)"
	lockWebhook    = "SELECT id FROM webhooks WHERE id = ?"
	deleteWebhook  = "DELETE FROM webhooks WHERE id = ?"
	webhookExists  = "SELECT count(*) FROM webhooks WHERE id = ?"
	listDeliveries = "SELECT d.id, d.event_id, e.type, d.status, d.attempts, d.last_status_code, d.created_at, d.delivered_at" +
		" FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id" +
		" WHERE d.webhook_id = ? ORDER BY d.created_at DESC, d.id DESC LIMIT ?"
	// claimDeliveries leases the due deliveries most overdue first; %s is
	// the dialect's skipLocked. Arguments: lease end, now, limit.
	claimDeliveries = "UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt_at = ?" +
		" WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ?" +
		" ORDER BY next_attempt_at, id LIMIT ?%s)" +
		" RETURNING id"
	// claimedDeliveries reads what sending the claimed deliveries needs.
	claimedDeliveries = "SELECT d.id, d.attempts, e.id AS event_id, e.type, e.occurred_at, e.user_data," +
		" w.id AS webhook_id, w.url, w.events, w.secret, w.created_at AS webhook_created_at" +
		" FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id JOIN webhooks w ON w.id = d.webhook_id" +
		" WHERE d.id IN (?)"
	// A delivered delivery stays delivered: a late retry or failure from a
	// dispatcher whose lease ran out changes nothing.
	markDelivered = "UPDATE webhook_deliveries SET status = 'delivered', delivered_at = ?, failed_at = NULL," +
		" last_status_code = ?, last_error = NULL WHERE id = ? AND status <> 'delivered'"
	markDeliveryRetry = "UPDATE webhook_deliveries SET next_attempt_at = ?, last_status_code = ?, last_error = ?" +
		" WHERE id = ? AND status = 'pending'"
	markDeliveryFailed = "UPDATE webhook_deliveries SET status = 'failed', failed_at = ?, last_status_code = ?, last_error = ?" +
		" WHERE id = ? AND status = 'pending'"
	deliveryExists = "SELECT count(*) FROM webhook_deliveries WHERE id = ?"
	// countDeliveries is the backlog, for metrics.
	countDeliveries = "SELECT status, count(*) AS n FROM webhook_deliveries WHERE status IN ('pending', 'failed') GROUP BY status"
)

// keyShare locks the rows a SELECT reads against deletion (not against
// other readers): a change that fans an event out to an endpoint keeps it
// until the change commits, so a concurrent DeleteWebhook waits and then
// takes the new deliveries with it. SQLite has a single writer.
func (s *Store) keyShare() string {
	if _, ok := s.d.(postgres); ok {
		return " FOR KEY SHARE"
	}
	return ""
}

// snapshotJSON is how a webhook event keeps its user: the snapshot's
// fields, stored with the event; zero optional times are left out.
type snapshotJSON struct {
	ID                          string    `json:"id"`
	Email                       string    `json:"email"`
	Nickname                    string    `json:"nickname"`
	FirstName                   string    `json:"first_name,omitempty"`
	LastName                    string    `json:"last_name,omitempty"`
	Bio                         string    `json:"bio,omitempty"`
	PreferredLanguage           string    `json:"preferred_language,omitempty"`
	ProfilePictureURL           string    `json:"profile_picture_url,omitempty"`
	LinkedInProfileURL          string    `json:"linkedin_profile_url,omitempty"`
	GitHubProfileURL            string    `json:"github_profile_url,omitempty"`
	Role                        string    `json:"role"`
	IsProfessional              bool      `json:"is_professional"`
	ProfessionalStatusUpdatedAt time.Time `json:"professional_status_updated_at,omitzero"`
	EmailVerified               bool      `json:"email_verified"`
	IsLocked                    bool      `json:"is_locked"`
	MFAEnabled                  bool      `json:"mfa_enabled"`
	InvitationPending           bool      `json:"invitation_pending"`
	LastLoginAt                 time.Time `json:"last_login_at,omitzero"`
	CreatedAt                   time.Time `json:"created_at"`
	UpdatedAt                   time.Time `json:"updated_at"`
}

func encodeSnapshot(u domain.UserSnapshot) (string, error) {
	p := u.Profile
	b, err := json.Marshal(snapshotJSON{
		ID: u.ID, Email: u.Email, Nickname: u.Nickname,
		FirstName: p.FirstName, LastName: p.LastName, Bio: p.Bio, PreferredLanguage: p.PreferredLanguage,
		ProfilePictureURL: p.ProfilePictureURL, LinkedInProfileURL: p.LinkedInProfileURL, GitHubProfileURL: p.GitHubProfileURL,
		Role: u.Role.String(), IsProfessional: u.IsProfessional, ProfessionalStatusUpdatedAt: u.ProfessionalStatusUpdatedAt.UTC(),
		EmailVerified: u.EmailVerified, IsLocked: u.IsLocked, MFAEnabled: u.MFAEnabled,
		InvitationPending: u.InvitationPending, LastLoginAt: u.LastLoginAt.UTC(),
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
	})
	return string(b), err
}

func decodeSnapshot(data string) (domain.UserSnapshot, error) {
	var j snapshotJSON
	if err := json.Unmarshal([]byte(data), &j); err != nil {
		return domain.UserSnapshot{}, fmt.Errorf("stored user snapshot: %w", err)
	}
	role, err := domain.ParseRole(j.Role)
	if err != nil {
		return domain.UserSnapshot{}, fmt.Errorf("stored user snapshot %s has an unknown role %q", j.ID, j.Role)
	}
	utc := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return t.UTC()
	}
	return domain.UserSnapshot{
		ID: j.ID, Email: j.Email, Nickname: j.Nickname,
		Profile: domain.Profile{
			FirstName: j.FirstName, LastName: j.LastName, Bio: j.Bio, PreferredLanguage: j.PreferredLanguage,
			ProfilePictureURL: j.ProfilePictureURL, LinkedInProfileURL: j.LinkedInProfileURL, GitHubProfileURL: j.GitHubProfileURL,
		},
		Role: role, IsProfessional: j.IsProfessional, ProfessionalStatusUpdatedAt: utc(j.ProfessionalStatusUpdatedAt),
		EmailVerified: j.EmailVerified, IsLocked: j.IsLocked, MFAEnabled: j.MFAEnabled,
		InvitationPending: j.InvitationPending, LastLoginAt: utc(j.LastLoginAt),
		CreatedAt: utc(j.CreatedAt), UpdatedAt: utc(j.UpdatedAt),
	}, nil
}

// encodeEvents and decodeEvents store an endpoint's event types as a JSON array.
func encodeEvents(events []domain.WebhookEventType) (string, error) {
	if events == nil {
		events = []domain.WebhookEventType{}
	}
	b, err := json.Marshal(events)
	return string(b), err
}

func decodeEvents(data string) ([]domain.WebhookEventType, error) {
	var out []domain.WebhookEventType
	if err := json.Unmarshal([]byte(data), &out); err != nil {
		return nil, fmt.Errorf("stored webhook events %q: %w", data, err)
	}
	return out, nil
}

// saveWebhookEvents inserts, in tx, each event some endpoint subscribes to
// and one pending delivery per such endpoint, due at once. Events nobody
// subscribes to are not stored.
func (s *Store) saveWebhookEvents(ctx context.Context, tx *sqlx.Tx, op string, events []domain.WebhookEvent) error {
	if len(events) == 0 {
		return nil
	}
	var rows []struct {
		ID     string `db:"id"`
		Events string `db:"events"`
	}
	if err := tx.SelectContext(ctx, &rows, s.q(fmt.Sprintf(selectSubscribers, s.keyShare()))); err != nil {
		return s.wrap(op+": read webhooks", err)
	}
	if len(rows) == 0 {
		return nil
	}
	hooks := make([]domain.Webhook, 0, len(rows))
	for _, r := range rows {
		evs, err := decodeEvents(r.Events)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: webhook %s: %w", op, r.ID, err)
		}
		hooks = append(hooks, domain.Webhook{ID: r.ID, Events: evs})
	}
	for _, e := range events {
		var to []string
		for _, h := range hooks {
			if h.Subscribes(e.Type) {
				to = append(to, h.ID)
			}
		}
		if len(to) == 0 {
			continue
		}
		if e.Type == "" || e.At.IsZero() {
			return fmt.Errorf("sqlstore: %s: webhook event %+v has no type or time: %w", op, e, domain.ErrInvalid)
		}
		eventID, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("sqlstore: %s: webhook event id: %w", op, err)
		}
		data, err := encodeSnapshot(e.User)
		if err != nil {
			return fmt.Errorf("sqlstore: %s: webhook event: %w", op, err)
		}
		at := s.d.timeValue(e.At)
		if _, err := tx.ExecContext(ctx, s.q(insertHookEvent), eventID.String(), string(e.Type), at, data); err != nil {
			return s.wrap(op+": save webhook event", err)
		}
		for _, hookID := range to {
			id, err := uuid.NewV7()
			if err != nil {
				return fmt.Errorf("sqlstore: %s: webhook delivery id: %w", op, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(insertDelivery), id.String(), eventID.String(), hookID, at, at); err != nil {
				return s.wrap(op+": save webhook delivery", err)
			}
		}
	}
	return nil
}

// webhookRow is one row of webhooks.
type webhookRow struct {
	ID        string `db:"id"`
	URL       string `db:"url"`
	Events    string `db:"events"`
	Secret    string `db:"secret"`
	CreatedAt dbTime `db:"created_at"`
}

func (r webhookRow) webhook() (domain.Webhook, error) {
	evs, err := decodeEvents(r.Events)
	if err != nil {
		return domain.Webhook{}, fmt.Errorf("sqlstore: webhook %s: %w", r.ID, err)
	}
	return domain.Webhook{ID: r.ID, URL: r.URL, Events: evs, SealedSecret: r.Secret, CreatedAt: r.CreatedAt.Time}, nil
}

// CreateWebhook implements ports.WebhookStore. The id must be a UUID.
func (s *Store) CreateWebhook(ctx context.Context, w domain.Webhook) error {
	id, ok := domain.CanonicalUserID(w.ID)
	if !ok {
		return fmt.Errorf("sqlstore: create webhook: id %q is not a UUID: %w", w.ID, domain.ErrInvalid)
	}
	evs, err := encodeEvents(w.Events)
	if err != nil {
		return fmt.Errorf("sqlstore: create webhook: %w", err)
	}
	_, err = s.db.ExecContext(ctx, s.q(insertWebhook), id, w.URL, evs, w.SealedSecret, s.d.timeValue(w.CreatedAt))
	if _, dup := s.d.uniqueViolation(err); dup {
		return fmt.Errorf("sqlstore: create webhook: id %s already exists: %w", id, domain.ErrConflict)
	}
	return s.wrap("create webhook", err)
}

// ListWebhooks implements ports.WebhookStore.
func (s *Store) ListWebhooks(ctx context.Context) ([]domain.Webhook, error) {
	var rows []webhookRow
	if err := s.db.SelectContext(ctx, &rows, s.q(selectWebhook+" ORDER BY created_at, id")); err != nil {
		return nil, s.wrap("list webhooks", err)
	}
	out := make([]domain.Webhook, 0, len(rows))
	for _, r := range rows {
		w, err := r.webhook()
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// DeleteWebhook implements ports.WebhookStore. Events that went to this
// endpoint alone go with it.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return domain.ErrWebhookNotFound
	}
	return s.retry(func() error {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return s.wrap("delete webhook", err)
		}
		defer tx.Rollback()
		// Locking the endpoint first waits for the changes fanning events
		// out to it; their events are then seen, and new ones wait for us.
		var found []string
		if err := tx.SelectContext(ctx, &found, s.q(lockWebhook+s.d.forUpdate()), id); err != nil {
			return s.wrap("delete webhook", err)
		}
		if len(found) == 0 {
			return domain.ErrWebhookNotFound
		}
		if _, err := tx.ExecContext(ctx, s.q(deleteOwnEvents), id, id); err != nil {
			return s.wrap("delete webhook", err)
		}
		res, err := tx.ExecContext(ctx, s.q(deleteWebhook), id)
		if err != nil {
			return s.wrap("delete webhook", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return s.wrap("delete webhook", err)
		} else if n == 0 {
			return domain.ErrWebhookNotFound
		}
		return s.wrap("delete webhook", tx.Commit())
	})
}

// deliveryRow is what the deliveries log shows of a delivery.
type deliveryRow struct {
	ID             string        `db:"id"`
	EventID        string        `db:"event_id"`
	Type           string        `db:"type"`
	Status         string        `db:"status"`
	Attempts       int           `db:"attempts"`
	LastStatusCode sql.NullInt64 `db:"last_status_code"`
	CreatedAt      dbTime        `db:"created_at"`
	DeliveredAt    dbTime        `db:"delivered_at"`
}

// ListDeliveries implements ports.WebhookStore. A limit of zero or less
// means defaultDeliveryLimit; more than maxDeliveryLimit means that.
func (s *Store) ListDeliveries(ctx context.Context, webhookID string, limit int) ([]ports.WebhookDelivery, error) {
	id, ok := domain.CanonicalUserID(webhookID)
	if !ok {
		return nil, domain.ErrWebhookNotFound
	}
	if limit <= 0 {
		limit = defaultDeliveryLimit
	}
	limit = min(limit, maxDeliveryLimit)
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, s.wrap("list deliveries", err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.GetContext(ctx, &n, s.q(webhookExists), id); err != nil {
		return nil, s.wrap("list deliveries", err)
	}
	if n == 0 {
		return nil, domain.ErrWebhookNotFound
	}
	var rows []deliveryRow
	if err := tx.SelectContext(ctx, &rows, s.q(listDeliveries), id, limit); err != nil {
		return nil, s.wrap("list deliveries", err)
	}
	out := make([]ports.WebhookDelivery, 0, len(rows))
	for _, r := range rows {
		out = append(out, ports.WebhookDelivery{
			ID: r.ID, EventID: r.EventID, Type: domain.WebhookEventType(r.Type), Status: ports.DeliveryStatus(r.Status),
			Attempts: r.Attempts, LastStatusCode: int(r.LastStatusCode.Int64),
			CreatedAt: r.CreatedAt.Time, DeliveredAt: r.DeliveredAt.Time,
		})
	}
	return out, s.wrap("list deliveries", tx.Commit())
}

// claimedRow is what a claim reads of a delivery, its event and endpoint.
type claimedRow struct {
	ID               string `db:"id"`
	Attempts         int    `db:"attempts"`
	EventID          string `db:"event_id"`
	Type             string `db:"type"`
	OccurredAt       dbTime `db:"occurred_at"`
	UserData         string `db:"user_data"`
	WebhookID        string `db:"webhook_id"`
	URL              string `db:"url"`
	Events           string `db:"events"`
	Secret           string `db:"secret"`
	WebhookCreatedAt dbTime `db:"webhook_created_at"`
}

// ClaimDeliveries implements ports.WebhookOutbox. One UPDATE picks and
// leases the rows (on PostgreSQL with SKIP LOCKED, so concurrent claimers
// take disjoint rows; SQLite has a single writer), and the same
// transaction reads their events and endpoints. They are returned oldest
// event first.
func (s *Store) ClaimDeliveries(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]ports.ClaimedDelivery, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if limit <= 0 {
		return []ports.ClaimedDelivery{}, nil
	}
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, s.wrap("claim deliveries", err)
	}
	defer tx.Rollback()
	var ids []string
	until := now.Add(max(lease, 0))
	if err := tx.SelectContext(ctx, &ids, s.q(fmt.Sprintf(claimDeliveries, s.d.skipLocked())),
		s.d.timeValue(until), s.d.timeValue(now), limit); err != nil {
		return nil, s.wrap("claim deliveries", err)
	}
	if len(ids) == 0 {
		return []ports.ClaimedDelivery{}, s.wrap("claim deliveries", tx.Commit())
	}
	query, args, err := sqlx.In(claimedDeliveries, ids)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: claim deliveries: %w", err)
	}
	var rows []claimedRow
	if err := tx.SelectContext(ctx, &rows, s.q(query), args...); err != nil {
		return nil, s.wrap("claim deliveries", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, s.wrap("claim deliveries", err)
	}
	slices.SortFunc(rows, func(a, b claimedRow) int {
		return cmp.Or(a.OccurredAt.Compare(b.OccurredAt.Time), strings.Compare(a.EventID, b.EventID), strings.Compare(a.ID, b.ID))
	})
	out := make([]ports.ClaimedDelivery, 0, len(rows))
	for _, r := range rows {
		snap, err := decodeSnapshot(r.UserData)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: claim deliveries: event %s: %w", r.EventID, err)
		}
		evs, err := decodeEvents(r.Events)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: claim deliveries: webhook %s: %w", r.WebhookID, err)
		}
		out = append(out, ports.ClaimedDelivery{
			ID: r.ID, Attempts: r.Attempts,
			Event: domain.WebhookEvent{ID: r.EventID, Type: domain.WebhookEventType(r.Type), At: r.OccurredAt.Time, User: snap},
			Webhook: domain.Webhook{
				ID: r.WebhookID, URL: r.URL, Events: evs, SealedSecret: r.Secret, CreatedAt: r.WebhookCreatedAt.Time,
			},
		})
	}
	return out, nil
}

// MarkDelivered implements ports.WebhookOutbox.
func (s *Store) MarkDelivered(ctx context.Context, id string, now time.Time, statusCode int) error {
	return s.markDelivery(ctx, "mark delivery delivered", id, markDelivered, s.d.timeValue(now), statusCodeValue(statusCode))
}

// MarkDeliveryRetry implements ports.WebhookOutbox.
func (s *Store) MarkDeliveryRetry(ctx context.Context, id string, next time.Time, statusCode int, lastError string) error {
	return s.markDelivery(ctx, "mark delivery for retry", id, markDeliveryRetry,
		s.d.timeValue(next), statusCodeValue(statusCode), lastErrorValue(lastError))
}

// MarkDeliveryFailed implements ports.WebhookOutbox.
func (s *Store) MarkDeliveryFailed(ctx context.Context, id string, now time.Time, statusCode int, lastError string) error {
	return s.markDelivery(ctx, "mark delivery failed", id, markDeliveryFailed,
		s.d.timeValue(now), statusCodeValue(statusCode), lastErrorValue(lastError))
}

// markDelivery runs query, whose last placeholder is the delivery id, and
// fails with domain.ErrNotFound when there is no such delivery.
func (s *Store) markDelivery(ctx context.Context, op, id, query string, args ...any) error {
	uid, err := uuid.Parse(id)
	if err != nil {
		return fmt.Errorf("sqlstore: %s: delivery %q: %w", op, id, domain.ErrNotFound)
	}
	id = uid.String()
	found, err := s.updateExisting(ctx, op, query, deliveryExists, id, args...)
	if err == nil && !found {
		err = fmt.Errorf("sqlstore: %s: delivery %s: %w", op, id, domain.ErrNotFound)
	}
	return err
}

// statusCodeValue stores an HTTP status, NULL for none (or nonsense).
func statusCodeValue(code int) any {
	if code < 100 || code > 999 {
		return nil
	}
	return code
}

// WebhookCounts reports the deliveries' backlog for metrics: those not yet
// delivered (due, waiting for a retry or being sent) and those given up.
func (s *Store) WebhookCounts(ctx context.Context) (pending, failed int, err error) {
	var rows []struct {
		Status string `db:"status"`
		N      int    `db:"n"`
	}
	if err := s.db.SelectContext(ctx, &rows, s.q(countDeliveries)); err != nil {
		return 0, 0, s.wrap("count webhook deliveries", err)
	}
	for _, r := range rows {
		switch r.Status {
		case "pending":
			pending = r.N
		case "failed":
			failed = r.N
		}
	}
	return pending, failed, nil
}
