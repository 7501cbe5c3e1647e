package app_test

// Races found by review, each pinned down with hooks that hold one request
// at the worst moment.

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Two right-password logins arriving together on an account whose hash has
// old parameters: the spec says both succeed.
func TestRightPasswordLoginsTogetherSurviveAHashUpgrade(t *testing.T) {
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	e.setHash(t, u.ID(), staleHash(goodPass))
	verify := e.hasher.VerifyFunc
	var entered sync.WaitGroup
	entered.Add(2)
	gates := []chan struct{}{make(chan struct{}), make(chan struct{})}
	var n atomic.Int32
	e.hasher.VerifyFunc = func(ctx context.Context, p, h string) (bool, bool, error) {
		if i := n.Add(1); i <= 2 {
			entered.Done()
			<-gates[i-1] // both checks in flight at once
		}
		return verify(ctx, p, h)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := e.login("alice@example.com", goodPass); errs <- err }()
	}
	entered.Wait()
	close(gates[0]) // the first finishes (and upgrades the hash) ...
	if err := <-errs; err != nil {
		t.Errorf("first right-password login refused: %v", err)
	}
	close(gates[1]) // ... before the second is decided
	if err := <-errs; err != nil {
		t.Errorf("second right-password login, arriving with the first, refused: %v", err)
	}
}

// The owner and a holder of the old password (with a session of their own)
// change the password at the same time. The owner's change succeeds; the
// loser's stale request fails and must not end the owner's session.
func TestStalePasswordChangeCannotEndTheOwnersSession(t *testing.T) {
	e := newEnv(t)
	e.verified(t, "alice@example.com")
	owner := e.actorOf(t, e.session(t, "alice@example.com", goodPass).AccessToken)
	other := e.actorOf(t, e.session(t, "alice@example.com", goodPass).AccessToken)
	const otherNew = "third-Pass-word-5"
	hashing := make(chan struct{})
	release := make(chan struct{})
	hash := e.hasher.HashFunc
	e.hasher.HashFunc = func(ctx context.Context, p string) (string, error) {
		if p == otherNew {
			close(hashing)
			<-release
		}
		return hash(ctx, p)
	}
	done := make(chan error, 1)
	go func() { done <- e.svc.ChangePassword(context.Background(), other, goodPass, otherNew) }()
	<-hashing // other's current password was checked against the old hash
	if err := e.svc.ChangePassword(context.Background(), owner, goodPass, newPass); err != nil {
		t.Fatalf("owner's change: %v", err)
	}
	if !e.sessionAlive(t, owner.SessionID) {
		t.Fatal("owner's session ended by its own change")
	}
	close(release)
	if err := <-done; !errors.Is(err, domain.ErrWrongPassword) {
		t.Errorf("the stale change = %v, want ErrWrongPassword (its proof is of the old password)", err)
	}
	if !e.sessionAlive(t, owner.SessionID) {
		t.Error("the owner's session was ended by a password change that failed (stale proof)")
	}
}

// gatedStore pauses DeleteUser until released.
type gatedStore struct {
	ports.UserStore
	entered, release chan struct{}
}

func (g *gatedStore) DeleteUser(ctx context.Context, id string, fn func(*domain.User, int) error) error {
	close(g.entered)
	<-g.release
	return g.UserStore.DeleteUser(ctx, id, fn)
}

// A holder of the old password and a session asks to delete the account;
// the owner resets the password (ending every session) while the request
// is past its password check. The deletion must fail.
func TestAccountDeletionWithAStaleProofFails(t *testing.T) {
	g := &gatedStore{entered: make(chan struct{}), release: make(chan struct{})}
	e := newEnv(t, func(d *deps) { g.UserStore = d.store; d.store = g })
	u := e.verified(t, "alice@example.com")
	thief := e.actorOf(t, e.session(t, "alice@example.com", goodPass).AccessToken)
	if err := e.svc.RequestPasswordReset(context.Background(), "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	token := e.resetToken(t, "alice@example.com")
	done := make(chan error, 1)
	go func() { done <- e.svc.DeleteMe(context.Background(), thief, goodPass) }()
	<-g.entered
	if err := e.svc.ConfirmPasswordReset(context.Background(), token, newPass); err != nil {
		t.Fatal(err)
	}
	close(g.release)
	if err := <-done; err == nil {
		if _, err := e.mem.UserByID(context.Background(), u.ID()); err != nil {
			t.Error("the account was deleted by a request whose password proof and session were ended by a reset")
		}
	}
}
