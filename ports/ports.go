// Package ports declares the interfaces the use cases depend on. Adapters
// implement them; app consumes them.
package ports

import (
	"context"
	"strings"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// UserStore persists users. Every implementation passes porttest.UserStore.
//
// A user change is one read-modify-write of the user, and whatever it owes
// is recorded on the user and saved in its transaction: messages
// (User.Queue, the outbox), audit events (User.Record) with the webhook
// events they owe (User.TakeWebhookEvents; see ports/webhook.go) and
// session changes (User.OpenSession, EndSession, EndOtherSessions). A store
// that fails to save any of them saves none.
type UserStore interface {
	// CreateUser stores a new user with what it recorded, in one
	// transaction. Fails with domain.ErrEmailTaken or
	// domain.ErrNicknameTaken (nicknames are unique case-insensitively).
	CreateUser(ctx context.Context, u *domain.User) error
	// UserByID fails with domain.ErrUserNotFound.
	UserByID(ctx context.Context, id string) (*domain.User, error)
	// UserByEmail takes a normalised email; fails with domain.ErrUserNotFound.
	UserByEmail(ctx context.Context, email string) (*domain.User, error)
	// UserByToken finds the user with a pending link token of that purpose
	// and hash, whether or not it expired (the domain decides that). Fails
	// with domain.ErrUserNotFound.
	UserByToken(ctx context.Context, purpose TokenPurpose, hash string) (*domain.User, error)
	// ListUsers returns the users q selects, in q.Sort order, skipping those
	// at or before q.After and then q.Offset more, at most q.Limit (none when
	// q.Limit is 0). total is the number of users the filters select
	// (ignoring After, Offset and Limit) when q.WithTotal, else 0.
	// q.After.ID must be a user id and q.Sort.By a known key: a store may
	// fail with domain.ErrInvalid otherwise. No other errors but storage and
	// context ones.
	ListUsers(ctx context.Context, q UserQuery) (users []*domain.User, total int, err error)
	// UpdateUser loads the user, runs fn and saves the result with what fn
	// recorded on it, atomically: no other update of that user interleaves.
	// If fn fails nothing is saved and its error is returned. fn may run
	// more than once (a store retries a transaction the database aborted),
	// so it must have no side effects beyond the user. Fails with
	// domain.ErrUserNotFound and, when the new email or nickname is taken,
	// with the domain's duplicate errors.
	UpdateUser(ctx context.Context, id string, fn func(u *domain.User) error) error
	// UpdateUserByEmail is UpdateUser for the user with a normalised email.
	UpdateUserByEmail(ctx context.Context, email string, fn func(u *domain.User) error) error
	// UpdateUserCountingAdmins is UpdateUser for changes that may take a user
	// out of the ADMIN role: fn also gets the number of ADMINs (invitations
	// not accepted yet are not counted), and no other such change commits
	// between the count and the save.
	UpdateUserCountingAdmins(ctx context.Context, id string, fn func(u *domain.User, admins int) error) error
	// DeleteUser runs check on the user and the number of ADMINs, as
	// UpdateUserCountingAdmins does, and deletes the user if check passes,
	// with the user's sessions; audit events check records are saved in the
	// same transaction. Fails with domain.ErrUserNotFound.
	DeleteUser(ctx context.Context, id string, check func(u *domain.User, admins int) error) error
}

// TokenPurpose names the kind of single-use link token a user holds; each
// is stored hashed on the user.
type TokenPurpose int

// The link tokens found by hash.
const (
	TokenPasswordReset TokenPurpose = iota + 1
	TokenUnlock
	// TokenMFA is the mfa_token of a login waiting for its second factor.
	TokenMFA
	TokenEmailChange // the link of a pending email change (to the new address)
	TokenInvitation  // the link of an invitation
)

// UserQuery selects, orders and pages users for UserStore.ListUsers. The
// zero value selects every user, oldest first, and returns none.
type UserQuery struct {
	// Prefix, when set, keeps users whose email or lower-cased nickname
	// starts with it; the caller lower-cases it. Text is compared by code
	// point (byte order), the same in every store.
	Prefix         string
	Role           domain.Role // the zero Role: any
	IsProfessional *bool       // nil: either
	EmailVerified  *bool
	IsLocked       *bool
	// LocksLapsedAt, when set, is now less LOCKOUT_DURATION: a lock by
	// failed logins from then or before has lapsed (domain.UserState.LockLapsed),
	// and IsLocked counts it as unlocked.
	LocksLapsedAt time.Time
	Sort          UserSort
	// After, when set, keeps users strictly after this position in Sort
	// order (keyset paging).
	After     *UserCursor
	Offset    int
	Limit     int
	WithTotal bool // count the users the filters select
}

// UserSortKey is what users are ordered by; ties are broken by id, in the
// same direction.
type UserSortKey int

// The sort keys. Email and nickname order is by code point of the email
// and of the lower-cased nickname.
const (
	SortByCreatedAt UserSortKey = iota
	SortByEmail
	SortByNickname
)

// UserSort is an order of users. The zero value is oldest first.
type UserSort struct {
	By   UserSortKey
	Desc bool
}

// UserCursor is a position in a UserSort order: the sort key and id of a
// user (the last one of a page).
type UserCursor struct {
	CreatedAt time.Time // the key of SortByCreatedAt
	Text      string    // the key of SortByEmail (the email) and SortByNickname (lower-cased)
	ID        string
}

// CursorAt returns the position of u in an order by key.
func CursorAt(u *domain.User, key UserSortKey) UserCursor {
	c := UserCursor{ID: u.ID()}
	switch key {
	case SortByEmail:
		c.Text = u.Email()
	case SortByNickname:
		c.Text = strings.ToLower(u.Nickname())
	default:
		c.CreatedAt = u.State().CreatedAt
	}
	return c
}

// PasswordHasher hashes and checks passwords. Both calls may wait for a
// hashing slot; they fail with domain.ErrUnavailable if ctx ends first.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	// Verify reports whether password matches hash, and whether the hash was
	// made with other parameters than the current ones (rehash it).
	Verify(ctx context.Context, password, hash string) (ok, stale bool, err error)
}

