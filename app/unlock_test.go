package app_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// unlockSecret is the token of the last unlock link mailed to address.
func (e *env) unlockSecret(tb testing.TB, address string) string {
	tb.Helper()
	msgs := e.sentTo(address, domain.MessageLocked)
	if len(msgs) == 0 {
		tb.Fatalf("no lock email sent to %s", address)
	}
	u, err := url.Parse(msgs[len(msgs)-1].Link)
	if err != nil || u.Path != "/unlock" || u.Query().Get("token") == "" {
		tb.Fatalf("lock email link %q is not …/unlock?token=…", msgs[len(msgs)-1].Link)
	}
	return u.Query().Get("token")
}

func TestUnlockWithToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	open := e.session(t, "alice@example.com", goodPass)
	lockAccount(t, e, u.Email())
	secret := e.unlockSecret(t, u.Email())

	for _, bad := range []string{"", "not-the-secret", secret + "x", string(make([]byte, 513))} {
		wantErr(t, e.svc.UnlockWithToken(context.Background(), bad), domain.ErrInvalidUnlockToken)
	}
	if err := e.svc.UnlockWithToken(context.Background(), secret); err != nil {
		t.Fatalf("UnlockWithToken: %v", err)
	}
	st := e.user(t, u.ID()).State()
	if st.IsLocked || st.FailedLoginAttempts != 0 || st.UnlockTokenHash != "" || st.PasswordHash != fakeHash(goodPass) {
		t.Errorf("after the link: locked %v, count %d, token %q, password kept %v", st.IsLocked, st.FailedLoginAttempts, st.UnlockTokenHash, st.PasswordHash == fakeHash(goodPass))
	}
	if !e.sessionAlive(t, e.actorOf(t, open.AccessToken).SessionID) {
		t.Error("unlocking ended a session")
	}
	if _, err := e.login("alice@example.com", goodPass); err != nil {
		t.Errorf("Login after the unlock link: %v", err)
	}
	wantErr(t, e.svc.UnlockWithToken(context.Background(), secret), domain.ErrInvalidUnlockToken) // single use
	events := e.events(t, domain.EventAccountUnlocked)
	if len(events) != 1 || events[0].ActorID != u.ID() || events[0].TargetID != u.ID() {
		t.Errorf("unlock audit events %+v, want one by the owner", events)
	}
}

func TestUnlockTokenExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) { d.cfg.Lockout.Duration = 0 }) // manual unlock only
	u := e.verified(t, "alice@example.com")
	lockAccount(t, e, u.Email())
	secret := e.unlockSecret(t, u.Email())
	e.clock.Advance(24 * time.Hour)
	wantErr(t, e.svc.UnlockWithToken(context.Background(), secret), domain.ErrInvalidUnlockToken)
	if !e.user(t, u.ID()).IsLocked() {
		t.Error("an expired link unlocked the account")
	}
}

// A new lock issues a new link; the old one dies with it. A staff lock
// cannot be lifted with the owner's link.
func TestUnlockLinkOfAnEarlierLockIsDead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	lockAccount(t, e, u.Email())
	first := e.unlockSecret(t, u.Email())
	e.clock.Advance(lockFor)
	lockAccount(t, e, u.Email())
	second := e.unlockSecret(t, u.Email())
	if first == second {
		t.Fatal("the second lock reused the first link")
	}
	wantErr(t, e.svc.UnlockWithToken(context.Background(), first), domain.ErrInvalidUnlockToken)
	if _, err := e.svc.Lock(context.Background(), adminActor, u.ID()); err != nil {
		t.Fatal(err)
	}
	wantErr(t, e.svc.UnlockWithToken(context.Background(), second), domain.ErrInvalidUnlockToken)
	if st := e.user(t, u.ID()).State(); !st.IsLocked || st.LockReason != domain.LockByStaff {
		t.Errorf("locked %v by %q, want the staff lock kept", st.IsLocked, st.LockReason)
	}
}

func TestStaffLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	manager := e.withRole(t, "manager@example.com", domain.RoleManager)
	peer := e.withRole(t, "peer@example.com", domain.RoleManager)
	u := e.verified(t, "alice@example.com")
	open := e.session(t, "alice@example.com", goodPass)

	_, err := e.svc.Lock(context.Background(), nobodyActor, u.ID())
	wantErr(t, err, domain.ErrNotPermitted)
	_, err = e.svc.Lock(context.Background(), manager, peer.ID)
	wantErr(t, err, domain.ErrNotPermitted)
	_, err = e.svc.Lock(context.Background(), manager, admin.ID)
	wantErr(t, err, domain.ErrNotPermitted)
	_, err = e.svc.Lock(context.Background(), admin, admin.ID)
	wantErr(t, err, domain.ErrNotPermitted)
	_, err = e.svc.Lock(context.Background(), admin, "00000000-0000-4000-8000-00000000ffff")
	wantErr(t, err, domain.ErrUserNotFound)

	got, err := e.svc.Lock(context.Background(), manager, u.ID())
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if !got.IsLocked() || got.LockReason() != domain.LockByStaff {
		t.Errorf("locked %v by %q", got.IsLocked(), got.LockReason())
	}
	_, err = e.svc.Authenticate(context.Background(), open.AccessToken)
	wantErr(t, err, domain.ErrInvalidToken)
	_, err = e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrAccountLocked)
	e.clock.Advance(100 * lockFor)
	_, err = e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrAccountLocked) // a staff lock never lifts by itself
	events := e.events(t, domain.EventAccountLocked)
	if len(events) != 1 || events[0].ActorID != manager.ID || events[0].TargetID != u.ID() {
		t.Errorf("lock audit events %+v, want one by the manager", events)
	}
	if n := len(e.sentTo("alice@example.com", domain.MessageLocked)); n != 0 {
		t.Errorf("%d lock mails for a staff lock, want none (no unlock link to give)", n)
	}
}

// events reads the audit events of one type, newest first.
func (e *env) events(tb testing.TB, typ domain.AuditEventType) []domain.AuditEvent {
	tb.Helper()
	got, err := e.mem.ListEvents(context.Background(), ports.AuditFilter{Type: typ, Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	return got
}
