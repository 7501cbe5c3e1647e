package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// ImportRow is one line of an import: the values of the columns the file
// has, empty when absent. Line is the line number the problems name.
type ImportRow struct {
	Line         int
	Email        string
	Nickname     string
	FirstName    string
	LastName     string
	Bio          string
	Role         string
	PasswordHash string
}

// ImportProblem is why a line cannot be imported: Invalid, a field's
// validation code, or Reason, in words for the operator.
type ImportProblem struct {
	Invalid *domain.FieldError
	Line    int
	Field   string // the column; empty for the line as a whole
	Reason  string
}

// ImportSkip is a line whose email already has an account.
type ImportSkip struct {
	Line  int
	Email string
}

// ImportReport says what an import did, or, on a dry run or when a line is
// bad, what it would have done.
type ImportReport struct {
	// Problems lists every bad line; when there is one, nothing is written.
	Problems []ImportProblem
	// Existing are the lines skipped because their email has an account.
	Existing []ImportSkip
	// Created counts the users stored (on a dry run: that would be).
	Created int
}

// ImportOptions tune an import.
type ImportOptions struct {
	// DryRun checks everything and writes nothing.
	DryRun bool
	// Invite lets lines without a password_hash through: their accounts
	// are invited (unverified, no password) and mailed an invitation link.
	Invite bool
	// BatchSize is the number of users stored per transaction (default 500).
	BatchSize int
	// Progress, if set, is called as users are stored: done of total.
	Progress func(done, total int)
}

// ErrImportRefused: a line of the import is bad, so nothing was written.
var ErrImportRefused = fmt.Errorf("import refused: %w", domain.ErrInvalid)

// DefaultImportBatch is the number of users stored per transaction.
const DefaultImportBatch = 500

// maxNicknameRounds bounds the rounds of generating nicknames for the
// lines without one until none is taken.
const maxNicknameRounds = 20

// ImportDeps are the ports the import runs on; every one is required.
type ImportDeps struct {
	Users  ports.UserImporter
	Hashes ports.HashValidator
	Clock  ports.Clock
	IDs    ports.IDs
	Log    *slog.Logger
	// Invite records an invitation on a new account (Service.InviteNew):
	// the hashed link token and the email that carries it.
	Invite func(ctx context.Context, actor domain.Actor, u *domain.User) error
}

// Importer moves users in from other systems, with their password hashes:
// the command line's `users import`.
type Importer struct {
	invite func(ctx context.Context, actor domain.Actor, u *domain.User) error
	users  ports.UserImporter
	hashes ports.HashValidator
	clock  ports.Clock
	ids    ports.IDs
	log    *slog.Logger
	intn   func(n int) int
}

// NewImporter builds the import use case.
func NewImporter(d ImportDeps) (*Importer, error) {
	if d.Users == nil || d.Hashes == nil || d.Clock == nil || d.IDs == nil || d.Log == nil || d.Invite == nil {
		return nil, errors.New("app.NewImporter: every dependency is required")
	}
	return &Importer{invite: d.Invite, users: d.Users, hashes: d.Hashes, clock: d.Clock, ids: d.IDs, log: d.Log, intn: rand.IntN}, nil
}

// candidate is a line that passed the checks.
type candidate struct {
	row       ImportRow
	email     string
	role      domain.Role
	generated bool // the nickname was made up here
}

// Import creates the accounts rows describe, on behalf of an ADMIN (the
// operator). Every line is checked first, against the rules of accounts,
// the other lines and the stored users; if any is bad, every problem is
// reported and nothing is written (ErrImportRefused). Lines whose email has
// an account are skipped, so importing a file twice changes nothing the
// second time. Imported accounts are verified (the operator vouches for
// the addresses, and their owners log in with their old passwords) and
// AUTHENTICATED unless the line names another role; each needs a
// password_hash, argon2id or bcrypt (the hasher checks it, and a login
// replaces a bcrypt hash with argon2id). Users are stored in transactions
// of opts.BatchSize: if one fails, the batches before it stay, and running
// the import again completes it.
func (im *Importer) Import(ctx context.Context, actor domain.Actor, rows []ImportRow, opts ImportOptions) (ImportReport, error) {
	rep, err := im.importRows(ctx, actor, rows, opts)
	if err != nil {
		return rep, fmt.Errorf("import: %w", err)
	}
	return rep, nil
}

