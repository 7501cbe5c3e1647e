package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// The command line for operators (PRODUCT.md section 8.7). Every command
// reads the configuration serve reads, acts through the use cases as
// app.Operator (an ADMIN without an account, named "operator" in the audit
// log), exits 0 on success, 1 on failure and 2 on bad usage.

const usersUsage = `usage: usersvc users COMMAND [arguments]

commands:
  list [--q Q] [--role R] [--format table|json|csv]   list users
  set-role EMAIL ROLE                                  change a user's role
  unlock EMAIL                                         lift a user's lockout
  delete EMAIL                                         delete a user
  export [--file F]                                    write every user as CSV
  invite EMAIL [--role R]                              invite a user (no password: a link sets it)
  import --file F [--dry-run] [--invite]               create users from a CSV file

Run usersvc users COMMAND --help for a command's details. Every command uses
the configuration of serve (environment variables, see README.md) and acts
as the operator: an ADMIN, recorded as "operator" in the audit log.`

// exportHeader is the CSV header of users export (and list --format csv).
var exportHeader = []string{"id", "email", "nickname", "first_name", "last_name", "role",
	"is_professional", "email_verified", "is_locked", "created_at"}

// importColumns are the columns an import file may name.
var importColumns = []string{"email", "nickname", "first_name", "last_name", "bio", "role", "password_hash"}

// command is one subcommand of users.
type command struct {
	name, args, help string
	flags            func(fs *flag.FlagSet) // defines the command's flags
	positional       int                    // how many arguments it takes
	run              func(ctx context.Context, e *cliEnv, args []string) error
}

// cliEnv is what a command runs with.
type cliEnv struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	fs             *flag.FlagSet
}

// str and boolean read a flag the command defined.
func (e *cliEnv) str(name string) string { return e.fs.Lookup(name).Value.String() }
func (e *cliEnv) boolean(name string) bool {
	v, _ := strconv.ParseBool(e.fs.Lookup(name).Value.String())
	return v
}

var userCommands = []command{
	{
		name: "list", args: "[--q Q] [--role R] [--format table|json|csv]",
		help: "Lists users, oldest first. --q keeps those whose email or nickname starts with Q\n" +
			"(any case); --role keeps one role (ANONYMOUS, AUTHENTICATED, MANAGER, ADMIN).",
		flags: func(fs *flag.FlagSet) {
			fs.String("q", "", "keep users whose email or nickname starts with `Q`")
			fs.String("role", "", "keep users with role `R`")
			fs.String("format", "table", "output `format`: table, json or csv")
		},
		run: usersList,
	},
	{
		name: "set-role", args: "EMAIL ROLE", positional: 2,
		help: "Gives the user with EMAIL the role ROLE (ANONYMOUS, AUTHENTICATED, MANAGER, ADMIN).\n" +
			"The last ADMIN cannot be demoted. The user's sessions end.",
		run: usersSetRole,
	},
	{
		name: "unlock", args: "EMAIL", positional: 1,
		help: "Lifts the lockout of the user with EMAIL (failed logins counted from zero).",
		run:  usersUnlock,
	},
	{
		name: "delete", args: "EMAIL", positional: 1,
		help: "Deletes the user with EMAIL and its sessions. The last ADMIN cannot be deleted.",
		run:  usersDelete,
	},
	{
		name: "export", args: "[--file F]",
		help: "Writes every user as CSV, oldest first, to F (created with mode 0600) or to\n" +
			"standard output. Header: " + strings.Join(exportHeader, ","),
		flags: func(fs *flag.FlagSet) { fs.String("file", "", "write to `F` instead of standard output") },
		run:   usersExport,
	},
	{
		name: "invite", args: "EMAIL [--role R]", positional: 1,
		help: "Creates an account for EMAIL without a password and mails it an invitation link\n" +
			"(valid INVITATION_TOKEN_TTL) with which its owner sets one; the address is then\n" +
			"verified. The role is AUTHENTICATED unless --role says otherwise. The email is\n" +
			"queued in the outbox and sent by a running usersvc serve.",
		flags: func(fs *flag.FlagSet) { fs.String("role", "", "the account's `role` (default AUTHENTICATED)") },
		run:   usersInvite,
	},
	{
		name: "import", args: "--file F [--dry-run] [--invite]",
		help: "Creates users from the CSV file F. Its header names any of\n" +
			"  " + strings.Join(importColumns, ",") + "\n" +
			"and must name email. Every line is checked first; if any is bad, each problem is\n" +
			"reported as line, field and reason, and nothing is written. Lines whose email\n" +
			"already has an account are reported and skipped, so importing a file again\n" +
			"changes nothing. Imported accounts are verified, AUTHENTICATED unless role\n" +
			"says MANAGER or ADMIN, and need a password_hash: an argon2id PHC string\n" +
			"($argon2id$v=19$m=…,t=…,p=…$salt$key) or a bcrypt hash ($2a$, $2b$, $2y$),\n" +
			"which works at once and becomes argon2id at the user's next login. With\n" +
			"--invite, lines without a password_hash are invited instead (unverified, no\n" +
			"password, an invitation link mailed). Users are written in transactions of\n" +
			"500; a progress bar shows on a terminal.",
		flags: func(fs *flag.FlagSet) {
			fs.String("file", "", "the CSV `file` to import (required)")
			fs.Bool("dry-run", false, "check the file and report, write nothing")
			fs.Bool("invite", false, "invite the lines without a password_hash")
		},
		run: usersImport,
	},
}