// AccessClaims is what an access token asserts.
type AccessClaims struct {
	UserID       string
	Role         domain.Role
	TokenVersion int
	SessionID    string // the session (login) the token belongs to
	// AuthMethods are how the user proved who they are (the amr claim,
	// RFC 8176: "pwd", "otp"); a token issued without any says ["pwd"].
	AuthMethods []string
}

// TokenIssuer issues access tokens.
type TokenIssuer interface {
	// Issue returns a signed token and its lifetime.
	Issue(c AccessClaims, now time.Time) (token string, ttl time.Duration, err error)
}

// TokenVerifier checks access tokens.
type TokenVerifier interface {
	// Verify fails with domain.ErrInvalidToken for any token it did not
	// issue, or that expired or was tampered with.
	Verify(token string, now time.Time) (AccessClaims, error)
}

// Mailer delivers a message.
type Mailer interface {
	Send(ctx context.Context, m domain.Message) error
}

// Clock tells the time.
type Clock interface {
	Now() time.Time
}

// IDs makes new user ids (UUIDs).
type IDs interface {
	NewID() string
}

// Secrets makes random, unguessable tokens (for email links).
type Secrets interface {
	NewSecret() (string, error)
}

// SecretBox encrypts secrets kept at rest (second-factor secrets, webhook
// signing secrets) under SECRETS_KEY. label binds a ciphertext to its
// purpose and owner (e.g. "totp:"+userID): a ciphertext moved to another
// row or purpose fails to open.
type SecretBox interface {
	// Seal encrypts plaintext; each call gives a different ciphertext.
	Seal(plaintext []byte, label string) (string, error)
	// Open decrypts what Seal made with the same label; anything else fails.
	Open(sealed, label string) ([]byte, error)
}

// OutboxMessage is a queued message with its delivery state.
type OutboxMessage struct {
	Message   domain.Message // Message.ID is the outbox row's id
	Attempts  int            // delivery attempts so far, the current one included
	CreatedAt time.Time
}

// Outbox is the delivery side of the messages the UserStore saved. Every
// implementation passes porttest.Outbox.
type Outbox interface {
	// ClaimMessages leases up to limit pending messages that are due (next
	// attempt at or before now), oldest first, and counts an attempt on each.
	// No other claimer gets a leased message until the lease ends or the
	// message is marked, so concurrent dispatchers never send one twice.
	ClaimMessages(ctx context.Context, now time.Time, limit int, lease time.Duration) ([]OutboxMessage, error)
	// MarkSent records a delivery and erases the content (links hold secrets).
	MarkSent(ctx context.Context, id string, now time.Time) error
	// MarkRetry schedules the next attempt at next.
	MarkRetry(ctx context.Context, id string, next time.Time, lastError string) error
	// MarkFailed gives the message up; it is never claimed again.
	MarkFailed(ctx context.Context, id string, now time.Time, lastError string) error
}