func (im *Importer) importRows(ctx context.Context, actor domain.Actor, rows []ImportRow, opts ImportOptions) (ImportReport, error) {
	var rep ImportReport
	if err := actor.CheckChangesRoles(); err != nil { // lines carry roles: ADMIN only
		return rep, err
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultImportBatch
	}
	cands := im.check(rows, opts.Invite, &rep)
	cands, err := im.checkStored(ctx, cands, &rep)
	if err != nil {
		return rep, err
	}
	if len(rep.Problems) > 0 {
		return rep, fmt.Errorf("%d problems on %d lines, nothing written: %w",
			len(rep.Problems), countLines(rep.Problems), ErrImportRefused)
	}
	if opts.DryRun {
		rep.Created = len(cands)
		return rep, nil
	}
	if err := im.generateNicknames(ctx, cands); err != nil {
		return rep, err
	}
	for start := 0; start < len(cands); start += opts.BatchSize {
		batch := cands[start:min(start+opts.BatchSize, len(cands))]
		n, err := im.store(ctx, actor, batch, &rep)
		rep.Created += n
		if err != nil {
			return rep, fmt.Errorf("after %d users stored: %w", rep.Created, err)
		}
		if opts.Progress != nil {
			opts.Progress(start+len(batch), len(cands))
		}
	}
	return rep, nil
}

func countLines(ps []ImportProblem) int {
	lines := map[int]bool{}
	for _, p := range ps {
		lines[p.Line] = true
	}
	return len(lines)
}

// check validates each line on its own and against the lines before it.
func (im *Importer) check(rows []ImportRow, invite bool, rep *ImportReport) []candidate {
	emailLine := map[string]int{}
	nickLine := map[string]int{}
	var out []candidate
	for _, r := range rows {
		bad := false
		problem := func(field, reason string) {
			rep.Problems = append(rep.Problems, ImportProblem{Line: r.Line, Field: field, Reason: reason})
			bad = true
		}
		fields := func(err error) {
			var ve *domain.ValidationError
			if errors.As(err, &ve) {
				for _, f := range ve.Fields {
					rep.Problems = append(rep.Problems, ImportProblem{Line: r.Line, Field: f.Field, Invalid: &f})
					bad = true
				}
			}
		}
		var email string
		if strings.TrimSpace(r.Email) == "" {
			problem("email", "required")
		} else {
			var err error
			email, err = domain.NormalizeEmail(r.Email)
			fields(err)
			if err == nil {
				if first, dup := emailLine[email]; dup {
					problem("email", "the same email as line "+strconv.Itoa(first))
				} else {
					emailLine[email] = r.Line
				}
			}
		}
		if r.Nickname != "" {
			err := domain.ValidateNickname(r.Nickname)
			fields(err)
			if n := strings.ToLower(r.Nickname); err == nil {
				if first, dup := nickLine[n]; dup {
					problem("nickname", "the same nickname as line "+strconv.Itoa(first))
				} else {
					nickLine[n] = r.Line
				}
			}
		}
		fields(domain.Profile{FirstName: r.FirstName, LastName: r.LastName, Bio: r.Bio}.Validate())
		role := domain.RoleAuthenticated
		if r.Role != "" {
			parsed, err := domain.ParseRole(strings.ToUpper(strings.TrimSpace(r.Role)))
			switch {
			case err != nil:
				problem("role", "want AUTHENTICATED, MANAGER or ADMIN, got "+strconv.Quote(r.Role))
			case parsed == domain.RoleAnonymous:
				problem("role", "imported accounts are verified, so AUTHENTICATED, MANAGER or ADMIN; ANONYMOUS is an unverified sign-up")
			default:
				role = parsed
			}
		}
		if r.PasswordHash == "" {
			if !invite {
				problem("password_hash", "required, unless the import invites (--invite) the accounts without one")
			}
		} else {
			if err := im.hashes.ValidateHash(r.PasswordHash); err != nil {
				problem("password_hash", strings.TrimSuffix(err.Error(), ": "+domain.ErrInvalid.Error()))
			}
		}
		if !bad {
			out = append(out, candidate{row: r, email: email, role: role})
		}
	}
	return out
}

// checkStored drops the lines whose email has an account (reported as
// skipped) and reports the given nicknames that another account has.
func (im *Importer) checkStored(ctx context.Context, cands []candidate, rep *ImportReport) ([]candidate, error) {
	emails := make([]string, len(cands))
	for i, c := range cands {
		emails[i] = c.email
	}
	taken, err := im.users.TakenEmails(ctx, emails)
	if err != nil {
		return nil, err
	}
	var fresh []candidate
	var nicks []string
	for _, c := range cands {
		if taken[c.email] {
			rep.Existing = append(rep.Existing, ImportSkip{Line: c.row.Line, Email: c.email})
			continue
		}
		fresh = append(fresh, c)
		if c.row.Nickname != "" {
			nicks = append(nicks, c.row.Nickname)
		}
	}
	takenNicks, err := im.users.TakenNicknames(ctx, nicks)
	if err != nil {
		return nil, err
	}
	for _, c := range fresh {
		if c.row.Nickname != "" && takenNicks[strings.ToLower(c.row.Nickname)] {
			rep.Problems = append(rep.Problems, ImportProblem{Line: c.row.Line, Field: "nickname", Reason: "another account has this nickname"})
		}
	}
	sortProblems(rep.Problems)
	return fresh, nil
}

