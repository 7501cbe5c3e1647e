package sqlstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/domain"
)

// TestOutboxCounts checks the backlog metrics read: pending counts every
// message not sent yet (claimed, retried or untouched), failed those given up.
func TestOutboxCounts(t *testing.T) {
	t.Parallel()
	for name, dbURL := range map[string]func(testing.TB) string{
		"sqlite":   sqliteURL,
		"postgres": sqlstoretest.NewPostgresURL,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			s := openMigrated(t, dbURL(t))
			want := func(wantPending, wantFailed int) {
				t.Helper()
				pending, failed, err := s.OutboxCounts(ctx)
				if err != nil || pending != wantPending || failed != wantFailed {
					t.Errorf("OutboxCounts = %d pending, %d failed, %v; want %d, %d, nil",
						pending, failed, err, wantPending, wantFailed)
				}
			}
			want(0, 0)

			u := newUser(t)
			for _, n := range []string{"a", "b", "c", "d"} {
				u.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: u.Email(), Name: n, Link: "https://example.com/secret"})
			}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			want(4, 0)

			now := time.Now()
			claimed, err := s.ClaimMessages(ctx, now, 3, time.Minute)
			if err != nil || len(claimed) != 3 {
				t.Fatalf("ClaimMessages: %d messages, %v; want 3", len(claimed), err)
			}
			want(4, 0) // claimed messages are still to be sent
			for i, mark := range []func(id string) error{
				func(id string) error { return s.MarkSent(ctx, id, now) },
				func(id string) error { return s.MarkFailed(ctx, id, now, "550 no such user") },
				func(id string) error { return s.MarkRetry(ctx, id, now.Add(time.Minute), "421 try later") },
			} {
				if err := mark(claimed[i].Message.ID); err != nil {
					t.Fatalf("mark %d: %v", i, err)
				}
			}
			want(2, 1) // one retried and one never claimed; one given up

			cancelled, cancel := context.WithCancel(ctx)
			cancel()
			if _, _, err := s.OutboxCounts(cancelled); err == nil {
				t.Error("OutboxCounts with a cancelled context succeeded")
			}
		})
	}
}
