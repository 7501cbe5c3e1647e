package app_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/portmock"
)

var generatedNickname = regexp.MustCompile(`^[a-z]+_[a-z]+_\d{3}$`)

func TestRegister(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u, err := e.svc.Register(context.Background(), app.NewUserInput{
		Email:    "  Alice@Example.COM ",
		Nickname: "alice",
		Password: goodPass,
		Profile:  domain.Profile{FirstName: "Alice", GitHubProfileURL: "https://github.com/alice"},
		Role:     &domain.RoleAdmin, // ignored
	})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	st := e.user(t, u.ID()).State()
	if st.Role != domain.RoleAnonymous || st.EmailVerified {
		t.Errorf("role %v, verified %v; want ANONYMOUS, unverified", st.Role, st.EmailVerified)
	}
	if st.Email != "alice@example.com" || st.Nickname != "alice" || st.Profile.GitHubProfileURL != "https://github.com/alice" {
		t.Errorf("stored %q, %q, %+v", st.Email, st.Nickname, st.Profile)
	}
	if st.PasswordHash != fakeHash(goodPass) {
		t.Errorf("stored password hash %q, want the hasher's", st.PasswordHash)
	}
	if !st.CreatedAt.Equal(t0) {
		t.Errorf("CreatedAt = %v, want %v", st.CreatedAt, t0)
	}

	want := []domain.Message{{
		Kind: domain.MessageVerifyEmail, To: "alice@example.com", Name: "alice", // unverified: the nickname
		Link: baseURL + "/verify-email/" + u.ID() + "/secret-1",
	}}
	if diff := cmp.Diff(want, e.sent()); diff != "" {
		t.Errorf("mail mismatch (-want +got):\n%s", diff)
	}
	// The token is stored hashed, never raw, and expires after the TTL.
	if st.VerificationTokenHash == "secret-1" || st.VerificationTokenHash != sha256Hex("secret-1") {
		t.Errorf("stored token hash %q, want sha256 of the secret", st.VerificationTokenHash)
	}
	if !st.VerificationExpiresAt.Equal(t0.Add(verifyTTL)) {
		t.Errorf("token expires at %v, want %v", st.VerificationExpiresAt, t0.Add(verifyTTL))
	}
}

func TestRegisterGeneratesNickname(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	u := e.register(t, "a@example.com")
	if !generatedNickname.MatchString(u.Nickname()) {
		t.Errorf("generated nickname %q does not match %s", u.Nickname(), generatedNickname)
	}
	if msgs := e.sent(); len(msgs) != 1 || msgs[0].Name != u.Nickname() {
		t.Errorf("mails %+v; want one greeting %q", msgs, u.Nickname())
	}
}

func TestRegisterDuplicates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   app.NewUserInput
		want error
	}{
		{"same email", app.NewUserInput{Email: "alice@example.com", Password: goodPass}, domain.ErrEmailTaken},
		{"same email, other case and spaces", app.NewUserInput{Email: " ALICE@example.com", Password: goodPass}, domain.ErrEmailTaken},
		{"same nickname", app.NewUserInput{Email: "bob@example.com", Nickname: "alice", Password: goodPass}, domain.ErrNicknameTaken},
		{"same nickname, other case", app.NewUserInput{Email: "bob@example.com", Nickname: "ALICE", Password: goodPass}, domain.ErrNicknameTaken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			if _, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "alice@example.com", Nickname: "alice", Password: goodPass}); err != nil {
				t.Fatal(err)
			}
			_, err := e.svc.Register(context.Background(), tt.in)
			wantErr(t, err, tt.want)
			if _, total, _ := e.mem.ListUsers(context.Background(), ports.UserQuery{WithTotal: true}); total != 1 {
				t.Errorf("%d users stored, want 1", total)
			}
			if n := len(e.sent()); n != 1 {
				t.Errorf("%d mails sent, want 1", n)
			}
		})
	}
}

func TestRegisterDuplicateEmailSkipsTheHash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "alice@example.com")
	_, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "alice@example.com", Password: goodPass})
	wantErr(t, err, domain.ErrEmailTaken)
	if n := len(e.hasher.HashCalls()); n != 1 {
		t.Errorf("Hash called %d times, want 1: a taken email is refused before hashing", n)
	}
}

func TestRegisterReportsEveryInvalidField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.svc.Register(context.Background(), app.NewUserInput{
		Email:    "not-an-email",
		Nickname: "no spaces",
		Password: "short",
		Profile: domain.Profile{
			FirstName:          strings.Repeat("x", 101),
			ProfilePictureURL:  "https://example.com/me.html",
			LinkedInProfileURL: "https://evil.com/linkedin.com",
		},
	})
	wantInvalid(t, err, "email", "nickname", "first_name", "profile_picture_url", "linkedin_profile_url", "password")
	if len(e.hasher.HashCalls()) != 0 || len(e.sent()) != 0 {
		t.Error("invalid input was hashed or mailed")
	}
}

func TestRegisterPasswordPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, email, nickname, password string
	}{
		{"common", "a@example.com", "", "password123"},
		{"equal to the email", "Alice@Example.com", "", "alice@example.com"},
		{"equal to the nickname", "a@example.com", "Nick_Name", "nick_name"},
		{"too long", "a@example.com", "", strings.Repeat("x", 129)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			_, err := e.svc.Register(context.Background(), app.NewUserInput{Email: tt.email, Nickname: tt.nickname, Password: tt.password})
			wantInvalid(t, err, "password")
		})
	}
}

func TestRegisterMailerFailureDoesNotFail(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.mailer.SendFunc = func(ctx context.Context, m domain.Message) error { return errBoom }
	})
	u, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "a@example.com", Password: goodPass})
	if err != nil {
		t.Fatalf("Register with a failing mailer: %v", err)
	}
	e.user(t, u.ID())
	e.flush()
	if n := len(e.mailer.SendCalls()); n != 1 {
		t.Errorf("Send called %d times, want 1", n)
	}
	// The message waits in the outbox and goes out once the mailer works.
	e.mailer.SendFunc = func(ctx context.Context, m domain.Message) error { return nil }
	e.clock.Advance(time.Minute)
	if msgs := e.sentTo("a@example.com", domain.MessageVerifyEmail); len(msgs) != 2 {
		t.Errorf("Send called %d times after the mailer recovered, want 2", len(msgs))
	}
}

func TestRegisterPortFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		setup func(*deps)
	}{
		{"hasher", func(d *deps) {
			d.hasher.HashFunc = func(ctx context.Context, password string) (string, error) { return "", errBoom }
		}},
		{"secrets", func(d *deps) {
			d.secrets.NewSecretFunc = func() (string, error) { return "", errBoom }
		}},
		{"store lookup", func(d *deps) {
			d.store = &portmock.UserStoreMock{UserByEmailFunc: func(ctx context.Context, email string) (*domain.User, error) { return nil, errBoom }}
		}},
		{"store insert", func(d *deps) {
			d.store = &portmock.UserStoreMock{
				UserByEmailFunc: d.mem.UserByEmail,
				CreateUserFunc:  func(ctx context.Context, u *domain.User) error { return errBoom },
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, tt.setup)
			u, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "a@example.com", Password: goodPass})
			wantErr(t, err, errBoom)
			if u != nil || len(e.sent()) != 0 {
				t.Errorf("a failed registration returned %v and sent %d mails", u, len(e.sent()))
			}
		})
	}
}

// The store's unique index decides a race the early lookup could not see.
func TestRegisterEmailTakenByTheStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(d *deps) {
		d.store = &portmock.UserStoreMock{
			UserByEmailFunc: d.mem.UserByEmail,
			CreateUserFunc:  func(ctx context.Context, u *domain.User) error { return domain.ErrEmailTaken },
		}
	})
	_, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "a@example.com", Password: goodPass})
	wantErr(t, err, domain.ErrEmailTaken)
}

func TestRegisterRetriesTakenGeneratedNickname(t *testing.T) {
	t.Parallel()
	var store *portmock.UserStoreMock
	e := newEnv(t, func(d *deps) {
		store = &portmock.UserStoreMock{
			UserByEmailFunc: d.mem.UserByEmail,
			CreateUserFunc: func(ctx context.Context, u *domain.User) error {
				if len(store.CreateUserCalls()) <= 2 {
					return domain.ErrNicknameTaken
				}
				return d.mem.CreateUser(ctx, u)
			},
		}
		d.store = store
	})
	u, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "a@example.com", Password: goodPass})
	if err != nil {
		t.Fatalf("Register: %v", err)
	}
	if n := len(store.CreateUserCalls()); n != 3 {
		t.Errorf("CreateUser called %d times, want 3", n)
	}
	if !generatedNickname.MatchString(u.Nickname()) {
		t.Errorf("nickname %q is not a generated one", u.Nickname())
	}
	if n := len(e.sent()); n != 1 {
		t.Errorf("%d mails sent, want 1", n)
	}
}

