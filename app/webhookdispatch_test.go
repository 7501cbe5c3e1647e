package app_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/adapters/webhook"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
	"github.com/usersvc/usersvc/ports"
)

// hookRig is a store with one endpoint on a loopback receiver, and a
// dispatcher delivering to it through the real sender.
type hookRig struct {
	store   *memory.UserStore
	clock   *testsupport.Clock
	recv    *testsupport.WebhookReceiver
	hook    app.CreatedWebhook
	box     ports.SecretBox
	disp    *app.WebhookDispatcher
	logs    *testsupport.Buffer
	mu      sync.Mutex
	outcome []app.DeliveryOutcome
}

func newHookRig(tb testing.TB, answer func(n int, w testsupport.ReceivedWebhook) int, cfg app.WebhookDispatcherConfig, events ...string) *hookRig {
	tb.Helper()
	r := &hookRig{store: memory.NewUserStore(), clock: newClock(), logs: &testsupport.Buffer{}}
	r.recv = testsupport.NewWebhookReceiver(tb, answer)
	box := testBox(tb)
	r.box = box
	w := newWebhooks(tb, r.store, box, true)
	if len(events) == 0 {
		events = []string{"*"}
	}
	var err error
	r.hook, err = w.CreateWebhook(context.Background(), adminActor, app.NewWebhookInput{URL: r.recv.URL() + "/hook", Events: events})
	if err != nil {
		tb.Fatal(err)
	}
	cfg.Observe = func(o app.DeliveryOutcome) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.outcome = append(r.outcome, o)
	}
	r.disp, err = app.NewWebhookDispatcher(r.store, webhook.New(webhook.Options{AllowPrivate: true, Timeout: 2 * time.Second}),
		box, r.clock, cfg, slog.New(slog.NewTextHandler(r.logs, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// change creates a user recording one audit event of type typ, now.
func (r *hookRig) change(tb testing.TB, typ domain.AuditEventType) *domain.User {
	tb.Helper()
	id := uuid.NewString()
	u, err := domain.NewUser(domain.NewUserParams{
		ID: id, Email: "u" + id[:8] + "@example.com", Nickname: "n" + id[:8], PasswordHash: "x",
		Role: domain.RoleAuthenticated, Now: r.clock.Now(),
	})
	if err != nil {
		tb.Fatal(err)
	}
	u.Record(domain.AuditEvent{Type: typ, TargetID: u.ID()})
	if err := r.store.CreateUser(context.Background(), u); err != nil {
		tb.Fatal(err)
	}
	return u
}

func (r *hookRig) deliverDue(tb testing.TB) int {
	tb.Helper()
	n, err := r.disp.DeliverDue(context.Background())
	if err != nil {
		tb.Fatalf("DeliverDue: %v", err)
	}
	return n
}

func (r *hookRig) outcomes() []app.DeliveryOutcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]app.DeliveryOutcome(nil), r.outcome...)
}

