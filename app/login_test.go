package app_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/portmock"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	e.clock.Advance(time.Hour)
	res, err := e.login(" Alice@Example.com ", goodPass)
	if err != nil {
		t.Fatalf("Login: %v", err)
	}
	if res.RefreshToken == "" {
		t.Error("Login returned no refresh token")
	}
	sid := strings.Split(res.AccessToken, "|")[4]
	if sess := e.sessionOf(t, sid); sess.UserID != u.ID() || !sess.CreatedAt.Equal(t0.Add(time.Hour)) {
		t.Errorf("the token's session %q: %+v", sid, sess)
	}
	wantToken := tokenFor(ports.AccessClaims{UserID: u.ID(), Role: domain.RoleAuthenticated, TokenVersion: u.TokenVersion(), SessionID: sid})
	if res.AccessToken != wantToken || res.ExpiresIn != tokenTTL || res.User == nil || res.User.ID() != u.ID() {
		t.Errorf("Login = %q, %v, %v; want %q, %v, user %s", res.AccessToken, res.ExpiresIn, res.User, wantToken, tokenTTL, u.ID())
	}
	if calls := e.issuer.IssueCalls(); len(calls) != 1 || !calls[0].Now.Equal(t0.Add(time.Hour)) {
		t.Errorf("Issue calls %+v; want one at the clock's time", calls)
	}
	st := e.user(t, u.ID()).State()
	if !st.LastLoginAt.Equal(t0.Add(time.Hour)) || st.FailedLoginAttempts != 0 || st.LoginsInFlight != 0 {
		t.Errorf("last login %v, count %d, in flight %d", st.LastLoginAt, st.FailedLoginAttempts, st.LoginsInFlight)
	}
	if !res.User.State().LastLoginAt.Equal(st.LastLoginAt) {
		t.Error("the returned user is not the saved one")
	}
}

func TestLoginInvalidCredentials(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, email, password string
		wantDummy             bool // the password is checked against the dummy hash
	}{
		{"wrong password", "alice@example.com", wrongPass, false},
		{"empty password", "alice@example.com", "", false},
		{"unknown email", "bob@example.com", goodPass, true},
		{"malformed email", "not an email", goodPass, true},
		{"empty email", "", goodPass, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			u := e.verified(t, "alice@example.com")
			_, err := e.login(tt.email, tt.password)
			wantErr(t, err, domain.ErrInvalidCredentials)
			calls := e.hasher.VerifyCalls()
			if len(calls) != 1 {
				t.Fatalf("Verify called %d times, want 1: every login costs one password check", len(calls))
			}
			if got := calls[0].Hash == dummyHash; got != tt.wantDummy {
				t.Errorf("checked against the dummy hash: %v, want %v", got, tt.wantDummy)
			}
			if len(e.issuer.IssueCalls()) != 0 {
				t.Error("a token was issued")
			}
			wantCount := 0
			if !tt.wantDummy {
				wantCount = 1
			}
			if n := e.user(t, u.ID()).State().FailedLoginAttempts; n != wantCount {
				t.Errorf("failed attempts = %d, want %d", n, wantCount)
			}
		})
	}
}

func TestLoginUnverified(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.register(t, "alice@example.com")
	_, err := e.login("alice@example.com", wrongPass)
	wantErr(t, err, domain.ErrInvalidCredentials)
	_, err = e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrEmailNotVerified)
	st := e.user(t, u.ID()).State()
	if st.FailedLoginAttempts != 0 || !st.LastLoginAt.IsZero() {
		t.Errorf("count %d, last login %v; the right password resets the count but is no login", st.FailedLoginAttempts, st.LastLoginAt)
	}
	if len(e.issuer.IssueCalls()) != 0 {
		t.Error("a token was issued to an unverified user")
	}
}

