package porttest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// OutboxStore is a user store that is also the outbox its messages go to.
type OutboxStore interface {
	ports.UserStore
	ports.Outbox
}

// Outbox runs the ports.Outbox contract, and the UserStore's part of it (the
// messages queued on a user are saved if and only if the change commits), as
// named subtests. newStore must return an empty store that no other subtest
// uses; it may register cleanup on t.
//
// Beyond the port's comments, the suite requires that a saved message is
// created and first due at the time of the change that queued it (the user's
// UpdatedAt), so a dispatcher on the service's clock sees it at once.
func Outbox(t *testing.T, newStore func(t *testing.T) OutboxStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s OutboxStore)
	}{
		{"QueuedBeforeCreateIsClaimable", testOutboxCreate},
		{"FailedCreateSavesNoMessage", testOutboxFailedCreate},
		{"RolledBackUpdateSavesNoMessage", testOutboxRolledBackUpdate},
		{"CommittedUpdateSavesMessages", testOutboxCommittedUpdate},
		{"DeleteSavesNoMessage", testOutboxDelete},
		{"ClaimRespectsNowLimitAndOrder", testOutboxClaimOrder},
		{"LeaseHidesUntilItEnds", testOutboxLease},
		{"MarkSentIsFinal", testOutboxMarkSent},
		{"MarkRetryReschedules", testOutboxMarkRetry},
		{"MarkFailedIsFinal", testOutboxMarkFailed},
		{"UnknownID", testOutboxUnknownID},
		{"ConcurrentClaimersGetEachMessageOnce", testOutboxConcurrentClaimers},
		{"CancelledContext", testOutboxCancelledContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

// lease is the suite's usual lease; long enough never to end by accident.
const lease = time.Hour

func testOutboxCreate(t *testing.T, s OutboxStore) {
	u := newUser(t, "queued@example.com", "queued", domain.RoleAnonymous, epoch)
	verify := domain.Message{Kind: domain.MessageVerifyEmail, To: u.Email(), Name: "Ada Lovelace",
		Link: "https://example.com/verify?token=s3cr%C3%A9t&x=1"}
	upgrade := domain.Message{Kind: domain.MessageProfessional, To: u.Email(), Name: "Ada"} // no link
	u.Queue(verify)
	u.Queue(upgrade)
	mustCreate(t, s, u)
	if left := u.TakeMessages(); len(left) != 0 {
		t.Errorf("after CreateUser %d messages are still queued on the user, want the store to take them", len(left))
	}

	got := mustClaim(t, s, epoch, 10, lease)
	assertMessages(t, got, verify, upgrade)
	for _, m := range got {
		if m.Attempts != 1 {
			t.Errorf("message %s: Attempts = %d, want 1", m.Message.ID, m.Attempts)
		}
		if !m.CreatedAt.Equal(epoch) || m.CreatedAt.Location() != time.UTC {
			t.Errorf("message %s: CreatedAt = %v, want the user's creation time %v in UTC", m.Message.ID, m.CreatedAt, epoch)
		}
		if _, err := uuid.Parse(m.Message.ID); err != nil {
			t.Errorf("message id %q is not a UUID", m.Message.ID)
		}
	}
	if len(got) == 2 && got[0].Message.ID == got[1].Message.ID {
		t.Errorf("two messages share the id %s", got[0].Message.ID)
	}
	assertNothingDue(t, s, epoch.Add(lease-time.Microsecond), "within the lease")
}

func testOutboxFailedCreate(t *testing.T, s OutboxStore) {
	mustCreate(t, s, newUser(t, "taken@example.com", "first", domain.RoleAnonymous, epoch))
	dupEmail := newUser(t, "taken@example.com", "second", domain.RoleAnonymous, epoch)
	m := domain.Message{Kind: domain.MessageVerifyEmail, To: "taken@example.com", Name: "second", Link: "https://example.com/v"}
	dupEmail.Queue(m)
	if err := s.CreateUser(t.Context(), dupEmail); !errors.Is(err, domain.ErrEmailTaken) {
		t.Fatalf("CreateUser with a taken email: error = %v, want ErrEmailTaken", err)
	}
	dupNick := newUser(t, "other@example.com", "FIRST", domain.RoleAnonymous, epoch)
	dupNick.Queue(m)
	if err := s.CreateUser(t.Context(), dupNick); !errors.Is(err, domain.ErrNicknameTaken) {
		t.Fatalf("CreateUser with a taken nickname: error = %v, want ErrNicknameTaken", err)
	}
	assertNothingDue(t, s, epoch.Add(time.Hour), "after failed creates")
}

func testOutboxRolledBackUpdate(t *testing.T, s OutboxStore) {
	ctx := t.Context()
	u := newUser(t, "rolled@example.com", "rolled", domain.RoleAdmin, epoch)
	mustCreate(t, s, u)
	mustCreate(t, s, newUser(t, "taken@example.com", "taken", domain.RoleAnonymous, epoch))
	later := epoch.Add(time.Minute)
	errBoom := errors.New("boom")
	m := domain.Message{Kind: domain.MessageProfessional, To: u.Email(), Name: "rolled"}

	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.UpgradeToProfessional(later)
		cur.Queue(m)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUser error = %v, want the closure's error", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.UpgradeToProfessional(later)
		cur.Queue(m)
		return errBoom
	}); !errors.Is(err, errBoom) {
		t.Errorf("UpdateUserCountingAdmins error = %v, want the closure's error", err)
	}
	// The closure succeeds but the save fails on a unique index.
	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.Queue(m)
		return cur.ChangeEmail("taken@example.com", later)
	}); !errors.Is(err, domain.ErrEmailTaken) {
		t.Errorf("UpdateUser to a taken email: error = %v, want ErrEmailTaken", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.Queue(m)
		return cur.ChangeNickname("TAKEN", later)
	}); !errors.Is(err, domain.ErrNicknameTaken) {
		t.Errorf("UpdateUserCountingAdmins to a taken nickname: error = %v, want ErrNicknameTaken", err)
	}
	assertUser(t, s, u.State())
	assertNothingDue(t, s, later.Add(time.Hour), "after rolled-back updates")
}

