// Package ports declares the interfaces the use cases depend on. Adapters
// implement them; app consumes them.
package ports

import (
	"context"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// UserStore persists users. Every implementation passes porttest.UserStore.
type UserStore interface {
	// CreateUser stores a new user and the messages queued on it, in one
	// transaction. Fails with domain.ErrEmailTaken or
	// domain.ErrNicknameTaken (nicknames are unique case-insensitively).
	CreateUser(ctx context.Context, u *domain.User) error
	// UserByID fails with domain.ErrUserNotFound.
	UserByID(ctx context.Context, id string) (*domain.User, error)
	// UserByEmail takes a normalised email; fails with domain.ErrUserNotFound.
	UserByEmail(ctx context.Context, email string) (*domain.User, error)
	// ListUsers returns a page ordered by creation time, then id, and the
	// total number of users.
	ListUsers(ctx context.Context, offset, limit int) ([]*domain.User, int, error)
	// UpdateUser loads the user, runs fn and saves the result atomically: no
	// other update of that user interleaves. If fn fails nothing is saved
	// and its error is returned. fn may run more than once (a store retries
	// a transaction the database aborted), so it must have no side effects
	// beyond the user; messages it queues on the user are saved to the
	// outbox in the same transaction. Fails with domain.ErrUserNotFound and, when
	// the new email or nickname is taken, with the domain's duplicate errors.
	UpdateUser(ctx context.Context, id string, fn func(u *domain.User) error) error
	// UpdateUserCountingAdmins is UpdateUser for changes that may take a user
	// out of the ADMIN role: fn also gets the number of ADMINs, and no other
	// such change commits between the count and the save.
	UpdateUserCountingAdmins(ctx context.Context, id string, fn func(u *domain.User, admins int) error) error
	// DeleteUser runs check on the user and the number of ADMINs, as
	// UpdateUserCountingAdmins does, and deletes the user if check passes.
	// Fails with domain.ErrUserNotFound.
	DeleteUser(ctx context.Context, id string, check func(u *domain.User, admins int) error) error
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
