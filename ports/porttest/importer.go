package porttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// ImporterUnderTest is a user store that imports users, and the audit log
// and outbox the imported users' events and messages go to.
type ImporterUnderTest interface {
	ports.UserStore
	ports.UserImporter
	ports.AuditLog
	ports.Outbox
}

// UserImporter runs the ports.UserImporter contract as named subtests.
// newStore must return an empty store that no other subtest uses; it may
// register cleanup on t.
func UserImporter(t *testing.T, newStore func(t *testing.T) ImporterUnderTest) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ImporterUnderTest)
	}{
		{"CreateUsersSavesUsersEventsAndMessages", testImportCreates},
		{"CreateUsersEmpty", testImportEmpty},
		{"CreateUsersManyInOneCall", testImportMany},
		{"StoredEmailTakenStoresNothing", testImportStoredEmailTaken},
		{"EmailTwiceInBatchStoresNothing", testImportEmailTwice},
		{"NicknameTakenStoresNothing", testImportNicknameTaken},
		{"TakenEmailsAndNicknames", testImportTaken},
		{"CancelledContext", testImportCancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// importBatch builds n users e<i>@<domain> with nickname <prefix><i>.
func importBatch(tb testing.TB, n int, dom, prefix string) []*domain.User {
	tb.Helper()
	users := make([]*domain.User, n)
	for i := range users {
		users[i] = newUser(tb, fmt.Sprintf("e%d@%s", i, dom), fmt.Sprintf("%s%d", prefix, i), domain.RoleAuthenticated,
			epoch.Add(time.Duration(i)*time.Millisecond))
	}
	return users
}

func countUsers(tb testing.TB, s ports.UserStore) int {
	tb.Helper()
	_, total, err := s.ListUsers(context.Background(), ports.UserQuery{WithTotal: true})
	if err != nil {
		tb.Fatalf("ListUsers: %v", err)
	}
	return total
}

func testImportCreates(t *testing.T, s ImporterUnderTest) {
	ctx := t.Context()
	users := importBatch(t, 3, "import.example.com", "imported_")
	for i, u := range users {
		u.Record(domain.AuditEvent{Type: domain.EventUserCreated, ActorID: "operator", TargetID: u.ID(), Detail: "imported"})
		if i == 1 {
			u.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: u.Email(), Name: u.Nickname(), Link: "https://x.example/v"})
		}
	}
	if err := s.CreateUsers(ctx, users); err != nil {
		t.Fatalf("CreateUsers: %v", err)
	}
	for _, u := range users {
		assertUser(t, s, u.State())
	}
	events, err := s.ListEvents(ctx, ports.AuditFilter{ActorID: "operator"})
	if err != nil {
		t.Fatalf("ListEvents: %v", err)
	}
	if len(events) != 3 {
		t.Errorf("%d audit events saved, want 3", len(events))
	}
	for _, e := range events {
		if e.Type != domain.EventUserCreated || e.Detail != "imported" {
			t.Errorf("event %+v, want user_created 'imported'", e)
		}
	}
	msgs, err := s.ClaimMessages(ctx, epoch.Add(time.Hour), 10, time.Minute)
	if err != nil {
		t.Fatalf("ClaimMessages: %v", err)
	}
	if len(msgs) != 1 || msgs[0].Message.To != users[1].Email() {
		t.Errorf("claimed %+v, want the one message queued on %s", msgs, users[1].Email())
	}
}

func testImportEmpty(t *testing.T, s ImporterUnderTest) {
	if err := s.CreateUsers(t.Context(), nil); err != nil {
		t.Fatalf("CreateUsers(nil): %v", err)
	}
	if n := countUsers(t, s); n != 0 {
		t.Errorf("%d users stored, want 0", n)
	}
}