// users runs `usersvc users COMMAND`.
func users(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usagef("users: a command is required: list, set-role, unlock, invite, delete, export or import (usersvc users --help)")
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, usersUsage)
		return nil
	}
	for _, c := range userCommands {
		if c.name == args[0] {
			return c.invoke(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	return usagef("users: unknown command %q: want list, set-role, unlock, invite, delete, export or import", args[0])
}

func (c command) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: usersvc users %s %s\n\n%s\n", c.name, c.args, c.help)
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	if c.flags != nil {
		c.flags(fs)
		b.WriteString("\nflags:\n")
		fs.SetOutput(&b)
		fs.PrintDefaults()
	}
	return strings.TrimRight(b.String(), "\n")
}

// invoke parses the command's flags, which may come before, between or
// after its arguments, and runs it.
func (c command) invoke(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users "+c.name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	if c.flags != nil {
		c.flags(fs)
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprintln(stdout, c.usage())
				return nil
			}
			return usagef("users %s: %v (usersvc users %s --help)", c.name, err, c.name)
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(positional) != c.positional {
		return usagef("users %s: want %s, got %d arguments (usersvc users %s --help)", c.name, c.args, len(positional), c.name)
	}
	return c.run(ctx, &cliEnv{getenv: getenv, stdout: stdout, stderr: stderr, fs: fs}, positional)
}

// openService opens the configured database and the use cases on it, with
// a logger that reports errors only: a command's output is its own.
func openService(ctx context.Context, e *cliEnv) (*app.Service, *sqlstore.Store, config, error) {
	c, err := loadConfig(e.getenv)
	if err != nil {
		return nil, nil, c, err
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	store, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, c, err
	}
	svc, err := newService(ctx, c, store, nil, log)
	if err != nil {
		store.Close()
		return nil, nil, c, err
	}
	return svc, store, c, nil
}

// explain turns a use case's error into one line an operator reads.
func explain(err error, email string) error {
	var ve *domain.ValidationError
	switch {
	case errors.Is(err, domain.ErrUserNotFound):
		return fmt.Errorf("no user has the email %s", email)
	case errors.Is(err, domain.ErrLastAdmin):
		return fmt.Errorf("%s is the last ADMIN: make another user ADMIN first", email)
	case errors.As(err, &ve) && len(ve.Fields) > 0:
		return fmt.Errorf("%s: %s", ve.Fields[0].Field, httpapi.FieldMessage(ve.Fields[0]))
	case errors.Is(err, domain.ErrUnavailable):
		return fmt.Errorf("the database is unavailable: %w", err)
	}
	return err
}

// findUser is the user with email, for the commands that name one.
func findUser(ctx context.Context, svc *app.Service, email string) (*domain.User, error) {
	u, err := svc.UserByEmail(ctx, app.Operator(), email)
	if err != nil {
		return nil, explain(err, email)
	}
	return u, nil
}

