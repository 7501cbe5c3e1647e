package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// cliEnvFor is the environment of commands on a fresh SQLite database.
func cliEnvFor(t *testing.T) map[string]string {
	return map[string]string{
		"DATABASE_URL":    "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite"),
		"JWT_SECRET":      strings.Repeat("k", 32),
		"HASH_MEMORY_KIB": "8192",
		"HASH_ITERATIONS": "1",
	}
}

// cli runs one command as main does and returns its exit code and output.
func cli(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errb)
	if err != nil {
		fmt.Fprintln(&errb, "usersvc:", err) // as main prints it
	}
	return exitCode(err), out.String(), errb.String()
}

// mustCLI runs a command that must succeed.
func mustCLI(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	code, out, errs := cli(t, env, args...)
	if code != 0 {
		t.Fatalf("usersvc %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// wantExit runs a command that must fail with code and one stderr line
// that mentions want.
func wantExit(t *testing.T, env map[string]string, code int, want string, args ...string) {
	t.Helper()
	got, out, errs := cli(t, env, args...)
	if got != code {
		t.Errorf("usersvc %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), got, code, out, errs)
		return
	}
	if lines := strings.Split(strings.TrimSpace(errs), "\n"); len(lines) != 1 || !strings.Contains(errs, want) {
		t.Errorf("usersvc %s: stderr %q, want one line mentioning %q", strings.Join(args, " "), errs, want)
	}
}

// openTestStore opens the database of env, to look behind the commands.
func openTestStore(t *testing.T, env map[string]string) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.Open(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func userByEmail(t *testing.T, env map[string]string, email string) *domain.User {
	t.Helper()
	u, err := openTestStore(t, env).UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatalf("UserByEmail(%s): %v", email, err)
	}
	return u
}

func bcryptOf(t *testing.T, password string) string {
	t.Helper()
	b, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// seed creates an admin and imports two more users.
func seed(t *testing.T, env map[string]string) {
	t.Helper()
	mustCLI(t, env, "admin", "create", "--email", "root@example.com", "--password", "a long admin passphrase")
	f := writeFile(t, "seed.csv", "email,nickname,first_name,role,password_hash\n"+
		"ada@example.com,ada,Ada,,"+bcryptOf(t, "ada's passphrase")+"\n"+
		"bob@example.com,bob,Bob,MANAGER,"+bcryptOf(t, "bob's passphrase")+"\n")
	mustCLI(t, env, "users", "import", "--file", f)
}

func TestHelpEverywhere(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	for _, args := range [][]string{
		{"--help"}, {"help"}, {"serve", "--help"}, {"migrate", "--help"}, {"admin", "--help"}, {"admin", "create", "--help"},
		{"migrate", "up", "--help"}, {"migrate", "status", "-h"}, {"migrate", "down", "--help"},
		{"healthcheck", "--help"}, {"users", "--help"}, {"users", "-h"},
		{"users", "list", "--help"}, {"users", "set-role", "--help"}, {"users", "unlock", "--help"},
		{"users", "delete", "-h"}, {"users", "export", "--help"}, {"users", "import", "--help"}, {"users", "invite", "--help"},
		{"users", "delete", "someone@example.com", "--help"},
	} {
		code, out, errs := cli(t, env, args...)
		if code != 0 || !strings.Contains(out, "usage: usersvc") || errs != "" {
			t.Errorf("usersvc %s: exit %d, stdout %q, stderr %q; want 0 and a usage on stdout", strings.Join(args, " "), code, out, errs)
		}
	}
}

func TestBadUsageExits2(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"nonsense"}, "unknown command"},
		{[]string{"serve", "extra"}, "no arguments"},
		{[]string{"migrate"}, "usage"},
		{[]string{"migrate", "sideways"}, "usage"},
		{[]string{"admin"}, "usage"},
		{[]string{"admin", "create", "--bogus"}, "not defined"},
		{[]string{"users"}, "a command is required"},
		{[]string{"users", "bogus"}, "unknown command"},
		{[]string{"users", "list", "--format", "xml"}, "--format"},
		{[]string{"users", "list", "--role", "KING"}, "unknown role"},
		{[]string{"users", "list", "extra"}, "arguments"},
		{[]string{"users", "list", "--nope"}, "not defined"},
		{[]string{"users", "set-role", "a@example.com"}, "EMAIL ROLE"},
		{[]string{"users", "set-role", "a@example.com", "KING"}, "unknown role"},
		{[]string{"users", "unlock"}, "EMAIL"},
		{[]string{"users", "delete", "a@example.com", "b@example.com"}, "EMAIL"},
		{[]string{"users", "export", "--file"}, "argument"},
		{[]string{"users", "import"}, "--file is required"},
		{[]string{"users", "invite"}, "EMAIL"},
		{[]string{"users", "invite", "a@example.com", "--role", "KING"}, "unknown role"},
		{[]string{"users", "import", "--file", "x.csv", "--dry-run=maybe"}, "invalid boolean"},
	} {
		wantExit(t, env, 2, tc.want, tc.args...)
	}
}

// A command that fails says so in one line, with no warning before it
// (here the development secrets key's, which serve gives).
func TestAdminCreateFailsInOneLine(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	wantExit(t, env, 1, "password", "admin", "create", "--email", "root@example.com", "--password", "short")
}

func TestUsersList(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	seed(t, env)

	table := mustCLI(t, env, "users", "list")
	for _, want := range []string{"EMAIL", "root@example.com", "ada@example.com", "bob@example.com", "MANAGER", "3 users"} {
		if !strings.Contains(table, want) {
			t.Errorf("users list does not show %q:\n%s", want, table)
		}
	}

	var listed []struct {
		Email         string `json:"email"`
		Role          string `json:"role"`
		EmailVerified bool   `json:"email_verified"`
	}
	if err := json.Unmarshal([]byte(mustCLI(t, env, "users", "list", "--format", "json", "--role", "manager")), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0].Email != "bob@example.com" || listed[0].Role != "MANAGER" || !listed[0].EmailVerified {
		t.Errorf("users list --role manager --format json: %+v", listed)
	}

	recs, err := csv.NewReader(strings.NewReader(mustCLI(t, env, "users", "list", "--q", "AD", "--format=csv"))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || strings.Join(recs[0], ",") != strings.Join(exportHeader, ",") || recs[1][1] != "ada@example.com" {
		t.Errorf("users list --q AD --format csv: %v", recs)
	}
	if out := mustCLI(t, env, "users", "list", "--format", "json", "--q", "zzz"); strings.TrimSpace(out) != "[]" {
		t.Errorf("an empty json list is %q, want []", out)
	}
}

func TestUsersSetRole(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	seed(t, env)
	if out := mustCLI(t, env, "users", "set-role", "ADA@example.com", "admin"); !strings.Contains(out, "ada@example.com is now ADMIN") {
		t.Errorf("set-role said %q", out)
	}
	if got := userByEmail(t, env, "ada@example.com").Role(); got != domain.RoleAdmin {
		t.Errorf("ada is %v, want ADMIN", got)
	}
	wantExit(t, env, 1, "no user has the email nobody@example.com", "users", "set-role", "nobody@example.com", "MANAGER")
	wantExit(t, env, 1, "email", "users", "set-role", "not-an-email", "MANAGER")
	// Two ADMINs: one may go; the last one stays.
	mustCLI(t, env, "users", "set-role", "root@example.com", "AUTHENTICATED")
	wantExit(t, env, 1, "ada@example.com is the last ADMIN", "users", "set-role", "ada@example.com", "MANAGER")

	// The operator is the actor in the audit log.
	events, err := openTestStore(t, env).ListEvents(context.Background(), ports.AuditFilter{ActorID: app.OperatorID, Type: domain.EventRoleChanged})
	if err != nil || len(events) != 2 {
		t.Fatalf("operator's role changes in the audit log: %d, %v; want 2", len(events), err)
	}
}

func TestUsersUnlock(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	seed(t, env)
	err := openTestStore(t, env).UpdateUser(context.Background(), userByEmail(t, env, "ada@example.com").ID(), func(u *domain.User) error {
		u.LockByStaff(u.State().UpdatedAt)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !userByEmail(t, env, "ada@example.com").State().IsLocked {
		t.Fatal("setup: ada is not locked")
	}
	if out := mustCLI(t, env, "users", "unlock", "ada@example.com"); !strings.Contains(out, "unlocked ada@example.com") {
		t.Errorf("unlock said %q", out)
	}
	if userByEmail(t, env, "ada@example.com").State().IsLocked {
		t.Error("ada is still locked")
	}
	if out := mustCLI(t, env, "users", "unlock", "ada@example.com"); !strings.Contains(out, "was not locked") {
		t.Errorf("a second unlock said %q", out)
	}
	wantExit(t, env, 1, "no user has the email nobody@example.com", "users", "unlock", "nobody@example.com")
}

func TestUsersDelete(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	seed(t, env)
	if out := mustCLI(t, env, "users", "delete", "bob@example.com"); !strings.Contains(out, "deleted bob@example.com") {
		t.Errorf("delete said %q", out)
	}
	if _, err := openTestStore(t, env).UserByEmail(context.Background(), "bob@example.com"); err == nil {
		t.Error("bob is still there")
	}
	wantExit(t, env, 1, "no user has the email bob@example.com", "users", "delete", "bob@example.com")
	wantExit(t, env, 1, "root@example.com is the last ADMIN", "users", "delete", "root@example.com")
}

func TestUsersExport(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	seed(t, env)
	path := filepath.Join(t.TempDir(), "users.csv")
	if out := mustCLI(t, env, "users", "export", "--file", path); !strings.Contains(out, "exported 3 users to "+path) {
		t.Errorf("export said %q", out)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("export file mode %v, want 0600", info.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(recs[0], ","); got != "id,email,nickname,first_name,last_name,role,is_professional,email_verified,is_locked,created_at" {
		t.Errorf("export header %q", got)
	}
	if len(recs) != 4 || recs[1][1] != "root@example.com" || recs[2][1] != "ada@example.com" || recs[2][3] != "Ada" ||
		recs[3][5] != "MANAGER" || recs[3][7] != "true" || recs[3][8] != "false" {
		t.Errorf("export:\n%s", b)
	}
	if stdout := mustCLI(t, env, "users", "export"); stdout != string(b) {
		t.Errorf("export to stdout differs from the file:\n%s", stdout)
	}
	wantExit(t, env, 1, "export", "users", "export", "--file", filepath.Join(t.TempDir(), "missing", "dir", "x.csv"))
}

// TestCommandsUseServesConfiguration: a command fails, with the same one
// line as serve, on a configuration serve would refuse.
func TestCommandsUseServesConfiguration(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	env["APP_ENV"] = "production"
	for _, args := range [][]string{{"users", "list"}, {"users", "delete", "a@example.com"}, {"users", "export"}} {
		wantExit(t, env, 1, "APP_ENV=production requires PUBLIC_BASE_URL", args...)
	}
	env = cliEnvFor(t)
	env["DATABASE_URL"] = "mysql://nowhere"
	wantExit(t, env, 1, "unsupported database URL", "users", "list")
}

func TestImportBadLineWritesNothing(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	mustCLI(t, env, "admin", "create", "--email", "root@example.com", "--password", "a long admin passphrase")
	hash := bcryptOf(t, "a passphrase")
	f := writeFile(t, "bad.csv", "email,nickname,password_hash\n"+
		"good@example.com,good_one,"+hash+"\n"+
		"not-an-email,,"+hash+"\n"+
		"nohash@example.com,,\n"+
		"\"broken,quote@example.com,x,"+hash+"\n")
	code, out, errs := cli(t, env, "users", "import", "--file", f)
	if code != 1 {
		t.Fatalf("import of a bad file: exit %d, want 1\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{"line 3: email:", "line 4: password_hash: required", "line 5:", "nothing written"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr does not report %q:\n%s", want, errs)
		}
	}
	if strings.Contains(errs, "line 2") {
		t.Errorf("the good line 2 is reported:\n%s", errs)
	}
	if _, err := openTestStore(t, env).UserByEmail(context.Background(), "good@example.com"); err == nil {
		t.Error("the good line was written although the file has bad ones")
	}

	for name, tc := range map[string]struct{ content, want string }{
		"noemail.csv": {"nickname,password_hash\nx,y\n", "line 1: email: the header must name an email column"},
		"unknown.csv": {"email,password\na@example.com,secret\n", "line 1: password: unknown column"},
		"twice.csv":   {"email,Email\na@example.com,b@example.com\n", "line 1: email: column named twice"},
		"empty.csv":   {"", "line 1: the file is empty"},
	} {
		code, _, errs := cli(t, env, "users", "import", "--file", writeFile(t, name, tc.content))
		lines := strings.Split(strings.TrimSpace(errs), "\n")
		if code != 1 || len(lines) != 2 || !strings.HasPrefix(lines[0], tc.want) || !strings.Contains(lines[1], "nothing written") {
			t.Errorf("import of %s: exit %d, stderr %q; want 1, %q and the refusal", name, code, errs, tc.want)
		}
	}
	wantExit(t, env, 1, "no such file", "users", "import", "--file", filepath.Join(t.TempDir(), "missing.csv"))
}

// TestImportTwiceAndLogIn imports a good file twice, the second time
// changing nothing, and logs in with the imported bcrypt and argon2id
// hashes; the bcrypt one is then argon2id.
func TestImportTwiceAndLogIn(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	mustCLI(t, env, "admin", "create", "--email", "root@example.com", "--password", "a long admin passphrase")
	// An argon2id hash with other parameters than the service's: it logs
	// in, and is rehashed with the current ones.
	h, err := newHasher(config{HashMemoryKiB: 4096, HashIterations: 2, HashParallelism: 1, HashConcurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	argon, err := h.Hash(context.Background(), "carol's passphrase")
	if err != nil {
		t.Fatal(err)
	}
	content := "email,nickname,first_name,last_name,bio,role,password_hash\n" +
		"Ada@Example.com,ada,Ada,Lovelace,\"Wrote, in 1843, the first program\",," + bcryptOf(t, "ada's passphrase") + "\n" +
		"bob@example.com,,Bob,,,MANAGER," + strings.Replace(bcryptOf(t, "bob's passphrase"), "$2a$", "$2y$", 1) + "\n" +
		"carol@example.com,,,,,,\"" + argon + "\"\n" + // PHC strings hold commas

		"root@example.com,,,,,," + bcryptOf(t, "x") + "\n"
	f := writeFile(t, "good.csv", content)

	dry := mustCLI(t, env, "users", "import", "--file", f, "--dry-run")
	if !strings.Contains(dry, "3 users would be imported, 1 skipped") || !strings.Contains(dry, "line 5: skipped: root@example.com") {
		t.Errorf("dry run said:\n%s", dry)
	}
	if n := countAll(t, env); n != 1 {
		t.Fatalf("%d users after a dry run, want 1", n)
	}
	out := mustCLI(t, env, "users", "import", "--file", f)
	if !strings.Contains(out, "imported 3 users, skipped 1") {
		t.Errorf("first import said:\n%s", out)
	}
	before := mustCLI(t, env, "users", "export")
	out = mustCLI(t, env, "users", "import", "--file", f)
	if !strings.Contains(out, "imported 0 users, skipped 4") {
		t.Errorf("second import said:\n%s", out)
	}
	if after := mustCLI(t, env, "users", "export"); after != before {
		t.Errorf("the second import changed the users:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	ada := userByEmail(t, env, "ada@example.com").State()
	if ada.Nickname != "ada" || ada.Profile.Bio != "Wrote, in 1843, the first program" || ada.Role != domain.RoleAuthenticated || !ada.EmailVerified {
		t.Errorf("ada imported as %+v", ada)
	}

	env["RATE_LIMITS"] = "off"
	addr, _ := startServe(t, env)
	for email, password := range map[string]string{
		"ada@example.com": "ada's passphrase", "bob@example.com": "bob's passphrase", "carol@example.com": "carol's passphrase",
	} {
		if code := login(t, addr, email, password+"!"); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong password: %d, want 401", email, code)
		}
		if code := login(t, addr, email, password); code != http.StatusOK {
			t.Errorf("%s with the imported hash's password: %d, want 200", email, code)
		}
		if h := userByEmail(t, env, email).PasswordHash(); !strings.HasPrefix(h, "$argon2id$v=19$m=8192,t=1,p=1$") {
			t.Errorf("%s's hash after login is %.20s…, want argon2id with the current parameters", email, h)
		}
		if code := login(t, addr, email, password); code != http.StatusOK {
			t.Errorf("%s after the rehash: %d, want 200", email, code)
		}
	}
}

func countAll(t *testing.T, env map[string]string) int {
	t.Helper()
	_, n, err := openTestStore(t, env).ListUsers(context.Background(), ports.UserQuery{WithTotal: true})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func login(t *testing.T, addr, email, password string) int {
	t.Helper()
	resp, err := http.PostForm("http://"+addr+"/login/", url.Values{"username": {email}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// users invite creates an account without a password and queues its
// invitation link; the account answers a login as an unknown email until
// the link is followed.
func TestUsersInvite(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	seed(t, env)
	if out := mustCLI(t, env, "users", "invite", "Carol@Example.com", "--role", "manager"); !strings.Contains(out, "invited carol@example.com") ||
		!strings.Contains(out, "MANAGER") {
		t.Errorf("invite said %q", out)
	}
	st := userByEmail(t, env, "carol@example.com").State()
	if !st.InvitationPending || st.EmailVerified || st.PasswordHash != "" || st.Role.String() != "MANAGER" || st.InvitationTokenHash == "" {
		t.Errorf("invited account: pending %v, verified %v, has a password %v, role %v, token %v",
			st.InvitationPending, st.EmailVerified, st.PasswordHash != "", st.Role, st.InvitationTokenHash != "")
	}
	msgs, err := openTestStore(t, env).ClaimMessages(context.Background(), time.Now().Add(time.Minute), 100, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	invitations := 0
	for _, m := range msgs {
		if m.Message.Kind == domain.MessageInvitation && m.Message.To == "carol@example.com" && strings.Contains(m.Message.Link, "/invitation?token=") {
			invitations++
		}
	}
	if invitations != 1 {
		t.Errorf("%d invitation emails queued for carol, want 1", invitations)
	}
	wantExit(t, env, 1, "already has an account", "users", "invite", "ada@example.com")
	wantExit(t, env, 1, "email", "users", "invite", "not-an-email")
}

// import --invite invites the lines without a password_hash; without it
// they are refused.
func TestImportInvites(t *testing.T) {
	t.Parallel()
	env := cliEnvFor(t)
	seed(t, env)
	f := writeFile(t, "invite.csv", "email,first_name,password_hash\n"+
		"dan@example.com,Dan,\n"+
		"eve@example.com,Eve,"+bcryptOf(t, "eve's passphrase")+"\n")
	if code, _, errs := cli(t, env, "users", "import", "--file", f); code != 1 || !strings.Contains(errs, "line 2: password_hash: required, unless the import invites (--invite)") {
		t.Errorf("an import of a line without a hash: exit %d, stderr %q; want 1 and the line reported", code, errs)
	}
	if n := countAll(t, env); n != 3 {
		t.Fatalf("a refused import wrote users: %d, want the 3 seeded", n)
	}
	mustCLI(t, env, "users", "import", "--file", f, "--invite")
	dan, eve := userByEmail(t, env, "dan@example.com").State(), userByEmail(t, env, "eve@example.com").State()
	if !dan.InvitationPending || dan.EmailVerified || dan.PasswordHash != "" {
		t.Errorf("dan (no hash) was not invited: pending %v, verified %v", dan.InvitationPending, dan.EmailVerified)
	}
	if eve.InvitationPending || !eve.EmailVerified {
		t.Errorf("eve (a hash) was invited, or not verified: pending %v, verified %v", eve.InvitationPending, eve.EmailVerified)
	}
	// Again: nothing changes.
	mustCLI(t, env, "users", "import", "--file", f, "--invite")
	if again := userByEmail(t, env, "dan@example.com").State(); again.InvitationTokenHash != dan.InvitationTokenHash {
		t.Error("a second import sent dan a new invitation")
	}
	if n := countAll(t, env); n != 5 {
		t.Errorf("%d users after the second run, want 5", n)
	}
}