func TestLoginLockout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	for i := 1; i <= maxAttempts; i++ {
		_, err := e.login("alice@example.com", wrongPass)
		wantErr(t, err, domain.ErrInvalidCredentials) // the attempt that locks is still answered 401
		locked := e.user(t, u.ID()).IsLocked()
		if locked != (i == maxAttempts) {
			t.Fatalf("after %d failures locked = %v", i, locked)
		}
	}
	msgs := e.sentTo("alice@example.com", domain.MessageLocked)
	if len(msgs) != 1 || msgs[0].Name != u.Nickname() || !strings.HasPrefix(msgs[0].Link, baseURL+"/unlock?token=") {
		t.Fatalf("lock mails %+v, want exactly one with a link %s/unlock?token=…", msgs, baseURL)
	}
	secret := strings.TrimPrefix(msgs[0].Link, baseURL+"/unlock?token=")
	if st := e.user(t, u.ID()).State(); st.UnlockTokenHash != sha256Hex(secret) || !st.UnlockExpiresAt.Equal(e.clock.Now().Add(24*time.Hour)) {
		t.Errorf("stored unlock token %q expiring %v; want the link's hash, expiring in 24 h", st.UnlockTokenHash, st.UnlockExpiresAt)
	}

	checks := len(e.hasher.VerifyCalls())
	for _, pw := range []string{wrongPass, goodPass} {
		_, err := e.login("alice@example.com", pw)
		wantErr(t, err, domain.ErrAccountLocked)
	}
	if n := len(e.hasher.VerifyCalls()); n != checks {
		t.Errorf("a locked account had %d more passwords checked, want 0", n-checks)
	}
	if n := len(e.sentTo("alice@example.com", domain.MessageLocked)); n != 1 {
		t.Errorf("%d lock mails, want 1", n)
	}
	if len(e.issuer.IssueCalls()) != 0 {
		t.Error("a token was issued to a locked account")
	}
}

func TestLoginUnlocksAfterDuration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	lockAccount(t, e, "alice@example.com")

	e.clock.Advance(lockFor - time.Nanosecond)
	_, err := e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrAccountLocked)

	e.clock.Advance(time.Nanosecond)
	if _, err := e.login("alice@example.com", goodPass); err != nil {
		t.Fatalf("Login after the lockout duration: %v", err)
	}
	if st := e.user(t, u.ID()).State(); st.IsLocked || st.FailedLoginAttempts != 0 {
		t.Errorf("locked %v, count %d after automatic unlock", st.IsLocked, st.FailedLoginAttempts)
	}
}

// A lock by failures that has lasted LOCKOUT_DURATION has ended: staff see
// the user unlocked, and the is_locked filter agrees, before any login
// lifts it from the stored row (which only that login, a change, writes).
func TestLapsedLockShowsUnlocked(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin(t, "root@example.com")
	u := e.verified(t, "alice@example.com")
	lockAccount(t, e, "alice@example.com")
	updated := e.user(t, u.ID()).State().UpdatedAt
	locked, unlocked := true, false
	shown := func() (got bool, lockedList, unlockedList []string) {
		t.Helper()
		g, err := e.svc.GetUser(t.Context(), admin, u.ID())
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []struct {
			flag *bool
			out  *[]string
		}{{&locked, &lockedList}, {&unlocked, &unlockedList}} {
			page, err := e.svc.SearchUsers(t.Context(), admin, app.UserSearch{IsLocked: f.flag, Q: "alice", Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page.Users {
				*f.out = append(*f.out, x.ID())
				if x.IsLocked() != *f.flag {
					t.Errorf("is_locked=%v listed a user with IsLocked %v", *f.flag, x.IsLocked())
				}
			}
		}
		return g.IsLocked(), lockedList, unlockedList
	}

	e.clock.Advance(lockFor - time.Nanosecond)
	if got, l, ul := shown(); !got || len(l) != 1 || len(ul) != 0 {
		t.Errorf("just before the duration: shown locked %v, listed %d locked and %d unlocked; want true, 1, 0", got, len(l), len(ul))
	}
	e.clock.Advance(time.Nanosecond)
	g, err := e.svc.GetUser(t.Context(), admin, u.ID())
	if err != nil {
		t.Fatal(err)
	}
	if got, l, ul := shown(); got || len(l) != 0 || len(ul) != 1 {
		t.Errorf("at the duration: shown locked %v, listed %d locked and %d unlocked; want false, 0, 1", got, len(l), len(ul))
	}
	if !g.State().UpdatedAt.Equal(updated) {
		t.Errorf("updated_at shown %v, want %v: showing a lapsed lock writes nothing", g.State().UpdatedAt, updated)
	}
	if st := e.user(t, u.ID()).State(); !st.IsLocked {
		t.Error("reading the user wrote the unlock")
	}
	// A lock by staff never lapses.
	if _, err := e.svc.Lock(t.Context(), admin, u.ID()); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * lockFor)
	if got, _, _ := shown(); !got {
		t.Error("a lock by staff shown lifted after the duration")
	}
}

func TestLoginManualUnlockOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) { d.cfg.Lockout.Duration = 0 })
	admin := e.admin(t, "root@example.com")
	u := e.verified(t, "alice@example.com")
	lockAccount(t, e, "alice@example.com")

	e.clock.Advance(365 * 24 * time.Hour)
	_, err := e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrAccountLocked)

	if _, err := e.svc.Unlock(context.Background(), admin, u.ID()); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
	if _, err := e.login("alice@example.com", goodPass); err != nil {
		t.Fatalf("Login after Unlock: %v", err)
	}
}

