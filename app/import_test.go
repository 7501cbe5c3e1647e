package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// prefixHashes accepts the fake hashes of these tests, fresh or stale.
type prefixHashes struct{}

func (prefixHashes) ValidateHash(hash string) error {
	if strings.HasPrefix(hash, fakePrefix) || strings.HasPrefix(hash, stalePrefix) {
		return nil
	}
	return fmt.Errorf("not a known hash: %w", domain.ErrInvalid)
}

func newImporter(tb testing.TB, e *env) *app.Importer {
	tb.Helper()
	im, err := app.NewImporter(app.ImportDeps{Users: e.mem, Hashes: prefixHashes{}, Clock: e.clock, IDs: e.ids, Log: slog.New(slog.DiscardHandler), Invite: e.svc.InviteNew})
	if err != nil {
		tb.Fatal(err)
	}
	return im
}

func TestNewImporterNeedsEveryDependency(t *testing.T) {
	t.Parallel()
	if _, err := app.NewImporter(app.ImportDeps{}); err == nil {
		t.Error("NewImporter without dependencies succeeded")
	}
}

func TestImportCreatesVerifiedAccountsThatLogIn(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	im := newImporter(t, e)
	rows := []app.ImportRow{
		{Line: 2, Email: "Ada@Example.com", Nickname: "ada", FirstName: "Ada", LastName: "Lovelace", PasswordHash: staleHash(goodPass)},
		{Line: 3, Email: "grace@example.com", Role: "manager", Bio: "Compilers.", PasswordHash: fakeHash(goodPass)},
	}
	var progress [][2]int
	rep, err := im.Import(context.Background(), app.Operator(), rows, app.ImportOptions{
		BatchSize: 1, Progress: func(done, total int) { progress = append(progress, [2]int{done, total}) },
	})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if rep.Created != 2 || len(rep.Problems) != 0 || len(rep.Existing) != 0 {
		t.Fatalf("report %+v, want 2 created", rep)
	}
	if diff := cmp.Diff([][2]int{{1, 2}, {2, 2}}, progress); diff != "" {
		t.Errorf("progress (-want +got):\n%s", diff)
	}
	users := snapshot(t, e)
	if len(users) != 2 {
		t.Fatalf("%d users stored, want 2", len(users))
	}
	for _, st := range users {
		if !st.EmailVerified {
			t.Errorf("%s is not verified", st.Email)
		}
		switch st.Email {
		case "ada@example.com":
			if st.Nickname != "ada" || st.Role != domain.RoleAuthenticated || st.Profile.LastName != "Lovelace" {
				t.Errorf("ada stored as %+v", st)
			}
		case "grace@example.com":
			if !generatedNickname.MatchString(st.Nickname) || st.Role != domain.RoleManager || st.Profile.Bio != "Compilers." {
				t.Errorf("grace stored as %+v", st)
			}
		default:
			t.Errorf("unexpected user %s", st.Email)
		}
	}
	// The stale (imported) hash logs in and is replaced by a current one.
	res, err := e.login("ada@example.com", goodPass)
	if err != nil {
		t.Fatalf("login with the imported hash: %v", err)
	}
	if got := e.user(t, res.User.ID()).PasswordHash(); got != fakeHash(goodPass) {
		t.Errorf("hash after login %q, want it rehashed to %q", got, fakeHash(goodPass))
	}
	events, err := e.mem.ListEvents(context.Background(), ports.AuditFilter{ActorID: app.OperatorID, Type: domain.EventUserCreated})
	if err != nil || len(events) != 2 {
		t.Fatalf("operator's user_created events: %d, %v; want 2", len(events), err)
	}
	if !strings.Contains(events[0].Detail, "imported") {
		t.Errorf("event detail %q does not say imported", events[0].Detail)
	}
	if len(e.sent()) != 0 {
		t.Errorf("import sent %d mails, want none", len(e.sent()))
	}
}

func TestImportBadLinesWriteNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.withRole(t, "owner@example.com", domain.RoleAuthenticated)
	owner := snapshot(t, e)[0]
	im := newImporter(t, e)
	good := fakeHash(goodPass)
	rows := []app.ImportRow{
		{Line: 2, Email: "fine@example.com", PasswordHash: good},
		{Line: 3, Email: "", PasswordHash: good},
		{Line: 4, Email: "not-an-email", PasswordHash: good},
		{Line: 5, Email: "FINE@example.com", PasswordHash: good},
		{Line: 6, Email: "nohash@example.com"},
		{Line: 7, Email: "badhash@example.com", PasswordHash: "plaintext"},
		{Line: 8, Email: "role@example.com", Role: "ANONYMOUS", PasswordHash: good},
		{Line: 9, Email: "role2@example.com", Role: "KING", PasswordHash: good},
		{Line: 10, Email: "nick@example.com", Nickname: "x", PasswordHash: good},
		{Line: 11, Email: "taken-nick@example.com", Nickname: strings.ToUpper(owner.Nickname), PasswordHash: good},
		{Line: 12, Email: "bio@example.com", Bio: strings.Repeat("b", 501), PasswordHash: good},
		{Line: 13, Email: "n1@example.com", Nickname: "same_nick", PasswordHash: good},
		{Line: 14, Email: "n2@example.com", Nickname: "Same_Nick", PasswordHash: good},
	}
	rep, err := im.Import(context.Background(), app.Operator(), rows, app.ImportOptions{})
	if !errors.Is(err, app.ErrImportRefused) || !errors.Is(err, domain.ErrInvalid) {
		t.Fatalf("Import error = %v, want ErrImportRefused", err)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, fmt.Sprintf("%d %s", p.Line, p.Field))
		if p.Reason == "" && p.Invalid == nil {
			t.Errorf("line %d, %s: no reason", p.Line, p.Field)
		}
	}
	want := []string{"3 email", "4 email", "5 email", "6 password_hash", "7 password_hash", "8 role", "9 role",
		"10 nickname", "11 nickname", "12 bio", "14 nickname"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s\n%+v", diff, rep.Problems)
	}
	if rep.Created != 0 {
		t.Errorf("Created = %d, want 0", rep.Created)
	}
	if n := len(snapshot(t, e)); n != 1 {
		t.Errorf("%d users stored, want only the owner", n)
	}
}

func TestImportTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	im := newImporter(t, e)
	var rows []app.ImportRow
	for i := range 25 {
		rows = append(rows, app.ImportRow{Line: i + 2, Email: fmt.Sprintf("user%d@example.com", i), PasswordHash: fakeHash(goodPass)})
	}
	rep, err := im.Import(context.Background(), app.Operator(), rows, app.ImportOptions{BatchSize: 10})
	if err != nil || rep.Created != 25 {
		t.Fatalf("first import: %+v, %v", rep, err)
	}
	before := snapshot(t, e)
	rep, err = im.Import(context.Background(), app.Operator(), rows, app.ImportOptions{BatchSize: 10})
	if err != nil || rep.Created != 0 || len(rep.Existing) != 25 || rep.Existing[0].Line != 2 || rep.Existing[0].Email != "user0@example.com" {
		t.Fatalf("second import: %+v, %v; want every line skipped", rep, err)
	}
	if diff := cmp.Diff(before, snapshot(t, e), roleEqual); diff != "" {
		t.Errorf("the second import changed users:\n%s", diff)
	}
}

func TestImportDryRunWritesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	im := newImporter(t, e)
	e.register(t, "old@example.com")
	rows := []app.ImportRow{
		{Line: 2, Email: "new@example.com", PasswordHash: fakeHash(goodPass)},
		{Line: 3, Email: "old@example.com", PasswordHash: fakeHash(goodPass)},
	}
	rep, err := im.Import(context.Background(), app.Operator(), rows, app.ImportOptions{DryRun: true})
	if err != nil || rep.Created != 1 || len(rep.Existing) != 1 || rep.Existing[0].Line != 3 {
		t.Fatalf("dry run: %+v, %v; want 1 to create, line 3 skipped", rep, err)
	}
	if n := len(snapshot(t, e)); n != 1 {
		t.Errorf("%d users stored after a dry run, want 1", n)
	}
}

func TestImportNeedsAnAdmin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	im := newImporter(t, e)
	manager := domain.Actor{ID: "00000000-0000-4000-8000-00000000c000", Role: domain.RoleManager}
	_, err := im.Import(context.Background(), manager, []app.ImportRow{{Line: 2, Email: "a@example.com", PasswordHash: fakeHash(goodPass)}}, app.ImportOptions{})
	wantErr(t, err, domain.ErrNotPermitted)
}

// TestImportGeneratesUniqueNicknames: lines without a nickname get
// generated ones that no other line and no stored account has, even when
// the generator keeps proposing taken ones.
func TestImportGeneratesUniqueNicknames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	im := newImporter(t, e)
	var rows []app.ImportRow
	for i := range 300 {
		rows = append(rows, app.ImportRow{Line: i + 2, Email: fmt.Sprintf("g%d@example.com", i), PasswordHash: fakeHash(goodPass)})
	}
	rep, err := im.Import(context.Background(), app.Operator(), rows, app.ImportOptions{BatchSize: 50})
	if err != nil || rep.Created != 300 {
		t.Fatalf("Import: %+v, %v", rep, err)
	}
	seen := map[string]bool{}
	for _, st := range snapshot(t, e) {
		n := strings.ToLower(st.Nickname)
		if seen[n] {
			t.Errorf("nickname %s given twice", n)
		}
		seen[n] = true
	}
}

// racingStore signs someone up with the email of the first user of the
// first batch just before that batch is stored, as a concurrent
// registration would.
type racingStore struct {
	*memory.UserStore
	e    *env
	once sync.Once
}

func (r *racingStore) CreateUsers(ctx context.Context, users []*domain.User) error {
	r.once.Do(func() {
		if _, err := r.e.svc.Register(ctx, app.NewUserInput{Email: users[0].Email(), Password: goodPass}); err != nil {
			panic(err)
		}
	})
	return r.UserStore.CreateUsers(ctx, users)
}

// TestImportSkipsAnEmailTakenMeanwhile: a batch refused because an email
// was taken after the checks is checked again, that line skipped, and the
// rest stored.
func TestImportSkipsAnEmailTakenMeanwhile(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	im, err := app.NewImporter(app.ImportDeps{Invite: e.svc.InviteNew, Users: &racingStore{UserStore: e.mem, e: e}, Hashes: prefixHashes{},
		Clock: e.clock, IDs: e.ids, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var rows []app.ImportRow
	for i := range 5 {
		rows = append(rows, app.ImportRow{Line: i + 2, Email: fmt.Sprintf("race%d@example.com", i), PasswordHash: fakeHash(goodPass)})
	}
	rep, err := im.Import(context.Background(), app.Operator(), rows, app.ImportOptions{})
	if err != nil || rep.Created != 4 || len(rep.Existing) != 1 || rep.Existing[0].Line != 2 {
		t.Fatalf("Import = %+v, %v; want 4 created and line 2 skipped", rep, err)
	}
	if n := len(snapshot(t, e)); n != 5 {
		t.Errorf("%d users stored, want 5", n)
	}
}
