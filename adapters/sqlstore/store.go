// Package sqlstore persists users, their outbox, sessions and audit log in
// PostgreSQL or SQLite. The SQL is written once; what differs between the two
// (placeholders, locking, time encoding, error codes) lives in postgres.go
// and sqlite.go.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Store is a ports.UserStore, ports.Outbox, ports.SessionStore,
// ports.AuditLog, ports.WebhookStore and ports.WebhookOutbox backed by a
// SQL database.
type Store struct {
	db *sqlx.DB
	d  dialect
	// instance names this Store in its change notifications, so that it
	// can skip its own (see WatchUserChanges).
	instance string
	// stmts are the prepared statements of the frequent reads, by query.
	stmts sync.Map // string -> *sqlx.Stmt
	// preparing holds the queries being prepared for transactions (see txStmt).
	preparing sync.Map // string -> bool
	// recent are the users this store wrote last (PostgreSQL; see recentRows).
	recent recentRows
}

// prepared returns query (already rebound) prepared once for the pool:
// the database parses and plans it once per connection instead of once
// per request, which is most of the cost of a one-row read.
func (s *Store) prepared(ctx context.Context, query string) (*sqlx.Stmt, error) {
	if st, ok := s.stmts.Load(query); ok {
		return st.(*sqlx.Stmt), nil
	}
	st, err := s.db.PreparexContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return prev.(*sqlx.Stmt), nil
	}
	return st, nil
}

// txStmt is query (already rebound) as a statement of tx, prepared when
// it has been: the connection under tx then parses it once, and plans it
// once it has seen it a few times, instead of on every account change
// (measured on PostgreSQL: planning the user's read and write took most of
// a login's time in the database). A query not yet prepared runs as it is
// and is prepared soon, outside tx: preparing needs a connection of the
// pool, and one waited for while tx holds its own could wait for ever
// (SQLite has one; a PostgreSQL pool can be all in transactions).
func (s *Store) txStmt(ctx context.Context, tx *sqlx.Tx, query string) *sqlx.Stmt {
	if st, ok := s.stmts.Load(query); ok {
		return tx.StmtxContext(ctx, st)
	}
	if _, busy := s.preparing.LoadOrStore(query, true); !busy {
		go func() {
			// Not the transaction's to cancel: it may end first.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), prepareTimeout)
			defer cancel()
			if _, err := s.prepared(ctx, query); err != nil {
				s.preparing.Delete(query) // tried again by a later use
			}
		}()
	}
	return nil
}

// prepareTimeout bounds the wait for a connection to prepare a statement on.
const prepareTimeout = 10 * time.Second