func TestLoginSuccessResetsCount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	for range maxAttempts - 1 {
		_, err := e.login("alice@example.com", wrongPass)
		wantErr(t, err, domain.ErrInvalidCredentials)
	}
	if _, err := e.login("alice@example.com", goodPass); err != nil {
		t.Fatalf("Login: %v", err)
	}
	for range maxAttempts - 1 {
		_, err := e.login("alice@example.com", wrongPass)
		wantErr(t, err, domain.ErrInvalidCredentials)
	}
	if st := e.user(t, u.ID()).State(); st.IsLocked || st.FailedLoginAttempts != maxAttempts-1 {
		t.Errorf("locked %v, count %d; want unlocked, %d", st.IsLocked, st.FailedLoginAttempts, maxAttempts-1)
	}
}

func TestLoginHasherErrorNeitherCountsNorResets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	fake := e.hasher.VerifyFunc
	e.hasher.VerifyFunc = func(ctx context.Context, password, hash string) (bool, bool, error) {
		if password == "boom" {
			return false, false, errBoom
		}
		return fake(ctx, password, hash)
	}
	u := e.verified(t, "alice@example.com")
	for range maxAttempts - 1 {
		_, err := e.login("alice@example.com", wrongPass)
		wantErr(t, err, domain.ErrInvalidCredentials)
	}
	for range 2 * maxAttempts {
		_, err := e.login("alice@example.com", "boom")
		wantErr(t, err, errBoom)
		if errors.Is(err, domain.ErrInvalidCredentials) || errors.Is(err, domain.ErrAccountLocked) {
			t.Fatalf("a hasher failure reads as %v", err)
		}
	}
	st := e.user(t, u.ID()).State()
	if st.FailedLoginAttempts != maxAttempts-1 || st.LoginsInFlight != 0 || st.IsLocked {
		t.Fatalf("count %d, in flight %d, locked %v; want %d, 0, unlocked", st.FailedLoginAttempts, st.LoginsInFlight, st.IsLocked, maxAttempts-1)
	}
	// The count was kept: one more failure locks.
	_, err := e.login("alice@example.com", wrongPass)
	wantErr(t, err, domain.ErrInvalidCredentials)
	if !e.user(t, u.ID()).IsLocked() {
		t.Error("the failures before the hasher errors were forgotten")
	}
}

func TestLoginHasherErrorForUnknownEmail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.hasher.VerifyFunc = func(ctx context.Context, password, hash string) (bool, bool, error) { return false, false, errBoom }
	})
	_, err := e.login("nobody@example.com", goodPass)
	wantErr(t, err, errBoom)
}