func testOutboxCommittedUpdate(t *testing.T, s OutboxStore) {
	ctx := t.Context()
	u := newUser(t, "committed@example.com", "committed", domain.RoleAnonymous, epoch)
	mustCreate(t, s, u)
	later, latest := epoch.Add(time.Minute), epoch.Add(2*time.Minute)
	first := domain.Message{Kind: domain.MessageProfessional, To: u.Email(), Name: "first"}
	second := domain.Message{Kind: domain.MessageLocked, To: u.Email(), Name: "second", Link: "https://example.com/unlock"}

	if err := s.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.UpgradeToProfessional(later)
		cur.Queue(first)
		return nil
	}); err != nil {
		t.Fatalf("UpdateUser: %v", err)
	}
	if err := s.UpdateUserCountingAdmins(ctx, u.ID(), func(cur *domain.User, _ int) error {
		cur.SetRole(domain.RoleManager, latest)
		cur.Queue(second)
		return nil
	}); err != nil {
		t.Fatalf("UpdateUserCountingAdmins: %v", err)
	}
	assertNothingDue(t, s, later.Add(-time.Microsecond), "before the first change")
	got := mustClaim(t, s, latest, 10, lease)
	assertMessages(t, got, first, second)
	if len(got) == 2 && (!got[0].CreatedAt.Equal(later) || !got[1].CreatedAt.Equal(latest)) {
		t.Errorf("CreatedAt = %v, %v; want the changes' times %v, %v", got[0].CreatedAt, got[1].CreatedAt, later, latest)
	}
}

func testOutboxDelete(t *testing.T, s OutboxStore) {
	u := newUser(t, "deleted@example.com", "deleted", domain.RoleManager, epoch)
	mustCreate(t, s, u)
	if err := s.DeleteUser(t.Context(), u.ID(), func(cur *domain.User, _ int) error {
		cur.Queue(domain.Message{Kind: domain.MessageLocked, To: cur.Email(), Name: "deleted"})
		return nil
	}); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	assertNothingDue(t, s, epoch.Add(time.Hour), "after DeleteUser")
}