func (r *hookRig) log(tb testing.TB) []ports.WebhookDelivery {
	tb.Helper()
	d, err := r.store.ListDeliveries(context.Background(), r.hook.Webhook.ID, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// TestWebhookRetriedWithTheSameID: a receiver answering 500 twice gets the
// same webhook-id a third time, every attempt signed anew; the third is
// delivered and the log says so.
func TestWebhookRetriedWithTheSameID(t *testing.T) {
	t.Parallel()
	r := newHookRig(t, func(n int, _ testsupport.ReceivedWebhook) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	}, app.WebhookDispatcherConfig{RetryMin: 5 * time.Second, RetryMax: time.Hour})
	u := r.change(t, domain.EventUserRegistered)

	if n := r.deliverDue(t); n != 1 {
		t.Fatalf("claimed %d, want 1", n)
	}
	// Not before the backoff: at least RetryMin after the failure.
	r.clock.Advance(5*time.Second - time.Microsecond)
	if n := r.deliverDue(t); n != 0 {
		t.Fatalf("claimed %d before RetryMin passed", n)
	}
	for range 2 {
		r.clock.Advance(time.Hour)
		if n := r.deliverDue(t); n != 1 {
			t.Fatalf("claimed %d, want the retry", n)
		}
	}
	r.clock.Advance(time.Hour)
	if n := r.deliverDue(t); n != 0 {
		t.Fatalf("claimed %d after the delivery", n)
	}
	got := r.recv.Received()
	if len(got) != 3 {
		t.Fatalf("the receiver got %d requests, want 3", len(got))
	}
	for i, w := range got {
		if w.ID() != got[0].ID() || w.ID() == "" {
			t.Errorf("attempt %d carried webhook-id %q, want %q as the first", i+1, w.ID(), got[0].ID())
		}
		if string(w.Body) != string(got[0].Body) {
			t.Errorf("attempt %d carried another body", i+1)
		}
		// The attempt's time is the dispatcher's clock, so the check runs at it.
		ts, _ := strconv.ParseInt(w.Header.Get("webhook-timestamp"), 10, 64)
		if err := testsupport.VerifyStandardWebhook(r.hook.Secret, w.Header, w.Body, time.Unix(ts, 0), time.Second); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
		if p := w.Payload(t); p.Type != "user.created" || p.Data.User["id"] != u.ID() {
			t.Errorf("attempt %d: payload %+v", i+1, p)
		}
	}
	if got[0].Header.Get("webhook-timestamp") == got[2].Header.Get("webhook-timestamp") {
		t.Error("the retries carry the first attempt's timestamp, want their own")
	}
	log := r.log(t)
	if len(log) != 1 || log[0].Status != ports.DeliveryDelivered || log[0].Attempts != 3 || log[0].LastStatusCode != 200 ||
		log[0].EventID != got[0].ID() || log[0].DeliveredAt.IsZero() {
		t.Errorf("deliveries log %+v, want one delivered on attempt 3 with 200, event %s", log, got[0].ID())
	}
	if o := r.outcomes(); len(o) != 3 || o[0] != app.DeliveryRetried || o[1] != app.DeliveryRetried || o[2] != app.DeliverySent {
		t.Errorf("outcomes %v, want retried, retried, sent", o)
	}
}

func TestWebhookGivenUpAfterMaxAttempts(t *testing.T) {
	t.Parallel()
	r := newHookRig(t, func(int, testsupport.ReceivedWebhook) int { return http.StatusServiceUnavailable },
		app.WebhookDispatcherConfig{MaxAttempts: 3, RetryMin: time.Second, RetryMax: 4 * time.Second})
	r.change(t, domain.EventUserRegistered)
	for range 10 {
		r.deliverDue(t)
		r.clock.Advance(time.Hour)
	}
	if n := len(r.recv.Received()); n != 3 {
		t.Errorf("the receiver got %d attempts, want MaxAttempts = 3", n)
	}
	log := r.log(t)
	if len(log) != 1 || log[0].Status != ports.DeliveryFailed || log[0].Attempts != 3 || log[0].LastStatusCode != 503 {
		t.Errorf("deliveries log %+v, want one failed after 3 attempts with 503", log)
	}
	if o := r.outcomes(); len(o) != 3 || o[2] != app.DeliveryFailed {
		t.Errorf("outcomes %v, want the last one failed", o)
	}
	if !bytes.Contains([]byte(r.logText()), []byte("webhook given up")) {
		t.Errorf("giving up is not in the log:\n%s", r.logText())
	}
}

func (r *hookRig) logText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logs.String()
}

// TestWebhookOnlySubscribedEvents: an endpoint gets the events it chose.
func TestWebhookOnlySubscribedEvents(t *testing.T) {
	t.Parallel()
	r := newHookRig(t, nil, app.WebhookDispatcherConfig{}, "user.deleted", "user.mfa_enabled")
	r.change(t, domain.EventUserRegistered)
	r.change(t, domain.EventMFAEnabled)
	r.deliverDue(t)
	got := r.recv.Received()
	if len(got) != 1 || got[0].Payload(t).Type != "user.mfa_enabled" {
		t.Errorf("the receiver got %d requests, want the one user.mfa_enabled", len(got))
	}
}