// execTx runs query (already rebound) in tx, prepared if it has been.
func (s *Store) execTx(ctx context.Context, tx *sqlx.Tx, query string, args ...any) (sql.Result, error) {
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// getTx is a one-row read of tx, prepared if it has been.
func (s *Store) getTx(ctx context.Context, tx *sqlx.Tx, dest any, query string, args ...any) error {
	if st := s.txStmt(ctx, tx, query); st != nil {
		return st.GetContext(ctx, dest, args...)
	}
	return tx.GetContext(ctx, dest, query, args...)
}

// getPrepared runs a one-row read with a prepared statement.
func (s *Store) getPrepared(ctx context.Context, dest any, query string, args ...any) error {
	st, err := s.prepared(ctx, query)
	if err != nil {
		return err
	}
	return st.GetContext(ctx, dest, args...)
}

var _ ports.UserStore = (*Store)(nil)

// pingTimeout bounds how long Open waits for a server to answer; a local
// SQLite file gets longer, since only a busy machine can make it slow.
const (
	pingTimeout       = 5 * time.Second
	sqlitePingTimeout = 30 * time.Second
)

// Open connects to the database named by databaseURL: postgres://… or
// postgresql://… for PostgreSQL; sqlite:PATH, sqlite::memory: or
// sqlite:file:… for SQLite (a file's parent directory is created). It checks
// the database answers, failing with domain.ErrUnavailable when it cannot be
// reached, but applies no migrations: call Migrate.
func Open(ctx context.Context, databaseURL string) (*Store, error) {
	return OpenWith(ctx, databaseURL, Options{})
}

// Options adjust how Open connects.
type Options struct {
	// WrapConnector, when set, wraps the driver's connector: tests count
	// the statements and transactions the store sends through it.
	WrapConnector func(driver.Connector) driver.Connector
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	wrap := opts.WrapConnector
	if wrap == nil {
		wrap = func(c driver.Connector) driver.Connector { return c }
	}
	scheme, _, ok := strings.Cut(databaseURL, ":")
	if !ok {
		return nil, errors.New("sqlstore: malformed database URL: want postgres://…, postgresql://… or sqlite:PATH")
	}
	var (
		s   *Store
		err error
	)
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		s, err = openPostgres(databaseURL, wrap)
	case "sqlite":
		s, err = openSQLite(databaseURL, wrap)
	default:
		return nil, fmt.Errorf("sqlstore: unsupported database URL scheme %q: want postgres://…, postgresql://… or sqlite:PATH", scheme)
	}
	if err != nil {
		return nil, err
	}
	s.instance = rand.Text()
	timeout := pingTimeout
	if _, local := s.d.(sqliteDialect); local {
		timeout = sqlitePingTimeout
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := s.db.PingContext(pctx); err != nil {
		s.db.Close()
		if s.d.unavailable(err) || errors.Is(err, context.DeadlineExceeded) {
			return nil, fmt.Errorf("sqlstore: cannot connect to %s: %w: %w", s.d.describe(), domain.ErrUnavailable, oneLine(err))
		}
		return nil, fmt.Errorf("sqlstore: cannot connect to %s: %w", s.d.describe(), oneLine(err))
	}
	if err := s.d.checkConn(pctx, s.db); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("sqlstore: %s: %w", s.d.describe(), oneLine(err))
	}
	return s, nil
}

// Close closes the prepared statements and the connection pool.
func (s *Store) Close() error {
	s.stmts.Range(func(_, st any) bool {
		_ = st.(*sqlx.Stmt).Close()
		return true
	})
	return s.db.Close()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return s.wrap("ping", err)
	}
	return nil
}

// userColumns are the users table's columns, in the order of values().
var userColumns = []string{
	"id", "email", "nickname", "password_hash",
	"first_name", "last_name", "bio", "preferred_language",
	"profile_picture_url", "linkedin_profile_url", "github_profile_url",
	"role", "is_professional", "professional_status_updated_at",
	"email_verified", "verification_token_hash", "verification_expires_at",
	"reset_token_hash", "reset_expires_at",
	"failed_login_attempts", "logins_in_flight", "login_lease_until",
	"is_locked", "locked_at", "last_login_at",
	"created_at", "updated_at", "token_version",
	"password_version", "lock_reason", "unlock_token_hash", "unlock_expires_at",
	"totp_secret", "totp_pending_secret", "totp_last_step", "recovery_code_hashes",
	"mfa_token_hash", "mfa_token_expires_at",
	"pending_email", "email_change_token_hash", "email_change_expires_at", "email_change_session_id",
	"invitation_pending", "invitation_token_hash", "invitation_expires_at",
}

// The store's SQL, with ? placeholders rebound per dialect.
var (
	selectUser = "SELECT " + strings.Join(userColumns, ", ") + " FROM users"
	insertUser = "INSERT INTO users (" + strings.Join(userColumns, ", ") +
		") VALUES (" + strings.TrimSuffix(strings.Repeat("?, ", len(userColumns)), ", ") + ")"
	updateUser = "UPDATE users SET " + strings.Join(userColumns[1:], " = ?, ") + " = ? WHERE id = ?"
)

const (
	// selectAdminIDs: the ADMINs who can log in (an invitation not accepted
	// does not count toward the last ADMIN).
	selectAdminIDs = "SELECT id FROM users WHERE role = 'ADMIN' AND NOT invitation_pending ORDER BY id"
	deleteUser     = "DELETE FROM users WHERE id = ?"
	emailOwner     = "SELECT id FROM users WHERE email = ? AND id <> ?"
	nicknameOwner  = "SELECT id FROM users WHERE lower(nickname) = lower(?) AND id <> ?"
)