func usersSetRole(ctx context.Context, e *cliEnv, args []string) error {
	role, err := domain.ParseRole(strings.ToUpper(args[1]))
	if err != nil {
		return usagef("users set-role: unknown role %q: want ANONYMOUS, AUTHENTICATED, MANAGER or ADMIN", args[1])
	}
	svc, store, _, err := openService(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUser(ctx, svc, args[0])
	if err != nil {
		return err
	}
	if u, err = svc.ChangeRole(ctx, app.Operator(), u.ID(), role); err != nil {
		return explain(err, args[0])
	}
	fmt.Fprintf(e.stdout, "%s is now %s\n", u.Email(), u.Role())
	return nil
}

func usersUnlock(ctx context.Context, e *cliEnv, args []string) error {
	svc, store, _, err := openService(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUser(ctx, svc, args[0])
	if err != nil {
		return err
	}
	was := u.State().IsLocked
	if u, err = svc.Unlock(ctx, app.Operator(), u.ID()); err != nil {
		return explain(err, args[0])
	}
	if was {
		fmt.Fprintf(e.stdout, "unlocked %s\n", u.Email())
	} else {
		fmt.Fprintf(e.stdout, "%s was not locked; failed logins reset\n", u.Email())
	}
	return nil
}

func usersInvite(ctx context.Context, e *cliEnv, args []string) error {
	in := app.InviteInput{Email: args[0]}
	if r := e.str("role"); r != "" {
		role, err := domain.ParseRole(strings.ToUpper(r))
		if err != nil {
			return usagef("users invite: unknown role %q: want ANONYMOUS, AUTHENTICATED, MANAGER or ADMIN", r)
		}
		in.Role = &role
	}
	svc, store, _, err := openService(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := svc.InviteUser(ctx, app.Operator(), in)
	if errors.Is(err, domain.ErrEmailTaken) {
		return fmt.Errorf("%s already has an account", args[0])
	}
	if err != nil {
		return explain(err, args[0])
	}
	fmt.Fprintf(e.stdout, "invited %s (%s) as %s; the invitation email is queued\n", u.Email(), u.ID(), u.Role())
	return nil
}

func usersDelete(ctx context.Context, e *cliEnv, args []string) error {
	svc, store, _, err := openService(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	u, err := findUser(ctx, svc, args[0])
	if err != nil {
		return err
	}
	if err := svc.DeleteUser(ctx, app.Operator(), u.ID()); err != nil {
		return explain(err, args[0])
	}
	fmt.Fprintf(e.stdout, "deleted %s\n", u.Email())
	return nil
}

// eachUser calls fn for every user the search selects, oldest first, a
// page at a time.
func eachUser(ctx context.Context, svc *app.Service, q, role string, fn func(*domain.User) error) error {
	search := app.UserSearch{Q: q, Role: role, Paging: app.PagingCursor, Limit: app.MaxPageSize}
	for {
		page, err := svc.SearchUsers(ctx, app.Operator(), search)
		if err != nil {
			return explain(err, "")
		}
		for _, u := range page.Users {
			if err := fn(u); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		search.Cursor = page.NextCursor
	}
}

// exportRecord is a user as a line of the export.
func exportRecord(u *domain.User) []string {
	st := u.State()
	return []string{st.ID, st.Email, st.Nickname, st.Profile.FirstName, st.Profile.LastName, st.Role.String(),
		strconv.FormatBool(st.IsProfessional), strconv.FormatBool(st.EmailVerified), strconv.FormatBool(st.IsLocked),
		st.CreatedAt.UTC().Format(time.RFC3339)}
}

func usersList(ctx context.Context, e *cliEnv, _ []string) error {
	format, role := e.str("format"), strings.ToUpper(e.str("role"))
	if format != "table" && format != "json" && format != "csv" {
		return usagef("users list: --format must be table, json or csv, got %q", format)
	}
	if role != "" {
		if _, err := domain.ParseRole(role); err != nil {
			return usagef("users list: unknown role %q: want ANONYMOUS, AUTHENTICATED, MANAGER or ADMIN", e.str("role"))
		}
	}
	svc, store, _, err := openService(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	switch format {
	case "csv":
		w := csv.NewWriter(e.stdout)
		_ = w.Write(exportHeader)
		if err := eachUser(ctx, svc, e.str("q"), role, func(u *domain.User) error { return w.Write(exportRecord(u)) }); err != nil {
			return err
		}
		w.Flush()
		return w.Error()
	case "json":
		type jsonUser struct {
			ID             string    `json:"id"`
			Email          string    `json:"email"`
			Nickname       string    `json:"nickname"`
			FirstName      string    `json:"first_name"`
			LastName       string    `json:"last_name"`
			Role           string    `json:"role"`
			IsProfessional bool      `json:"is_professional"`
			EmailVerified  bool      `json:"email_verified"`
			IsLocked       bool      `json:"is_locked"`
			CreatedAt      time.Time `json:"created_at"`
		}
		out := []jsonUser{}
		err := eachUser(ctx, svc, e.str("q"), role, func(u *domain.User) error {
			st := u.State()
			out = append(out, jsonUser{st.ID, st.Email, st.Nickname, st.Profile.FirstName, st.Profile.LastName,
				st.Role.String(), st.IsProfessional, st.EmailVerified, st.IsLocked, st.CreatedAt.UTC()})
			return nil
		})
		if err != nil {
			return err
		}
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EMAIL\tNICKNAME\tROLE\tVERIFIED\tLOCKED\tCREATED\tID")
	n := 0
	err = eachUser(ctx, svc, e.str("q"), role, func(u *domain.User) error {
		st := u.State()
		n++
		_, err := fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", st.Email, st.Nickname, st.Role,
			yesNo(st.EmailVerified), yesNo(st.IsLocked), st.CreatedAt.UTC().Format("2006-01-02 15:04"), st.ID)
		return err
	})
	if err != nil {
		return err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%d users\n", n)
	return nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func usersExport(ctx context.Context, e *cliEnv, _ []string) (err error) {
	svc, store, _, err := openService(ctx, e)
	if err != nil {
		return err
	}
	defer store.Close()
	out, path := e.stdout, e.str("file")
	if path != "" {
		// The file holds personal data: readable by its owner only.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600) //nolint:gosec // the operator's own path
		if err != nil {
			return fmt.Errorf("export: %w", err)
		}
		defer func() {
			if cerr := f.Close(); err == nil && cerr != nil {
				err = fmt.Errorf("export: %w", cerr)
			}
		}()
		out = f
	}
	w := csv.NewWriter(out)
	_ = w.Write(exportHeader)
	n := 0
	if err := eachUser(ctx, svc, "", "", func(u *domain.User) error { n++; return w.Write(exportRecord(u)) }); err != nil {
		return err
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if path != "" {
		fmt.Fprintf(e.stdout, "exported %d users to %s\n", n, path)
	}
	return nil
}