func testOutboxClaimOrder(t *testing.T, s OutboxStore) {
	// One message per user, created a minute apart, inserted newest first so
	// insertion order cannot pass for time order.
	const n = 5
	want := make([]domain.Message, n)
	for i := n - 1; i >= 0; i-- {
		u := newUser(t, fmt.Sprintf("order%d@example.com", i), fmt.Sprintf("order%d", i), domain.RoleAnonymous, epoch.Add(time.Duration(i)*time.Minute))
		want[i] = domain.Message{Kind: domain.MessageVerifyEmail, To: u.Email(), Name: fmt.Sprint(i), Link: fmt.Sprintf("https://example.com/%d", i)}
		u.Queue(want[i])
		mustCreate(t, s, u)
	}

	assertNothingDue(t, s, epoch.Add(-time.Microsecond), "before the first message")
	// Due: messages 0, 1 and 2 (due exactly now counts); the limit is larger.
	now := epoch.Add(2 * time.Minute)
	assertMessages(t, mustClaim(t, s, now, 10, lease), want[0], want[1], want[2])
	// Later, 3 and 4 are due; the limit takes them one at a time, oldest first.
	now = epoch.Add(10 * time.Minute)
	assertMessages(t, mustClaim(t, s, now, 1, lease), want[3])
	assertMessages(t, mustClaim(t, s, now, 1, lease), want[4])
	assertNothingDue(t, s, now, "with every message leased")
	if got := mustClaim(t, s, now.Add(2*lease), 0, lease); len(got) != 0 {
		t.Errorf("ClaimMessages with limit 0 returned %d messages", len(got))
	}
	// When every lease has ended, a large limit takes all five, oldest first.
	assertMessages(t, mustClaim(t, s, now.Add(2*lease), 100, lease), want...)
}

func testOutboxLease(t *testing.T, s OutboxStore) {
	m := queueOne(t, s, epoch)
	const short = time.Minute
	first := mustClaim(t, s, epoch, 10, short)
	assertMessages(t, first, m)
	assertNothingDue(t, s, epoch.Add(short-time.Microsecond), "within the lease")

	again := mustClaim(t, s, epoch.Add(short), 10, short)
	assertMessages(t, again, m)
	if len(first) == 1 && len(again) == 1 {
		if again[0].Message.ID != first[0].Message.ID {
			t.Errorf("reclaimed id = %s, want %s", again[0].Message.ID, first[0].Message.ID)
		}
		if again[0].Attempts != 2 {
			t.Errorf("reclaimed Attempts = %d, want 2", again[0].Attempts)
		}
	}
	assertNothingDue(t, s, epoch.Add(2*short-time.Microsecond), "within the second lease")
}

func testOutboxMarkSent(t *testing.T, s OutboxStore) {
	ctx := t.Context()
	id := claimOneID(t, s, queueOne(t, s, epoch), epoch)
	if err := s.MarkSent(ctx, id, epoch.Add(time.Second)); err != nil {
		t.Fatalf("MarkSent: %v", err)
	}
	never := epoch.Add(100 * 365 * 24 * time.Hour)
	assertNothingDue(t, s, never, "after MarkSent")
	// A dispatcher whose lease ran out reports late: the message stays sent.
	_ = s.MarkRetry(ctx, id, epoch, "late retry")
	_ = s.MarkFailed(ctx, id, epoch, "late failure")
	if err := s.MarkSent(ctx, id, epoch.Add(2*time.Second)); err != nil {
		t.Errorf("MarkSent of a sent message: %v", err)
	}
	assertNothingDue(t, s, never, "after late marks of a sent message")
}