// tokenColumns are the columns that hold each purpose's token hash.
var tokenColumns = map[ports.TokenPurpose]string{
	ports.TokenPasswordReset: "reset_token_hash",
	ports.TokenUnlock:        "unlock_token_hash",
	ports.TokenMFA:           "mfa_token_hash",
	ports.TokenEmailChange:   "email_change_token_hash",
	ports.TokenInvitation:    "invitation_token_hash",
}

// Names from the migrations that tell one duplicate from another.
const (
	pkeyName       = "users_pkey"
	emailKey       = "users_email_key"
	nicknameKey    = "users_nickname_lower_key"
	resetKey       = "users_reset_token_hash_key"
	unlockKey      = "users_unlock_token_hash_key"
	mfaKey         = "users_mfa_token_hash_key"
	emailChangeKey = "users_email_change_token_hash_key"
	invitationKey  = "users_invitation_token_hash_key"
)

// userRow is one row of users.
type userRow struct {
	ID                          string         `db:"id"`
	Email                       string         `db:"email"`
	Nickname                    string         `db:"nickname"`
	PasswordHash                string         `db:"password_hash"`
	FirstName                   sql.NullString `db:"first_name"`
	LastName                    sql.NullString `db:"last_name"`
	Bio                         sql.NullString `db:"bio"`
	PreferredLanguage           sql.NullString `db:"preferred_language"`
	ProfilePictureURL           sql.NullString `db:"profile_picture_url"`
	LinkedInProfileURL          sql.NullString `db:"linkedin_profile_url"`
	GitHubProfileURL            sql.NullString `db:"github_profile_url"`
	Role                        string         `db:"role"`
	IsProfessional              bool           `db:"is_professional"`
	ProfessionalStatusUpdatedAt dbTime         `db:"professional_status_updated_at"`
	EmailVerified               bool           `db:"email_verified"`
	VerificationTokenHash       sql.NullString `db:"verification_token_hash"`
	VerificationExpiresAt       dbTime         `db:"verification_expires_at"`
	ResetTokenHash              sql.NullString `db:"reset_token_hash"`
	ResetExpiresAt              dbTime         `db:"reset_expires_at"`
	FailedLoginAttempts         int            `db:"failed_login_attempts"`
	LoginsInFlight              int            `db:"logins_in_flight"`
	LoginLeaseUntil             dbTime         `db:"login_lease_until"`
	IsLocked                    bool           `db:"is_locked"`
	LockedAt                    dbTime         `db:"locked_at"`
	LastLoginAt                 dbTime         `db:"last_login_at"`
	CreatedAt                   dbTime         `db:"created_at"`
	UpdatedAt                   dbTime         `db:"updated_at"`
	TokenVersion                int            `db:"token_version"`
	PasswordVersion             int            `db:"password_version"`
	LockReason                  sql.NullString `db:"lock_reason"`
	UnlockTokenHash             sql.NullString `db:"unlock_token_hash"`
	UnlockExpiresAt             dbTime         `db:"unlock_expires_at"`
	TOTPSecret                  sql.NullString `db:"totp_secret"`
	TOTPPendingSecret           sql.NullString `db:"totp_pending_secret"`
	TOTPLastStep                int64          `db:"totp_last_step"`
	RecoveryCodeHashes          sql.NullString `db:"recovery_code_hashes"`
	MFATokenHash                sql.NullString `db:"mfa_token_hash"`
	MFATokenExpiresAt           dbTime         `db:"mfa_token_expires_at"`
	PendingEmail                sql.NullString `db:"pending_email"`
	EmailChangeTokenHash        sql.NullString `db:"email_change_token_hash"`
	EmailChangeExpiresAt        dbTime         `db:"email_change_expires_at"`
	EmailChangeSessionID        sql.NullString `db:"email_change_session_id"`
	InvitationPending           bool           `db:"invitation_pending"`
	InvitationTokenHash         sql.NullString `db:"invitation_token_hash"`
	InvitationExpiresAt         dbTime         `db:"invitation_expires_at"`
}