func TestRegisterGivesUpOnGeneratedNicknames(t *testing.T) {
	t.Parallel()
	var store *portmock.UserStoreMock
	e := newEnv(t, func(d *deps) {
		store = &portmock.UserStoreMock{
			UserByEmailFunc: d.mem.UserByEmail,
			CreateUserFunc:  func(ctx context.Context, u *domain.User) error { return domain.ErrNicknameTaken },
		}
		d.store = store
	})
	_, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "a@example.com", Password: goodPass})
	wantErr(t, err, domain.ErrNicknameExhausted)
	calls := store.CreateUserCalls()
	if len(calls) < 2 || len(calls) > 100 {
		t.Errorf("CreateUser called %d times; want a bounded number of retries", len(calls))
	}
	for _, c := range calls {
		if !generatedNickname.MatchString(c.U.Nickname()) {
			t.Errorf("retried with nickname %q", c.U.Nickname())
		}
	}
	if len(e.sent()) != 0 {
		t.Error("a failed registration sent mail")
	}
}

// A chosen nickname that is taken is reported, not replaced.
func TestRegisterDoesNotRetryChosenNickname(t *testing.T) {
	t.Parallel()
	var store *portmock.UserStoreMock
	e := newEnv(t, func(d *deps) {
		store = &portmock.UserStoreMock{
			UserByEmailFunc: d.mem.UserByEmail,
			CreateUserFunc:  func(ctx context.Context, u *domain.User) error { return domain.ErrNicknameTaken },
		}
		d.store = store
	})
	_, err := e.svc.Register(context.Background(), app.NewUserInput{Email: "a@example.com", Nickname: "chosen", Password: goodPass})
	wantErr(t, err, domain.ErrNicknameTaken)
	if n := len(store.CreateUserCalls()); n != 1 {
		t.Errorf("CreateUser called %d times, want 1", n)
	}
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	manager := domain.Actor{ID: adminActor.ID, Role: domain.RoleManager}
	tests := []struct {
		name     string
		actor    domain.Actor
		role     *domain.Role
		want     error
		wantRole domain.Role
	}{
		{"admin without role", adminActor, nil, nil, domain.RoleAnonymous},
		{"admin with role", adminActor, &domain.RoleManager, nil, domain.RoleManager},
		{"admin creates an admin", adminActor, &domain.RoleAdmin, nil, domain.RoleAdmin},
		{"manager without role", manager, nil, nil, domain.RoleAnonymous},
		{"manager with role", manager, &domain.RoleAuthenticated, domain.ErrNotPermitted, domain.Role{}},
		{"authenticated user", nobodyActor, nil, domain.ErrNotPermitted, domain.Role{}},
		{"anonymous user", domain.Actor{ID: nobodyActor.ID, Role: domain.RoleAnonymous}, nil, domain.ErrNotPermitted, domain.Role{}},
		{"no actor", domain.Actor{}, nil, domain.ErrNotPermitted, domain.Role{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			u, err := e.svc.CreateUser(context.Background(), tt.actor, app.NewUserInput{Email: "New@Example.com", Password: goodPass, Role: tt.role})
			wantErr(t, err, tt.want)
			if tt.want != nil {
				if _, total, _ := e.mem.ListUsers(context.Background(), ports.UserQuery{WithTotal: true}); total != 0 || len(e.sent()) != 0 {
					t.Errorf("a refused creation stored %d users and sent %d mails", total, len(e.sent()))
				}
				return
			}
			st := e.user(t, u.ID()).State()
			if st.Role != tt.wantRole || st.EmailVerified {
				t.Errorf("role %v, verified %v; want %v, unverified", st.Role, st.EmailVerified, tt.wantRole)
			}
			msgs := e.sentTo("new@example.com", domain.MessageVerifyEmail)
			if len(msgs) != 1 || msgs[0].Link != baseURL+"/verify-email/"+u.ID()+"/secret-1" {
				t.Errorf("verification mails %+v; want one link for %s", msgs, u.ID())
			}
		})
	}
}

func TestCreateUserInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.register(t, "taken@example.com")
	_, err := e.svc.CreateUser(context.Background(), adminActor, app.NewUserInput{Email: "taken@example.com", Password: goodPass})
	wantErr(t, err, domain.ErrEmailTaken)
	_, err = e.svc.CreateUser(context.Background(), adminActor, app.NewUserInput{Email: "x", Password: "x"})
	wantInvalid(t, err, "email", "password")
	_, err = e.svc.CreateUser(context.Background(), adminActor, app.NewUserInput{Email: "r@example.com", Password: goodPass, Role: &domain.Role{}})
	wantInvalid(t, err, "role")
	if !strings.HasPrefix(fmt.Sprint(err), "create user: ") {
		t.Errorf("error %q is not wrapped with the operation", err)
	}
	if errors.Is(err, domain.ErrNotPermitted) {
		t.Error("an ADMIN's invalid role is not a permission error")
	}
}