// SessionStore reads login sessions and rotates their refresh tokens, which
// are stored only as hashes. Sessions are opened and ended by user changes
// (UserStore); rotation is the one session change that touches no user.
// Every implementation passes porttest.SessionStore.
type SessionStore interface {
	// SessionWithUser returns a session and its user, read together (one
	// query, for authenticating a request). Fails with
	// domain.ErrSessionNotFound.
	SessionWithUser(ctx context.Context, id string) (domain.Session, *domain.User, error)
	// RotateRefreshToken exchanges the refresh token with oldHash for one
	// with newHash, atomically: the old token can never be used again.
	// renew gets the token's session and its user as they are and returns
	// the session as it should be saved (renewed), or an error, which
	// leaves everything as it was and is returned. If the old token was
	// already rotated, the whole session is revoked (at now) and the error
	// is domain.ErrRefreshTokenReused. An unknown token fails with
	// domain.ErrInvalidRefreshToken. It returns the renewed session and
	// its user.
	RotateRefreshToken(ctx context.Context, oldHash, newHash string, now time.Time,
		renew func(s domain.Session, u *domain.User) (domain.Session, error)) (domain.Session, *domain.User, error)
	// SessionByRefreshHash finds the session of a refresh token, rotated or
	// not. Fails with domain.ErrSessionNotFound.
	SessionByRefreshHash(ctx context.Context, hash string) (domain.Session, error)
	// ListSessions returns the sessions of a user that are active at now
	// and opened at the user's current token version, newest first.
	ListSessions(ctx context.Context, userID string, now time.Time) ([]domain.Session, error)
}

// AuditFilter selects audit events; zero fields select everything.
type AuditFilter struct {
	ActorID  string
	TargetID string
	Type     domain.AuditEventType
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	Before   string    // cursor: only events older than the event with this id
	Limit    int
}

// AuditLog keeps security events. Events that belong to a user change are
// saved by the UserStore in its transaction; RecordEvent is for the others.
// Every implementation passes porttest.AuditLog.
type AuditLog interface {
	RecordEvent(ctx context.Context, e domain.AuditEvent) error
	// ListEvents returns matching events, newest first, at most f.Limit.
	ListEvents(ctx context.Context, f AuditFilter) ([]domain.AuditEvent, error)
}

// UserImporter adds many users at once (the command line's import). Every
// implementation passes porttest.UserImporter.
type UserImporter interface {
	// TakenEmails returns those of emails (normalised) that belong to a
	// stored user.
	TakenEmails(ctx context.Context, emails []string) (map[string]bool, error)
	// TakenNicknames returns those of nicknames that a stored user has,
	// compared case-insensitively; the keys are lower-cased.
	TakenNicknames(ctx context.Context, nicknames []string) (map[string]bool, error)
	// CreateUsers stores new users, with the messages queued and the audit
	// events recorded on each (and the webhook events those owe), in one
	// transaction: all of them or none.
	// Fails with domain.ErrEmailTaken or domain.ErrNicknameTaken when an
	// email or nickname is taken, by a stored user or by another of users;
	// then nothing is stored and the messages and events stay on the users.
	CreateUsers(ctx context.Context, users []*domain.User) error
}

// HashValidator tells whether a password hash from elsewhere (an import)
// is one the PasswordHasher can verify.
type HashValidator interface {
	// ValidateHash fails with domain.ErrInvalid, saying why, unless hash is
	// a well-formed hash of a kind Verify checks, with sane parameters.
	ValidateHash(hash string) error
}

// UserCounts is how many users there are, in all and in each state, for
// the console's dashboard.
type UserCounts struct {
	Total             int
	ByRole            map[domain.Role]int // every role, zero included
	Verified          int                 // email verified
	Locked            int                 // is_locked, whatever the reason, unless lapsed
	MFAEnabled        int                 // a second factor in force (not merely pending)
	Professional      int
	InvitationPending int // invited, not accepted yet
}

// DayCount is a number of things that happened on one UTC day, named by
// its midnight (UTC).
type DayCount struct {
	Day   time.Time
	Count int
}

// EventDayCount is how many audit events of one type happened on one UTC
// day, named by its midnight (UTC).
type EventDayCount struct {
	Day   time.Time
	Type  domain.AuditEventType
	Count int
}

// UserStats answers the console's dashboard with counts the store makes
// itself, without listing users or events. Every implementation passes
// porttest.UserStats. No errors but storage and context ones.
type UserStats interface {
	// CountUsers counts every user. A lock by failed logins taken at or
	// before locksLapsedAt (now less LOCKOUT_DURATION) has lapsed
	// (domain.UserState.LockLapsedBy) and is not counted as locked; the
	// zero time: none lapses.
	CountUsers(ctx context.Context, locksLapsedAt time.Time) (UserCounts, error)
	// CountSignupsByDay counts the users created at or after since, per UTC
	// day, in day order; days without any are left out.
	CountSignupsByDay(ctx context.Context, since time.Time) ([]DayCount, error)
	// CountEventsByDay counts the audit events of the given types that
	// happened at or after since, per UTC day and type, in day then type
	// order; pairs without any are left out, and no types count nothing.
	CountEventsByDay(ctx context.Context, since time.Time, types []domain.AuditEventType) ([]EventDayCount, error)
}