func (r *userRow) user() (*domain.User, error) {
	role, err := domain.ParseRole(r.Role)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: user %s has an unknown role %q", r.ID, r.Role)
	}
	recovery, err := parseRecoveryCodes(r.RecoveryCodeHashes.String)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: user %s: %w", r.ID, err)
	}
	return domain.RehydrateUser(domain.UserState{
		ID:           r.ID,
		Email:        r.Email,
		Nickname:     r.Nickname,
		PasswordHash: r.PasswordHash,
		Profile: domain.Profile{
			FirstName:          r.FirstName.String,
			LastName:           r.LastName.String,
			Bio:                r.Bio.String,
			PreferredLanguage:  r.PreferredLanguage.String,
			ProfilePictureURL:  r.ProfilePictureURL.String,
			LinkedInProfileURL: r.LinkedInProfileURL.String,
			GitHubProfileURL:   r.GitHubProfileURL.String,
		},
		Role:                        role,
		IsProfessional:              r.IsProfessional,
		ProfessionalStatusUpdatedAt: r.ProfessionalStatusUpdatedAt.Time,
		EmailVerified:               r.EmailVerified,
		VerificationTokenHash:       r.VerificationTokenHash.String,
		VerificationExpiresAt:       r.VerificationExpiresAt.Time,
		ResetTokenHash:              r.ResetTokenHash.String,
		ResetExpiresAt:              r.ResetExpiresAt.Time,
		FailedLoginAttempts:         r.FailedLoginAttempts,
		LoginsInFlight:              r.LoginsInFlight,
		LoginLeaseUntil:             r.LoginLeaseUntil.Time,
		IsLocked:                    r.IsLocked,
		LockedAt:                    r.LockedAt.Time,
		LastLoginAt:                 r.LastLoginAt.Time,
		CreatedAt:                   r.CreatedAt.Time,
		UpdatedAt:                   r.UpdatedAt.Time,
		TokenVersion:                r.TokenVersion,
		PasswordVersion:             r.PasswordVersion,
		LockReason:                  domain.LockReason(r.LockReason.String),
		UnlockTokenHash:             r.UnlockTokenHash.String,
		UnlockExpiresAt:             r.UnlockExpiresAt.Time,
		TOTPSecret:                  r.TOTPSecret.String,
		TOTPPendingSecret:           r.TOTPPendingSecret.String,
		TOTPLastStep:                r.TOTPLastStep,
		RecoveryCodeHashes:          recovery,
		MFATokenHash:                r.MFATokenHash.String,
		MFATokenExpiresAt:           r.MFATokenExpiresAt.Time,
		PendingEmail:                r.PendingEmail.String,
		EmailChangeTokenHash:        r.EmailChangeTokenHash.String,
		EmailChangeExpiresAt:        r.EmailChangeExpiresAt.Time,
		EmailChangeSessionID:        r.EmailChangeSessionID.String,
		InvitationPending:           r.InvitationPending,
		InvitationTokenHash:         r.InvitationTokenHash.String,
		InvitationExpiresAt:         r.InvitationExpiresAt.Time,
	}), nil
}

// recoverySep separates the recovery code hashes in their column.
const recoverySep = ","

// formatRecoveryCodes keeps the hashes in one column, in their order, a
// used code's place empty; none at all is the empty string (NULL).
func formatRecoveryCodes(r domain.RecoveryCodes) string {
	if r.Remaining() == 0 {
		return ""
	}
	return strings.Join(r[:], recoverySep)
}

// parseRecoveryCodes reads what formatRecoveryCodes wrote.
func parseRecoveryCodes(s string) (domain.RecoveryCodes, error) {
	var r domain.RecoveryCodes
	if s == "" {
		return r, nil
	}
	parts := strings.Split(s, recoverySep)
	if len(parts) != len(r) {
		return r, fmt.Errorf("recovery_code_hashes holds %d codes, want %d", len(parts), len(r))
	}
	copy(r[:], parts)
	return r, nil
}