func testOutboxMarkRetry(t *testing.T, s OutboxStore) {
	ctx := t.Context()
	m := queueOne(t, s, epoch)
	id := claimOneID(t, s, m, epoch)
	next := epoch.Add(10 * time.Minute)
	if err := s.MarkRetry(ctx, id, next, "smtp: 451 try again later"); err != nil {
		t.Fatalf("MarkRetry: %v", err)
	}
	assertNothingDue(t, s, next.Add(-time.Microsecond), "before the retry time")
	got := mustClaim(t, s, next, 10, lease)
	assertMessages(t, got, m)
	if len(got) == 1 && got[0].Attempts != 2 {
		t.Errorf("Attempts after a retry = %d, want 2", got[0].Attempts)
	}

	// A retry may also come sooner than the lease would end, and any error
	// text is accepted: long, not UTF-8, with NUL (stores may clean it up).
	soon := next.Add(time.Second)
	if err := s.MarkRetry(ctx, id, soon, strings.Repeat("é", 3000)+"\xff\x00"); err != nil {
		t.Fatalf("MarkRetry with a long error: %v", err)
	}
	assertMessages(t, mustClaim(t, s, soon, 10, lease), m)
}

func testOutboxMarkFailed(t *testing.T, s OutboxStore) {
	ctx := t.Context()
	id := claimOneID(t, s, queueOne(t, s, epoch), epoch)
	if err := s.MarkFailed(ctx, id, epoch.Add(time.Second), "smtp: 550 no such user"); err != nil {
		t.Fatalf("MarkFailed: %v", err)
	}
	never := epoch.Add(100 * 365 * 24 * time.Hour)
	assertNothingDue(t, s, never, "after MarkFailed")
	_ = s.MarkRetry(ctx, id, epoch, "late retry")
	assertNothingDue(t, s, never, "after a late MarkRetry of a failed message")
}

func testOutboxUnknownID(t *testing.T, s OutboxStore) {
	ctx := t.Context()
	queueOne(t, s, epoch) // a store with a message, just not these
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		check := func(method string, err error) {
			t.Helper()
			if !errors.Is(err, domain.ErrNotFound) || errors.Is(err, domain.ErrUserNotFound) {
				t.Errorf("%s(%q) error = %v, want one wrapping ErrNotFound (not ErrUserNotFound)", method, id, err)
			}
		}
		check("MarkSent", s.MarkSent(ctx, id, epoch))
		check("MarkRetry", s.MarkRetry(ctx, id, epoch, "x"))
		check("MarkFailed", s.MarkFailed(ctx, id, epoch, "x"))
	}
}

func testOutboxConcurrentClaimers(t *testing.T, s OutboxStore) {
	const (
		users, perUser = 10, 10
		claimers       = 20
	)
	for i := range users {
		u := newUser(t, uniqueNickname("c")+"@example.com", uniqueNickname("c"), domain.RoleAnonymous, epoch.Add(time.Duration(i)*time.Second))
		for j := range perUser {
			u.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: u.Email(), Name: fmt.Sprintf("%d-%d", i, j)})
		}
		mustCreate(t, s, u)
	}
	now := epoch.Add(time.Minute)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	claimed := make([][]ports.OutboxMessage, claimers)
	errs := runConcurrently(claimers, func(i int) error {
		for {
			got, err := s.ClaimMessages(ctx, now, 3, lease)
			if err != nil {
				return err
			}
			if len(got) == 0 {
				return nil
			}
			if len(got) > 3 {
				return fmt.Errorf("claimed %d messages with limit 3", len(got))
			}
			claimed[i] = append(claimed[i], got...)
		}
	})
	for _, err := range errs {
		if err != nil {
			t.Fatalf("ClaimMessages: %v", err)
		}
	}
	seen := make(map[string]int)
	names := make(map[string]bool)
	for _, batch := range claimed {
		for _, m := range batch {
			seen[m.Message.ID]++
			names[m.Message.Name] = true
			if m.Attempts != 1 {
				t.Errorf("message %s: Attempts = %d, want 1", m.Message.ID, m.Attempts)
			}
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("message %s claimed %d times, want once", id, n)
		}
	}
	if len(seen) != users*perUser || len(names) != users*perUser {
		t.Errorf("%d distinct messages (%d distinct names) claimed, want %d", len(seen), len(names), users*perUser)
	}
	assertNothingDue(t, s, now, "after the claimers finished")
}

