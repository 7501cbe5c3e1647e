package sqlstore_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/domain"
)

// Prune deletes the sessions, messages and webhook deliveries that are
// over for longer than the retention, and nothing that is not.
func TestPrune(t *testing.T) {
	t.Parallel()
	eachDatabase(t, func(t *testing.T, name string, s *sqlstore.Store, raw *sql.DB) {
		ctx := t.Context()
		day := 24 * time.Hour
		start := time.Now().UTC().Truncate(time.Second)
		// Pruned at now, with a week of sessions and mail and a
		// month of deliveries: over before cutoff goes.
		now := start.Add(40 * day)
		r := sqlstore.Retention{Sessions: 7 * day, Messages: 7 * day, Deliveries: 30 * day}

		// Sessions: expired long ago, ended long ago, expired lately,
		// live. Each has a refresh token.
		u := mustCreate(t, s)
		open := func(at time.Time, ttl time.Duration, end bool) string {
			id := uuid.NewString()
			if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
				cur.OpenSession(domain.NewSession(id, at, domain.SessionPolicy{TTL: ttl}, "", ""), "refresh-"+id)
				return nil
			}); err != nil {
				t.Fatalf("OpenSession: %v", err)
			}
			if end {
				if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
					cur.EndSession(id, at.Add(time.Minute))
					return nil
				}); err != nil {
					t.Fatalf("EndSession: %v", err)
				}
			}
			return id
		}
		expiredLongAgo := open(start, time.Hour, false)
		endedLongAgo := open(start, 60*day, true)
		expiredLately := open(now.Add(-2*day), time.Hour, false)
		live := open(now.Add(-time.Hour), 30*day, false)

		// Messages: sent and given up long ago, sent lately, pending.
		m := newUser(t)
		for _, n := range []string{"a", "b", "c", "d"} {
			m.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: m.Email(), Name: n, Link: "https://example.com/x"})
		}
		if err := s.CreateUser(ctx, m); err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		msgs, err := s.ClaimMessages(ctx, now, 3, time.Minute)
		if err != nil || len(msgs) != 3 {
			t.Fatalf("ClaimMessages: %d, %v; want 3", len(msgs), err)
		}
		must := func(what string, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		must("MarkSent", s.MarkSent(ctx, msgs[0].Message.ID, start))
		must("MarkFailed", s.MarkFailed(ctx, msgs[1].Message.ID, start, "550"))
		must("MarkSent", s.MarkSent(ctx, msgs[2].Message.ID, now.Add(-day)))

		// Webhooks: one endpoint; deliveries delivered long ago, given
		// up long ago, delivered lately, pending.
		hook := domain.Webhook{
			ID: uuid.NewString(), URL: "https://hooks.example.com/a", Events: []domain.WebhookEventType{domain.WebhookUserCreated},
			SealedSecret: "v1:sealed", CreatedAt: start,
		}
		must("CreateWebhook", s.CreateWebhook(ctx, hook))
		for range 4 {
			w := newUser(t)
			w.Record(domain.AuditEvent{Type: domain.EventUserCreated, TargetID: w.ID(), At: start})
			must("CreateUser", s.CreateUser(ctx, w))
		}
		dels, err := s.ClaimDeliveries(ctx, now, 3, time.Minute)
		if err != nil || len(dels) != 3 {
			t.Fatalf("ClaimDeliveries: %d, %v; want 3", len(dels), err)
		}
		must("MarkDelivered", s.MarkDelivered(ctx, dels[0].ID, start, 200))
		must("MarkDeliveryFailed", s.MarkDeliveryFailed(ctx, dels[1].ID, start, 500, "no"))
		must("MarkDelivered", s.MarkDelivered(ctx, dels[2].ID, now.Add(-day), 204))

		got, err := s.Prune(ctx, now, r)
		if err != nil {
			t.Fatalf("Prune: %v", err)
		}
		// Receipts: every change on PostgreSQL wrote one (none on
		// SQLite), all long ago at now.
		if want := (sqlstore.Pruned{Sessions: 2, Messages: 2, Deliveries: 2, Events: 2, Receipts: got.Receipts}); got != want {
			t.Errorf("Prune = %+v, want %+v", got, want)
		}
		var receipts int
		if err := raw.QueryRowContext(ctx, "SELECT count(*) FROM change_receipts").Scan(&receipts); err != nil {
			t.Fatal(err)
		}
		if receipts != 0 || (name == "postgres") != (got.Receipts > 0) {
			t.Errorf("%d change receipts pruned, %d left; want every one pruned (and some on PostgreSQL)", got.Receipts, receipts)
		}
		ids := func(query string) map[string]bool {
			t.Helper()
			rows, err := raw.QueryContext(ctx, query)
			if err != nil {
				t.Fatalf("%s: %v", query, err)
			}
			defer rows.Close()
			found := map[string]bool{}
			for rows.Next() {
				var id string
				if err := rows.Scan(&id); err != nil {
					t.Fatal(err)
				}
				found[id] = true
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return found
		}
		sessions := ids("SELECT id FROM sessions")
		tokens := ids("SELECT hash FROM refresh_tokens")
		for id, kept := range map[string]bool{expiredLongAgo: false, endedLongAgo: false, expiredLately: true, live: true} {
			if sessions[id] != kept || tokens["refresh-"+id] != kept {
				t.Errorf("session %s kept %v, its refresh token %v; want %v", id, sessions[id], tokens["refresh-"+id], kept)
			}
		}
		messages := ids("SELECT id FROM outbox")
		for i, kept := range []bool{false, false, true} {
			if messages[msgs[i].Message.ID] != kept {
				t.Errorf("message %d kept %v, want %v", i, messages[msgs[i].Message.ID], kept)
			}
		}
		if len(messages) != 2 {
			t.Errorf("%d messages left, want 2 (sent lately, pending)", len(messages))
		}
		deliveries := ids("SELECT id FROM webhook_deliveries")
		events := ids("SELECT id FROM webhook_events")
		for i, kept := range []bool{false, false, true} {
			if deliveries[dels[i].ID] != kept || events[dels[i].Event.ID] != kept {
				t.Errorf("delivery %d kept %v, its event %v; want %v", i, deliveries[dels[i].ID], events[dels[i].Event.ID], kept)
			}
		}
		if len(deliveries) != 2 || len(events) != 2 {
			t.Errorf("%d deliveries and %d events left, want 2 and 2", len(deliveries), len(events))
		}

		// The live session still works; pruning again finds nothing.
		if _, _, err := s.RotateRefreshToken(ctx, "refresh-"+live, "refresh-next", now, func(sess domain.Session, _ *domain.User) (domain.Session, error) {
			return sess, nil
		}); err != nil {
			t.Errorf("RotateRefreshToken of the live session after Prune: %v", err)
		}
		if again, err := s.Prune(ctx, now, r); err != nil || again != (sqlstore.Pruned{}) {
			t.Errorf("Prune again = %+v, %v; want nothing", again, err)
		}
	})
}