// values returns st's column values in userColumns order. Empty strings and
// zero optional times are stored as NULL.
func (s *Store) values(id string, st domain.UserState) []any {
	str := func(v string) any {
		if v == "" {
			return nil
		}
		return v
	}
	opt := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return s.d.timeValue(t)
	}
	p := st.Profile
	return []any{
		id, st.Email, st.Nickname, st.PasswordHash,
		str(p.FirstName), str(p.LastName), str(p.Bio), str(p.PreferredLanguage),
		str(p.ProfilePictureURL), str(p.LinkedInProfileURL), str(p.GitHubProfileURL),
		st.Role.String(), st.IsProfessional, opt(st.ProfessionalStatusUpdatedAt),
		st.EmailVerified, str(st.VerificationTokenHash), opt(st.VerificationExpiresAt),
		str(st.ResetTokenHash), opt(st.ResetExpiresAt),
		st.FailedLoginAttempts, st.LoginsInFlight, opt(st.LoginLeaseUntil),
		st.IsLocked, opt(st.LockedAt), opt(st.LastLoginAt),
		s.d.timeValue(st.CreatedAt), s.d.timeValue(st.UpdatedAt), st.TokenVersion,
		st.PasswordVersion, str(string(st.LockReason)), str(st.UnlockTokenHash), opt(st.UnlockExpiresAt),
		str(st.TOTPSecret), str(st.TOTPPendingSecret), st.TOTPLastStep, str(formatRecoveryCodes(st.RecoveryCodeHashes)),
		str(st.MFATokenHash), opt(st.MFATokenExpiresAt),
		str(st.PendingEmail), str(st.EmailChangeTokenHash), opt(st.EmailChangeExpiresAt), str(st.EmailChangeSessionID),
		st.InvitationPending, str(st.InvitationTokenHash), opt(st.InvitationExpiresAt),
	}
}

// CreateUser implements ports.UserStore. What u recorded (messages, audit
// events, session changes) is saved in the same transaction; if it fails
// they stay recorded on u.
func (s *Store) CreateUser(ctx context.Context, u *domain.User) (err error) {
	st := u.State()
	id, ok := domain.CanonicalUserID(st.ID)
	if !ok {
		return fmt.Errorf("sqlstore: create user: id %q is not a UUID: %w", st.ID, domain.ErrInvalid)
	}
	rec := takeRecorded(u)
	defer func() {
		if err != nil {
			rec.restore(u)
		}
	}()
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return s.wrap("create user", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.q(insertUser), s.values(id, st)...); err != nil {
		return s.writeError(ctx, tx, "create user", err, id, st)
	}
	if err := s.countUsers(ctx, tx, "create user", 1); err != nil {
		return err
	}
	if err := s.saveRecorded(ctx, tx, "create user", id, rec, st.UpdatedAt); err != nil {
		return err
	}
	return s.wrap("create user", tx.Commit())
}

// endsSessions reports whether changes end a session (opening one changes
// nothing another instance may have cached).
func endsSessions(changes []domain.SessionChange) bool {
	for _, c := range changes {
		if c.Kind != domain.OpenSession {
			return true
		}
	}
	return false
}

// countUsers moves the user count (migration 00011) by delta, in the
// transaction that inserts or deletes them: the unfiltered total of a list
// page is then one row, exact, at any size.
func (s *Store) countUsers(ctx context.Context, tx *sqlx.Tx, op string, delta int) error {
	_, err := tx.ExecContext(ctx, "UPDATE user_count SET n = n + "+strconv.Itoa(delta))
	return s.wrap(op, err)
}

// recorded is what a user change recorded on the user, to be saved with it.
type recorded struct {
	msgs     []domain.Message
	events   []domain.AuditEvent
	sessions []domain.SessionChange
	hooks    []domain.WebhookEvent
}

func takeRecorded(u *domain.User) recorded {
	return recorded{msgs: u.TakeMessages(), events: u.TakeEvents(), sessions: u.TakeSessionChanges(),
		hooks: u.TakeWebhookEvents()}
}

// restore records rec on u again, after saving it failed. Recording the
// audit events again records the webhook events they owe.
func (rec recorded) restore(u *domain.User) {
	for _, m := range rec.msgs {
		u.Queue(m)
	}
	for _, e := range rec.events {
		u.Record(e)
	}
	u.RecordSessionChanges(rec.sessions)
}