func TestLoginRehashesStaleHash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	if err := e.mem.UpdateUser(context.Background(), u.ID(), func(u *domain.User) error {
		u.UpgradePasswordHash(u.PasswordHash(), staleHash(goodPass))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	hashes := len(e.hasher.HashCalls())
	if _, err := e.login("alice@example.com", goodPass); err != nil {
		t.Fatalf("Login: %v", err)
	}
	after := e.user(t, u.ID())
	if after.PasswordHash() != fakeHash(goodPass) {
		t.Errorf("hash after login %q, want the current one", after.PasswordHash())
	}
	if n := len(e.hasher.HashCalls()) - hashes; n != 1 {
		t.Errorf("Hash called %d times at login, want 1", n)
	}
	if after.TokenVersion() != u.TokenVersion() {
		t.Error("a rehash ended the user's sessions")
	}
	// A current hash is left alone.
	if _, err := e.login("alice@example.com", goodPass); err != nil {
		t.Fatalf("second Login: %v", err)
	}
	if n := len(e.hasher.HashCalls()) - hashes; n != 1 {
		t.Errorf("a current hash was rehashed (%d Hash calls)", n)
	}
}

func TestLoginRehashFailureIsHarmless(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	if err := e.mem.UpdateUser(context.Background(), u.ID(), func(u *domain.User) error {
		u.UpgradePasswordHash(u.PasswordHash(), staleHash(goodPass))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	e.hasher.HashFunc = func(ctx context.Context, password string) (string, error) { return "", errBoom }
	if _, err := e.login("alice@example.com", goodPass); err != nil {
		t.Fatalf("Login with a failing rehash: %v", err)
	}
	if got := e.user(t, u.ID()).PasswordHash(); got != staleHash(goodPass) {
		t.Errorf("hash %q, want the stale one kept", got)
	}
}

func TestLoginIssuerFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.issuer.IssueFunc = func(c ports.AccessClaims, now time.Time) (string, time.Duration, error) { return "", 0, errBoom }
	})
	e.verified(t, "alice@example.com")
	_, err := e.login("alice@example.com", goodPass)
	wantErr(t, err, errBoom)
}

func TestLoginStoreFailure(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.store = &portmock.UserStoreMock{UpdateUserByEmailFunc: func(context.Context, string, func(*domain.User) error) error { return errBoom }}
	})
	_, err := e.login("alice@example.com", goodPass)
	wantErr(t, err, errBoom)
	if errors.Is(err, domain.ErrInvalidCredentials) {
		t.Error("a store failure reads as wrong credentials")
	}
}

