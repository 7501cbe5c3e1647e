// Package system adapts the operating system's clock and randomness to the ports.
package system

import (
	"crypto/rand"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/ports"
)

// Clock is the wall clock.
type Clock struct{}

var _ ports.Clock = Clock{}

// Now implements ports.Clock. Microseconds are what the databases keep, so
// a user reads back exactly as it was written.
func (Clock) Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// IDs makes UUIDv7 ids: time-ordered, so new rows land at the end of the index.
type IDs struct{}

var _ ports.IDs = IDs{}

// NewID implements ports.IDs.
func (IDs) NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

// Secrets makes 256-bit random tokens.
type Secrets struct{}

var _ ports.Secrets = Secrets{}

// NewSecret implements ports.Secrets.
func (Secrets) NewSecret() (string, error) { return rand.Text() + rand.Text(), nil }