// saveRecorded saves, in tx, what a change of user id recorded; at is the
// time of the change (for messages and events that carry none).
func (s *Store) saveRecorded(ctx context.Context, tx *sqlx.Tx, op, id string, rec recorded, at time.Time) error {
	if err := s.saveWebhookEvents(ctx, tx, op, rec.hooks); err != nil {
		return err
	}
	return s.saveRows(ctx, s.inTx(tx), op, id, rec, at)
}

// saveRows saves with w what a change of user id recorded, but for its
// webhook events (whose fan-out reads the endpoints in the transaction).
func (s *Store) saveRows(ctx context.Context, w rowWriter, op, id string, rec recorded, at time.Time) error {
	if err := s.saveMessages(ctx, w, op, rec.msgs, at); err != nil {
		return err
	}
	if err := s.saveEvents(ctx, w, op, rec.events, at); err != nil {
		return err
	}
	return s.saveSessionChanges(ctx, w, op, id, rec.sessions)
}

// UserByID implements ports.UserStore.
func (s *Store) UserByID(ctx context.Context, id string) (*domain.User, error) {
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return nil, domain.ErrUserNotFound
	}
	return s.getUser(ctx, s.db, "user by id", selectUser+" WHERE id = ?", id)
}

// UserByEmail implements ports.UserStore.
func (s *Store) UserByEmail(ctx context.Context, email string) (*domain.User, error) {
	return s.getUser(ctx, s.db, "user by email", selectUser+" WHERE email = ?", email)
}

func (s *Store) getUser(ctx context.Context, q sqlx.QueryerContext, op, query string, args ...any) (*domain.User, error) {
	var r userRow
	var err error
	switch q := q.(type) {
	case *sqlx.DB:
		err = s.getPrepared(ctx, &r, s.q(query), args...)
	case *sqlx.Tx:
		err = s.getTx(ctx, q, &r, s.q(query), args...)
	default:
		err = sqlx.GetContext(ctx, q, &r, s.q(query), args...)
	}
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, domain.ErrUserNotFound
		}
		return nil, s.wrap(op, err)
	}
	return r.user()
}

// UpdateUser implements ports.UserStore.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(u *domain.User) error) error {
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return domain.ErrUserNotFound
	}
	return s.update(ctx, "id", id, false, func(u *domain.User, _ int) error { return fn(u) })
}

// UpdateUserByEmail implements ports.UserStore.
func (s *Store) UpdateUserByEmail(ctx context.Context, email string, fn func(u *domain.User) error) error {
	return s.update(ctx, "email", email, false, func(u *domain.User, _ int) error { return fn(u) })
}

// UpdateUserCountingAdmins implements ports.UserStore.
func (s *Store) UpdateUserCountingAdmins(ctx context.Context, id string, fn func(u *domain.User, admins int) error) error {
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return domain.ErrUserNotFound
	}
	return s.update(ctx, "id", id, true, fn)
}

// update runs fn on the user whose column key (id or email, both unique)
// is value and saves the user and what fn recorded, together. A user fn
// left as it was is not written again: only what fn recorded is.
//
// On PostgreSQL a change is first tried as one statement without a
// transaction (updateInOneStatement), which writes only if the row is
// still the one fn saw: a login then costs four round trips instead of
// twelve. A change that counts ADMINs or owes webhook events, or that
// lost the race to another change of the user a few times in a row, is
// made under the row's lock (updateLocked), where it cannot lose.
func (s *Store) update(ctx context.Context, key, value string, countAdmins bool, fn func(u *domain.User, admins int) error) error {
	if s.oneStatementChanges() && !countAdmins {
		for i := range optimisticAttempts {
			err := s.updateInOneStatement(ctx, key, value, i == 0, func(u *domain.User) error { return fn(u, 0) })
			if errors.Is(err, errNeedsLock) {
				break
			}
			if !errors.Is(err, errChangedMeanwhile) {
				return err
			}
		}
	}
	return s.updateLocked(ctx, key, value, countAdmins, fn)
}