// sortProblems orders problems by line, keeping each line's in order.
func sortProblems(ps []ImportProblem) {
	for i := 1; i < len(ps); i++ { // insertion sort: nearly sorted already
		for j := i; j > 0 && ps[j].Line < ps[j-1].Line; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}

// generateNicknames gives every line without a nickname one that neither
// another line nor a stored account has.
func (im *Importer) generateNicknames(ctx context.Context, cands []candidate) error {
	used := map[string]bool{}
	var todo []int
	for i, c := range cands {
		if c.row.Nickname != "" {
			used[strings.ToLower(c.row.Nickname)] = true
		} else {
			todo = append(todo, i)
		}
	}
	for round := 0; len(todo) > 0; round++ {
		if round == maxNicknameRounds {
			return domain.ErrNicknameExhausted
		}
		names := make([]string, len(todo))
		for j, i := range todo {
			n := domain.GenerateNickname(im.intn)
			for used[n] {
				n = domain.GenerateNickname(im.intn)
			}
			used[n] = true
			cands[i].row.Nickname, cands[i].generated = n, true
			names[j] = n
		}
		taken, err := im.users.TakenNicknames(ctx, names)
		if err != nil {
			return err
		}
		var again []int
		for _, i := range todo {
			if taken[cands[i].row.Nickname] {
				again = append(again, i)
			}
		}
		todo = again
	}
	return nil
}

// store creates one batch in one transaction. When a sign-up took one of
// its emails or nicknames since the checks, the batch is checked again:
// a taken email is skipped, a taken generated nickname replaced, and it is
// tried once more. It returns the number of users stored.
func (im *Importer) store(ctx context.Context, actor domain.Actor, batch []candidate, rep *ImportReport) (int, error) {
	for try := 1; ; try++ {
		users := make([]*domain.User, 0, len(batch))
		now := im.clock.Now()
		for _, c := range batch {
			u, err := domain.NewUser(domain.NewUserParams{
				ID: im.ids.NewID(), Email: c.email, Nickname: c.row.Nickname, PasswordHash: c.row.PasswordHash,
				Profile: domain.Profile{FirstName: c.row.FirstName, LastName: c.row.LastName, Bio: c.row.Bio},
				Role:    c.role, Now: now,
			})
			if err != nil { // checked already: a bug
				return 0, fmt.Errorf("line %d: %w", c.row.Line, err)
			}
			if c.row.PasswordHash == "" {
				// Its owner sets a password with the link, which also
				// verifies the address.
				if err := im.invite(ctx, actor, u); err != nil {
					return 0, err
				}
			} else {
				u.MarkEmailVerified(now)
				u.Record(domain.AuditEvent{Type: domain.EventUserCreated, ActorID: actor.ID, TargetID: u.ID(), At: now,
					Detail: "imported, role " + c.role.String()})
			}
			users = append(users, u)
		}
		err := im.users.CreateUsers(ctx, users)
		if err == nil {
			return len(users), nil
		}
		if try == 3 || (!errors.Is(err, domain.ErrEmailTaken) && !errors.Is(err, domain.ErrNicknameTaken)) {
			return 0, err
		}
		var skipped []ImportSkip
		batch, skipped, err = im.recheck(ctx, batch)
		if err != nil {
			return 0, err
		}
		rep.Existing = append(rep.Existing, skipped...)
		if len(batch) == 0 {
			return 0, nil
		}
	}
}

// recheck drops the lines of batch whose email is now taken and replaces
// the generated nicknames now taken; a given nickname now taken is an error.
func (im *Importer) recheck(ctx context.Context, batch []candidate) ([]candidate, []ImportSkip, error) {
	emails := make([]string, len(batch))
	for i, c := range batch {
		emails[i] = c.email
	}
	taken, err := im.users.TakenEmails(ctx, emails)
	if err != nil {
		return nil, nil, err
	}
	var keep []candidate
	var skipped []ImportSkip
	var nicks []string
	for _, c := range batch {
		if taken[c.email] {
			skipped = append(skipped, ImportSkip{Line: c.row.Line, Email: c.email})
			continue
		}
		keep = append(keep, c)
		nicks = append(nicks, c.row.Nickname)
	}
	takenNicks, err := im.users.TakenNicknames(ctx, nicks)
	if err != nil {
		return nil, nil, err
	}
	for i, c := range keep {
		if !takenNicks[strings.ToLower(c.row.Nickname)] {
			continue
		}
		if !c.generated {
			return nil, nil, fmt.Errorf("line %d: another account took the nickname %q meanwhile: %w", c.row.Line, c.row.Nickname, domain.ErrNicknameTaken)
		}
		keep[i].row.Nickname = domain.GenerateNickname(im.intn)
	}
	return keep, skipped, nil
}