// A caller that gives up while waiting for a login slot gets ErrUnavailable.
func TestLoginCancelledWhileBusy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	// Every slot is held by attempts of another process.
	if err := e.mem.UpdateUser(context.Background(), u.ID(), func(u *domain.User) error {
		for range maxAttempts {
			if _, err := u.BeginLoginAttempt(e.clock.Now(), domain.LockoutPolicy{MaxAttempts: maxAttempts, AttemptLease: time.Hour}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	store := &portmock.UserStoreMock{
		UpdateUserByEmailFunc: func(c context.Context, email string, fn func(*domain.User) error) error {
			err := e.mem.UpdateUserByEmail(c, email, fn)
			cancel() // the caller hangs up after its first try
			return err
		},
	}
	svc, err := app.New(app.Deps{Users: store, Sessions: e.mem, Audit: e.mem, Stats: e.mem, Hasher: e.hasher, Issuer: e.issuer, Verifier: e.verifier, Clock: e.clock, IDs: e.ids, Secrets: e.secrets, SecretBox: testBox(t), Log: discardLog(), DummyHash: dummyHash}, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Login(ctx, "alice@example.com", goodPass)
	wantErr(t, err, domain.ErrUnavailable)
	wantErr(t, err, context.Canceled)
	if len(e.hasher.VerifyCalls()) != 0 {
		t.Error("a password was checked without a slot")
	}
}

// lockAccount fails MaxAttempts logins on email.
func lockAccount(tb testing.TB, e *env, email string) {
	tb.Helper()
	for range maxAttempts {
		_, err := e.login(email, wrongPass)
		wantErr(tb, err, domain.ErrInvalidCredentials)
	}
	u, err := e.mem.UserByEmail(context.Background(), email)
	if err != nil || !u.IsLocked() {
		tb.Fatalf("%s did not lock: %v", email, err)
	}
}

// gate holds every password check until n of them run at once, so that
// concurrent logins really overlap, and records the most that ever ran.
type gate struct {
	n        int
	mu       sync.Mutex
	running  int
	peak     int
	full     chan struct{}
	fullOnce sync.Once
}

func newGate(n int) *gate { return &gate{n: n, full: make(chan struct{})} }

// wrap returns a Verify that passes through the gate before verify runs.
func (g *gate) wrap(verify func(context.Context, string, string) (bool, bool, error)) func(context.Context, string, string) (bool, bool, error) {
	return func(ctx context.Context, password, hash string) (bool, bool, error) {
		g.mu.Lock()
		g.running++
		g.peak = max(g.peak, g.running)
		if g.running >= g.n {
			g.fullOnce.Do(func() { close(g.full) })
		}
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			g.running--
			g.mu.Unlock()
		}()
		select {
		case <-g.full:
		case <-ctx.Done():
			return false, false, ctx.Err()
		}
		return verify(ctx, password, hash)
	}
}

func (g *gate) Peak() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}

// concurrentLogins runs n logins at once and returns their errors.
func concurrentLogins(e *env, n int, email, password string) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = e.login(email, password)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

func TestLoginConcurrentWrongPasswords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	g := newGate(maxAttempts)
	e.hasher.VerifyFunc = g.wrap(e.hasher.VerifyFunc)

	const n = 30
	var invalid, locked int
	for _, err := range concurrentLogins(e, n, "alice@example.com", wrongPass) {
		switch {
		case errors.Is(err, domain.ErrInvalidCredentials):
			invalid++
		case errors.Is(err, domain.ErrAccountLocked):
			locked++
		default:
			t.Errorf("unexpected login result: %v", err)
		}
	}
	if invalid != maxAttempts || locked != n-maxAttempts {
		t.Errorf("%d ErrInvalidCredentials and %d ErrAccountLocked; want %d and %d", invalid, locked, maxAttempts, n-maxAttempts)
	}
	if checks := len(e.hasher.VerifyCalls()); checks != maxAttempts {
		t.Errorf("%d passwords checked, want at most MaxAttempts = %d", checks, maxAttempts)
	}
	if p := g.Peak(); p > maxAttempts {
		t.Errorf("%d password checks ran at once, want at most %d", p, maxAttempts)
	}
	if n := len(e.sentTo("alice@example.com", domain.MessageLocked)); n != 1 {
		t.Errorf("%d lock mails, want 1", n)
	}
	st := e.user(t, u.ID()).State()
	if !st.IsLocked || st.FailedLoginAttempts != maxAttempts || st.LoginsInFlight != 0 {
		t.Errorf("locked %v, count %d, in flight %d", st.IsLocked, st.FailedLoginAttempts, st.LoginsInFlight)
	}
	_, err := e.login("alice@example.com", goodPass)
	wantErr(t, err, domain.ErrAccountLocked)
}

func TestLoginConcurrentRightPasswords(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.verified(t, "alice@example.com")
	g := newGate(maxAttempts)
	e.hasher.VerifyFunc = g.wrap(e.hasher.VerifyFunc)

	const n = 20
	for i, err := range concurrentLogins(e, n, "alice@example.com", goodPass) {
		if err != nil {
			t.Errorf("login %d: %v", i, err)
		}
	}
	if got := len(e.issuer.IssueCalls()); got != n {
		t.Errorf("%d tokens issued, want %d", got, n)
	}
	if p := g.Peak(); p > maxAttempts {
		t.Errorf("%d password checks ran at once, want at most %d", p, maxAttempts)
	}
	st := e.user(t, u.ID()).State()
	if st.IsLocked || st.FailedLoginAttempts != 0 || st.LoginsInFlight != 0 {
		t.Errorf("locked %v, count %d, in flight %d", st.IsLocked, st.FailedLoginAttempts, st.LoginsInFlight)
	}
}

// An attempt whose lease ran out was counted as a failure and locked the
// account; its right password, decided late, must not log in.
func TestLoginRightPasswordDecidedAfterLock(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.cfg.Lockout = domain.LockoutPolicy{MaxAttempts: 1, Duration: time.Hour, AttemptLease: time.Minute}
	})
	u := e.verified(t, "alice@example.com")
	entered, release := make(chan struct{}), make(chan struct{})
	fake := e.hasher.VerifyFunc
	e.hasher.VerifyFunc = func(ctx context.Context, password, hash string) (bool, bool, error) {
		if password == goodPass {
			close(entered)
			<-release
		}
		return fake(ctx, password, hash)
	}
	done := make(chan error)
	go func() {
		_, err := e.login("alice@example.com", goodPass)
		done <- err
	}()
	<-entered
	e.clock.Advance(2 * time.Minute)
	_, err := e.login("alice@example.com", wrongPass)
	wantErr(t, err, domain.ErrAccountLocked)
	close(release)
	wantErr(t, <-done, domain.ErrAccountLocked)
	if len(e.issuer.IssueCalls()) != 0 {
		t.Error("a token was issued to a locked account")
	}
	if st := e.user(t, u.ID()).State(); !st.IsLocked || !st.LastLoginAt.IsZero() {
		t.Errorf("locked %v, last login %v; want locked, never", st.IsLocked, st.LastLoginAt)
	}
}