// updateLocked is update in a transaction that reads the user with a
// lock on its row.
func (s *Store) updateLocked(ctx context.Context, key, value string, countAdmins bool, fn func(u *domain.User, admins int) error) error {
	return s.retry(func() error {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return s.wrap("update user", err)
		}
		defer tx.Rollback()
		admins := 0
		if countAdmins {
			if admins, err = s.lockAdmins(ctx, tx); err != nil {
				return err
			}
		}
		u, err := s.getUser(ctx, tx, "update user", selectUser+" WHERE "+key+" = ?"+s.d.forUpdate(), value)
		if err != nil {
			return err
		}
		before := u.State()
		if err := fn(u, admins); err != nil {
			return err
		}
		// u is this attempt's own copy: a retry rehydrates a new one and
		// fn records everything again.
		id, rec, st := before.ID, takeRecorded(u), u.State()
		if st != before || opensSessions(rec.sessions) { // see updateInOneStatement
			args := append(s.values(id, st)[1:], id)
			if _, err := s.execTx(ctx, tx, s.q(updateUser), args...); err != nil {
				return s.writeError(ctx, tx, "update user", err, id, st)
			}
		}
		if err := s.saveRecorded(ctx, tx, "update user", id, rec, st.UpdatedAt); err != nil {
			return err
		}
		if !domain.OnlyLoginBookkeeping(before, st) || endsSessions(rec.sessions) {
			if err := s.d.notifyUserChanged(ctx, tx, id+" "+s.instance); err != nil {
				return s.wrap("update user", err)
			}
		}
		// What is kept of the user is stale now: forgotten, it costs no
		// lost race.
		s.recent.forget(id, before.Email, st.Email)
		return s.wrap("update user", tx.Commit())
	})
}

// DeleteUser implements ports.UserStore. The user's sessions and their
// refresh tokens go with it (ON DELETE CASCADE). Audit events check records
// on the user, and the webhook events they owe, are saved in the same transaction (one without a time gets the
// user's UpdatedAt, its last change: checks should set At); messages it
// queues are not saved.
func (s *Store) DeleteUser(ctx context.Context, id string, check func(u *domain.User, admins int) error) error {
	id, ok := domain.CanonicalUserID(id)
	if !ok {
		return domain.ErrUserNotFound
	}
	return s.retry(func() error {
		tx, err := s.db.BeginTxx(ctx, nil)
		if err != nil {
			return s.wrap("delete user", err)
		}
		defer tx.Rollback()
		admins, err := s.lockAdmins(ctx, tx)
		if err != nil {
			return err
		}
		u, err := s.getUser(ctx, tx, "delete user", selectUser+" WHERE id = ?"+s.d.forUpdate(), id)
		if err != nil {
			return err
		}
		if err := check(u, admins); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(deleteUser), id); err != nil {
			return s.wrap("delete user", err)
		}
		s.recent.forget(id, u.Email())
		if err := s.countUsers(ctx, tx, "delete user", -1); err != nil {
			return err
		}
		if err := s.saveEvents(ctx, s.inTx(tx), "delete user", u.TakeEvents(), u.State().UpdatedAt); err != nil {
			return err
		}
		if err := s.saveWebhookEvents(ctx, tx, "delete user", u.TakeWebhookEvents()); err != nil {
			return err
		}
		if err := s.d.notifyUserChanged(ctx, tx, id+" "+s.instance); err != nil {
			return s.wrap("delete user", err)
		}
		return s.wrap("delete user", tx.Commit())
	})
}

// UserByToken implements ports.UserStore. It does not look at the token's
// expiry: the domain does.
func (s *Store) UserByToken(ctx context.Context, purpose ports.TokenPurpose, hash string) (*domain.User, error) {
	col, ok := tokenColumns[purpose]
	if !ok || hash == "" {
		return nil, domain.ErrUserNotFound
	}
	return s.getUser(ctx, s.db, "user by token", selectUser+" WHERE "+col+" = ?", hash)
}

// maxAttempts bounds how often a transaction the database aborted to break
// a deadlock is run again.
const maxAttempts = 3