// testImportMany stores more users in one call than one SQL statement can
// carry parameters for.
func testImportMany(t *testing.T, s ImporterUnderTest) {
	users := importBatch(t, 1500, "many.example.com", "many_")
	for _, u := range users {
		u.Record(domain.AuditEvent{Type: domain.EventUserCreated, TargetID: u.ID(), Detail: "imported"})
	}
	if err := s.CreateUsers(t.Context(), users); err != nil {
		t.Fatalf("CreateUsers: %v", err)
	}
	if n := countUsers(t, s); n != len(users) {
		t.Errorf("%d users stored, want %d", n, len(users))
	}
	assertUser(t, s, users[len(users)-1].State())
	events, err := s.ListEvents(t.Context(), ports.AuditFilter{Type: domain.EventUserCreated, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1000 {
		t.Errorf("%d events listed, want the limit, 1000", len(events))
	}
}

// assertImportRefused checks that CreateUsers failed with want, stored
// nothing beyond before users, and left the events on the users.
func assertImportRefused(t *testing.T, s ImporterUnderTest, users []*domain.User, want error, before int) {
	t.Helper()
	for _, u := range users {
		u.Record(domain.AuditEvent{Type: domain.EventUserCreated, TargetID: u.ID(), Detail: "imported"})
	}
	err := s.CreateUsers(t.Context(), users)
	if !errors.Is(err, want) {
		t.Fatalf("CreateUsers error = %v, want %v", err, want)
	}
	if n := countUsers(t, s); n != before {
		t.Errorf("%d users stored after a refused import, want %d", n, before)
	}
	for _, u := range users {
		if ev := u.TakeEvents(); len(ev) != 1 {
			t.Fatalf("user %s has %d events after a refused import, want its 1 back", u.Email(), len(ev))
		}
	}
}

func testImportStoredEmailTaken(t *testing.T, s ImporterUnderTest) {
	mustCreate(t, s, newUser(t, "e2@taken.example.com", "someone_else", domain.RoleAuthenticated, epoch))
	assertImportRefused(t, s, importBatch(t, 5, "taken.example.com", "fresh_"), domain.ErrEmailTaken, 1)
}

func testImportEmailTwice(t *testing.T, s ImporterUnderTest) {
	users := importBatch(t, 4, "twice.example.com", "twice_")
	users = append(users, newUser(t, "e1@twice.example.com", "twice_other", domain.RoleAuthenticated, epoch))
	assertImportRefused(t, s, users, domain.ErrEmailTaken, 0)
}

func testImportNicknameTaken(t *testing.T, s ImporterUnderTest) {
	mustCreate(t, s, newUser(t, "owner@example.com", "Nick_3", domain.RoleAuthenticated, epoch))
	assertImportRefused(t, s, importBatch(t, 5, "nick.example.com", "nick_"), domain.ErrNicknameTaken, 1)

	users := importBatch(t, 3, "nick2.example.com", "pair_")
	users = append(users, newUser(t, "other@nick2.example.com", "PAIR_1", domain.RoleAuthenticated, epoch))
	assertImportRefused(t, s, users, domain.ErrNicknameTaken, 1)
}

func testImportTaken(t *testing.T, s ImporterUnderTest) {
	ctx := t.Context()
	stored := importBatch(t, 1200, "taken.example.com", "Stored_")
	if err := s.CreateUsers(ctx, stored); err != nil {
		t.Fatalf("CreateUsers: %v", err)
	}
	var emails, nicknames []string
	for i := range 2400 { // half stored, half not: more than one query's worth
		emails = append(emails, fmt.Sprintf("e%d@taken.example.com", i))
		nicknames = append(nicknames, fmt.Sprintf("stored_%d", i))
	}
	gotEmails, err := s.TakenEmails(ctx, emails)
	if err != nil {
		t.Fatalf("TakenEmails: %v", err)
	}
	gotNicks, err := s.TakenNicknames(ctx, nicknames)
	if err != nil {
		t.Fatalf("TakenNicknames: %v", err)
	}
	if len(gotEmails) != 1200 || len(gotNicks) != 1200 {
		t.Fatalf("%d emails and %d nicknames taken, want 1200 of each", len(gotEmails), len(gotNicks))
	}
	for _, u := range stored {
		if !gotEmails[u.Email()] || !gotNicks[strings.ToLower(u.Nickname())] {
			t.Fatalf("%s / %s not reported taken", u.Email(), u.Nickname())
		}
	}
	if got, err := s.TakenEmails(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("TakenEmails(nil) = %v, %v; want none", got, err)
	}
	if got, err := s.TakenNicknames(ctx, []string{"STORED_7"}); err != nil || !got["stored_7"] {
		t.Errorf("TakenNicknames is not case-insensitive: %v, %v", got, err)
	}
}

func testImportCancelled(t *testing.T, s ImporterUnderTest) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.CreateUsers(ctx, importBatch(t, 2, "cancel.example.com", "cancel_")); err == nil {
		t.Error("CreateUsers with a cancelled context succeeded")
	}
	if _, err := s.TakenEmails(ctx, []string{"a@example.com"}); err == nil {
		t.Error("TakenEmails with a cancelled context succeeded")
	}
	if n := countUsers(t, s); n != 0 {
		t.Errorf("%d users stored, want 0", n)
	}
}