// Attempts admitted by a process that died are counted as failures once
// their lease runs out; when that locks the account, the lock is kept,
// the owner is emailed, and it lifts like any other lock.
func TestLoginCountsAttemptsWhoseLeaseRanOut(t *testing.T) {
	t.Parallel()
	for _, unlock := range []string{"after the duration", "by staff"} {
		t.Run(unlock, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t) // the lease defaults to a minute
			admin := e.admin(t, "root@example.com")
			u := e.verified(t, "alice@example.com")
			if err := e.mem.UpdateUser(context.Background(), u.ID(), func(u *domain.User) error {
				for range maxAttempts {
					if _, err := u.BeginLoginAttempt(e.clock.Now(), domain.LockoutPolicy{MaxAttempts: maxAttempts, AttemptLease: time.Minute}); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(time.Minute + time.Nanosecond)

			_, err := e.login("alice@example.com", goodPass)
			wantErr(t, err, domain.ErrAccountLocked)
			st := e.user(t, u.ID()).State()
			if !st.IsLocked || st.FailedLoginAttempts != maxAttempts || st.LoginsInFlight != 0 {
				t.Fatalf("locked %v, count %d, in flight %d; want locked, %d, 0", st.IsLocked, st.FailedLoginAttempts, st.LoginsInFlight, maxAttempts)
			}
			_, err = e.login("alice@example.com", goodPass)
			wantErr(t, err, domain.ErrAccountLocked)
			if n := len(e.sentTo("alice@example.com", domain.MessageLocked)); n != 1 {
				t.Errorf("%d lock mails, want 1", n)
			}
			if len(e.hasher.VerifyCalls()) != 0 {
				t.Error("a password was checked on a locked account")
			}

			if unlock == "by staff" {
				if _, err := e.svc.Unlock(context.Background(), admin, u.ID()); err != nil {
					t.Fatalf("Unlock: %v", err)
				}
			} else {
				e.clock.Advance(lockFor)
			}
			if _, err := e.login("alice@example.com", goodPass); err != nil {
				t.Fatalf("Login after unlock: %v", err)
			}
		})
	}
}