// retry runs attempt again when the database aborted it to resolve a
// deadlock. One can happen on PostgreSQL when a user became ADMIN between two
// transactions' snapshots: each then locks that row in a different order.
// Closures may therefore run more than once; they have no side effects.
func (s *Store) retry(attempt func() error) error {
	for i := 1; ; i++ {
		err := attempt()
		if err == nil || i == maxAttempts || !s.d.retryable(err) {
			return err
		}
	}
}

// lockAdmins locks every ADMIN row and returns how many there are. Rows are
// locked in id order and before the target row, so callers take locks in one
// order (but see retry for the exception).
func (s *Store) lockAdmins(ctx context.Context, tx *sqlx.Tx) (int, error) {
	var ids []string
	if err := tx.SelectContext(ctx, &ids, s.q(selectAdminIDs+s.d.forUpdate())); err != nil {
		return 0, s.wrap("count admins", err)
	}
	return len(ids), nil
}

// writeError translates a failed INSERT or UPDATE of user id with state st;
// tx, the transaction the write failed in, may be nil on PostgreSQL, which
// names the violated index itself.
func (s *Store) writeError(ctx context.Context, tx *sqlx.Tx, op string, err error, id string, st domain.UserState) error {
	index, ok := s.d.uniqueViolation(err)
	if !ok {
		return s.wrap(op, err)
	}
	switch index {
	case emailKey:
		return domain.ErrEmailTaken
	case nicknameKey:
		return domain.ErrNicknameTaken
	case resetKey, unlockKey, mfaKey, emailChangeKey, invitationKey:
		return fmt.Errorf("sqlstore: %s: link token hash already in use: %w", op, domain.ErrConflict)
	case pkeyName:
		return fmt.Errorf("sqlstore: %s: id %s already exists: %w", op, id, domain.ErrConflict)
	}
	if tx == nil {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, domain.ErrConflict, err)
	}
	// SQLite names no index in its error code: ask the table which value is
	// taken. The failed statement was undone but the transaction lives on.
	var owner []string
	if e := tx.SelectContext(ctx, &owner, s.q(emailOwner), st.Email, id); e == nil && len(owner) > 0 {
		return domain.ErrEmailTaken
	}
	if e := tx.SelectContext(ctx, &owner, s.q(nicknameOwner), st.Nickname, id); e == nil && len(owner) > 0 {
		return domain.ErrNicknameTaken
	}
	return fmt.Errorf("sqlstore: %s: %w: %w", op, domain.ErrConflict, err)
}

// wrap names the operation and marks outages as domain.ErrUnavailable.
// Context errors stay visible to errors.Is.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if s.d.unavailable(err) {
		return fmt.Errorf("sqlstore: %s: %w: %w", op, domain.ErrUnavailable, err)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// q rebinds ? placeholders for the dialect.
func (s *Store) q(query string) string { return sqlx.Rebind(s.d.bindType(), query) }

// oneLine keeps an error message on a single line for startup reports.
func oneLine(err error) error {
	msg := err.Error()
	if !strings.ContainsAny(msg, "\r\n") {
		return err
	}
	return errors.New(strings.Join(strings.Fields(msg), " "))
}

// dbTime scans a time stored by either dialect: NULL is the zero time.
type dbTime struct{ time.Time }

func (t *dbTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v.UTC()
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", v)
	}
	return nil
}

func (t *dbTime) parse(s string) error {
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("sqlstore: stored time %q: %w", s, err)
	}
	t.Time = v.UTC()
	return nil
}

// updateExisting runs update (args, then id, as its parameters) and reports
// whether the row id exists: an update that changes nothing is either a
// missing row or one the update leaves as it is, which exists (with id as
// its only parameter, counting rows) tells apart, in the same transaction.
func (s *Store) updateExisting(ctx context.Context, op, update, exists, id string, args ...any) (bool, error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		return false, s.wrap(op, err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, s.q(update), append(args, id)...)
	if err != nil {
		return false, s.wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, s.wrap(op, err)
	}
	if n == 0 {
		var found int
		if err := tx.GetContext(ctx, &found, s.q(exists), id); err != nil {
			return false, s.wrap(op, err)
		}
		if found == 0 {
			return false, nil
		}
	}
	return true, s.wrap(op, tx.Commit())
}