func testOutboxCancelledContext(t *testing.T, s OutboxStore) {
	m := queueOne(t, s, epoch)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	check := func(method string, err error) {
		t.Helper()
		if err == nil {
			t.Errorf("%s with a cancelled context succeeded", method)
		} else if errors.Is(err, domain.ErrNotFound) {
			t.Errorf("%s with a cancelled context: error = %v, must not be a not-found error", method, err)
		}
	}
	_, err := s.ClaimMessages(ctx, epoch, 10, lease)
	check("ClaimMessages", err)
	other := newUser(t, "cancelled@example.com", "cancelled", domain.RoleAnonymous, epoch)
	other.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: other.Email(), Name: "cancelled"})
	check("CreateUser", s.CreateUser(ctx, other))

	// Nothing was claimed: the message comes now, on its first attempt.
	got := mustClaim(t, s, epoch, 10, lease)
	assertMessages(t, got, m)
	if len(got) != 1 {
		return
	}
	if got[0].Attempts != 1 {
		t.Errorf("Attempts = %d after a cancelled claim, want 1", got[0].Attempts)
	}
	id := got[0].Message.ID
	check("MarkSent", s.MarkSent(ctx, id, epoch))
	check("MarkRetry", s.MarkRetry(ctx, id, epoch, "x"))
	check("MarkFailed", s.MarkFailed(ctx, id, epoch, "x"))
	// None of them took effect: the message is still leased, then due.
	assertNothingDue(t, s, epoch, "after cancelled marks")
	assertMessages(t, mustClaim(t, s, epoch.Add(lease), 10, lease), m)
}

// queueOne creates a user at 'at' with one message queued and returns it.
func queueOne(tb testing.TB, s OutboxStore, at time.Time) domain.Message {
	tb.Helper()
	u := newUser(tb, uniqueNickname("one")+"@example.com", uniqueNickname("one"), domain.RoleAnonymous, at)
	m := domain.Message{Kind: domain.MessageVerifyEmail, To: u.Email(), Name: u.Nickname(), Link: "https://example.com/verify?token=abc"}
	u.Queue(m)
	mustCreate(tb, s, u)
	return m
}

// claimOneID claims at now and requires exactly m; it returns its id.
func claimOneID(tb testing.TB, s OutboxStore, m domain.Message, now time.Time) string {
	tb.Helper()
	got := mustClaim(tb, s, now, 10, lease)
	assertMessages(tb, got, m)
	if len(got) != 1 {
		tb.FailNow()
	}
	return got[0].Message.ID
}

func mustClaim(tb testing.TB, s OutboxStore, now time.Time, limit int, lease time.Duration) []ports.OutboxMessage {
	tb.Helper()
	got, err := s.ClaimMessages(context.Background(), now, limit, lease)
	if err != nil {
		tb.Fatalf("ClaimMessages(%v, %d, %v): %v", now, limit, lease, err)
	}
	return got
}

func assertNothingDue(tb testing.TB, s OutboxStore, now time.Time, when string) {
	tb.Helper()
	if got := mustClaim(tb, s, now, 100, lease); len(got) != 0 {
		tb.Errorf("%s: claimed %d messages at %v, want none: %+v", when, len(got), now, got)
	}
}

// assertMessages compares claimed messages with want, in order, ignoring
// the ids the store assigned (which must be set).
func assertMessages(tb testing.TB, got []ports.OutboxMessage, want ...domain.Message) {
	tb.Helper()
	msgs := make([]domain.Message, 0, len(got))
	for _, m := range got {
		if m.Message.ID == "" {
			tb.Errorf("claimed message %+v has no id", m.Message)
		}
		msgs = append(msgs, m.Message)
	}
	if diff := gocmp.Diff(want, msgs, cmpopts.IgnoreFields(domain.Message{}, "ID"), cmpopts.EquateEmpty()); diff != "" {
		tb.Errorf("claimed messages (-want +got):\n%s", diff)
	}
}
