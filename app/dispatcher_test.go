package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports/portmock"
)

// queueOne commits a user with one queued message and returns the store.
func queueOne(tb testing.TB, to string) *memory.UserStore {
	tb.Helper()
	store := memory.NewUserStore()
	u, err := domain.NewUser(domain.NewUserParams{
		ID: "00000000-0000-4000-8000-000000000001", Email: to, Nickname: "someone",
		PasswordHash: "x", Role: domain.RoleAnonymous, Now: t0,
	})
	if err != nil {
		tb.Fatal(err)
	}
	u.Queue(domain.Message{Kind: domain.MessageVerifyEmail, To: to, Name: "someone", Link: "https://x/verify-email/1/2"})
	if err := store.CreateUser(context.Background(), u); err != nil {
		tb.Fatal(err)
	}
	return store
}

func TestDispatcherGivesUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	store := queueOne(t, "a@example.com")
	clk := newClock()
	mailer := &portmock.MailerMock{SendFunc: func(context.Context, domain.Message) error { return errBoom }}
	var logs bytes.Buffer
	d, err := app.NewDispatcher(store, mailer, clk, app.DispatcherConfig{
		MaxAttempts: 3, RetryMin: time.Second, RetryMax: 4 * time.Second,
	}, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := d.DeliverDue(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Hour)
	}
	if n := len(mailer.SendCalls()); n != 3 {
		t.Errorf("Send called %d times, want MaxAttempts = 3", n)
	}
	if !strings.Contains(logs.String(), "email given up") {
		t.Errorf("giving up is not visible in the log:\n%s", logs.String())
	}
}

func TestDispatcherBacksOffBetweenAttempts(t *testing.T) {
	t.Parallel()
	store := queueOne(t, "a@example.com")
	clk := newClock()
	mailer := &portmock.MailerMock{SendFunc: func(context.Context, domain.Message) error { return errBoom }}
	d, err := app.NewDispatcher(store, mailer, clk, app.DispatcherConfig{
		MaxAttempts: 10, RetryMin: 10 * time.Second, RetryMax: time.Minute,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	mustDeliver := func() {
		t.Helper()
		if _, err := d.DeliverDue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	mustDeliver()
	mustDeliver() // not due again yet
	if n := len(mailer.SendCalls()); n != 1 {
		t.Fatalf("Send called %d times before the backoff passed, want 1", n)
	}
	// The first retry waits between RetryMin/2 and RetryMin.
	clk.Advance(4 * time.Second)
	mustDeliver()
	if n := len(mailer.SendCalls()); n != 1 {
		t.Fatalf("retried after 4s, before RetryMin/2")
	}
	clk.Advance(6 * time.Second)
	mustDeliver()
	if n := len(mailer.SendCalls()); n != 2 {
		t.Fatalf("Send called %d times after RetryMin, want 2", n)
	}
}

func TestDispatcherSendsEachMessageOnceWithItsID(t *testing.T) {
	t.Parallel()
	store := queueOne(t, "a@example.com")
	mailer := &portmock.MailerMock{SendFunc: func(context.Context, domain.Message) error { return nil }}
	d, err := app.NewDispatcher(store, mailer, newClock(), app.DispatcherConfig{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() {
			if _, err := d.DeliverDue(context.Background()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	calls := mailer.SendCalls()
	if len(calls) != 1 {
		t.Fatalf("Send called %d times, want 1", len(calls))
	}
	if calls[0].M.ID == "" {
		t.Error("the message was sent without its outbox id (the Message-ID is built from it)")
	}
}

func TestDispatcherRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	store := queueOne(t, "a@example.com")
	sent := make(chan struct{}, 1)
	mailer := &portmock.MailerMock{SendFunc: func(context.Context, domain.Message) error {
		sent <- struct{}{}
		return nil
	}}
	d, err := app.NewDispatcher(store, mailer, newClock(), app.DispatcherConfig{PollInterval: time.Hour}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(done)
	}()
	<-sent // delivered on start, without waiting for a poll
	cancel()
	<-done
}

func TestNewDispatcherNeedsItsPorts(t *testing.T) {
	t.Parallel()
	if _, err := app.NewDispatcher(nil, &portmock.MailerMock{}, newClock(), app.DispatcherConfig{}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("NewDispatcher without an outbox succeeded")
	}
}