// TestWebhookEveryEventType: each of the twelve event types arrives with
// a signature an independent verifier accepts.
func TestWebhookEveryEventType(t *testing.T) {
	t.Parallel()
	r := newHookRig(t, nil, app.WebhookDispatcherConfig{})
	causes := map[domain.WebhookEventType]domain.AuditEventType{
		domain.WebhookUserCreated: domain.EventUserCreated, domain.WebhookUserVerified: domain.EventEmailVerified,
		domain.WebhookUserUpdated: domain.EventUserUpdated, domain.WebhookUserDeleted: domain.EventUserDeleted,
		domain.WebhookUserLocked: domain.EventAccountLocked, domain.WebhookUserUnlocked: domain.EventAccountUnlocked,
		domain.WebhookUserRoleChanged: domain.EventRoleChanged, domain.WebhookUserProfessional: domain.EventProfessionalSet,
		domain.WebhookUserPasswordChanged: domain.EventPasswordChanged, domain.WebhookUserEmailChanged: domain.EventEmailChanged,
		domain.WebhookUserMFAEnabled: domain.EventMFAEnabled, domain.WebhookUserMFADisabled: domain.EventMFADisabled,
	}
	for _, typ := range domain.WebhookEventTypes() {
		r.change(t, causes[typ])
	}
	for r.deliverDue(t) > 0 {
	}
	seen := map[string]bool{}
	for _, w := range r.recv.Received() {
		ts, _ := strconv.ParseInt(w.Header.Get("webhook-timestamp"), 10, 64)
		if err := testsupport.VerifyStandardWebhook(r.hook.Secret, w.Header, w.Body, time.Unix(ts, 0), time.Second); err != nil {
			t.Errorf("%s: %v", w.Payload(t).Type, err)
		}
		seen[w.Payload(t).Type] = true
	}
	for _, typ := range domain.WebhookEventTypes() {
		if !seen[string(typ)] {
			t.Errorf("no %s arrived", typ)
		}
	}
}

// TestWebhookSecretUnreadable: a secret sealed under another key cannot
// sign; the attempt fails and is retried, and nothing unsigned is sent.
func TestWebhookSecretUnreadable(t *testing.T) {
	t.Parallel()
	store := memory.NewUserStore()
	recv := testsupport.NewWebhookReceiver(t, nil)
	w := newWebhooks(t, store, testBox(t), true)
	if _, err := w.CreateWebhook(context.Background(), adminActor, app.NewWebhookInput{URL: recv.URL(), Events: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	clk := newClock()
	var outcomes []app.DeliveryOutcome
	d, err := app.NewWebhookDispatcher(store, webhook.New(webhook.Options{AllowPrivate: true}), testBox(t), clk,
		app.WebhookDispatcherConfig{Observe: func(o app.DeliveryOutcome) { outcomes = append(outcomes, o) }}, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	rig := &hookRig{store: store, clock: clk}
	rig.change(t, domain.EventUserRegistered)
	if _, err := d.DeliverDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(recv.Received()); n != 0 || len(outcomes) != 1 || outcomes[0] != app.DeliveryRetried {
		t.Errorf("received %d, outcomes %v; want nothing sent and a retry", n, outcomes)
	}
}

// TestWebhookDispatcherFinishesTheAttemptOnShutdown: Run returns only once
// the attempt in progress is made and recorded.
func TestWebhookDispatcherFinishesTheAttemptOnShutdown(t *testing.T) {
	t.Parallel()
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	r := newHookRig(t, func(int, testsupport.ReceivedWebhook) int {
		once.Do(func() { close(arrived) })
		<-release
		return http.StatusOK
	}, app.WebhookDispatcherConfig{PollInterval: 10 * time.Millisecond})
	r.change(t, domain.EventUserRegistered)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.disp.Run(ctx)
	}()
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt started")
	}
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while an attempt was in progress")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the attempt")
	}
	if log := r.log(t); len(log) != 1 || log[0].Status != ports.DeliveryDelivered {
		t.Errorf("deliveries log %+v, want the attempt recorded as delivered", log)
	}
}

// TestWebhookDispatchersShareTheWork: dispatchers running together on one
// store make each attempt once.
func TestWebhookDispatchersShareTheWork(t *testing.T) {
	t.Parallel()
	r := newHookRig(t, nil, app.WebhookDispatcherConfig{BatchSize: 2})
	const n = 30
	for range n {
		r.change(t, domain.EventUserUpdated)
	}
	others := make([]*app.WebhookDispatcher, 4)
	for i := range others {
		var err error
		others[i], err = app.NewWebhookDispatcher(r.store, webhook.New(webhook.Options{AllowPrivate: true}), r.box, r.clock,
			app.WebhookDispatcherConfig{BatchSize: 2}, discardLog())
		if err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for _, d := range append(others, r.disp) {
		wg.Go(func() {
			for {
				k, err := d.DeliverDue(context.Background())
				if err != nil || k == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	got := r.recv.Received()
	ids := map[string]int{}
	for _, w := range got {
		ids[w.ID()]++
	}
	if len(got) != n || len(ids) != n {
		t.Errorf("the receiver got %d requests with %d ids, want %d once each", len(got), len(ids), n)
	}
}
