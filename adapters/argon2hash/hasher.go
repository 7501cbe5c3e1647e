// Package argon2hash hashes passwords with argon2id, bounding how many
// hashes run at once: each takes HASH_MEMORY_KIB of memory, so an unbounded
// login flood would exhaust memory long before the CPU.
package argon2hash

import (
	"context"
	"errors"
	"fmt"

	"github.com/alexedwards/argon2id"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Params are the argon2id cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// OWASP's recommended minimum for argon2id: m=19 MiB, t=2, p=1.
var DefaultParams = Params{MemoryKiB: 19456, Iterations: 2, Parallelism: 1}

// Hasher implements ports.PasswordHasher.
type Hasher struct {
	params *argon2id.Params
	slots  chan struct{}
}

var _ ports.PasswordHasher = (*Hasher)(nil)

// New returns a hasher running at most concurrency hashes at once.
func New(p Params, concurrency int) (*Hasher, error) {
	switch {
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB < 1024:
		return nil, fmt.Errorf("argon2id memory must be at least 1024 KiB, got %d", p.MemoryKiB)
	case p.Iterations < 1:
		return nil, errors.New("argon2id iterations must be at least 1")
	case p.Parallelism < 1:
		return nil, errors.New("argon2id parallelism must be at least 1")
	case concurrency < 1:
		return nil, errors.New("hash concurrency must be at least 1")
	}
	return &Hasher{
		params: &argon2id.Params{
			Memory: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism,
			SaltLength: 16, KeyLength: 32,
		},
		slots: make(chan struct{}, concurrency),
	}, nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a hashing slot: %w: %w", domain.ErrUnavailable, ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }

// Hash implements ports.PasswordHasher.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return argon2id.CreateHash(password, h.params)
}

// Verify implements ports.PasswordHasher. A hash that cannot be decoded is
// an error, not a mismatch: it means the stored data is corrupt.
func (h *Hasher) Verify(ctx context.Context, password, hash string) (ok, stale bool, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	ok, p, err := argon2id.CheckHash(password, hash)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	stale = p.Memory != h.params.Memory || p.Iterations != h.params.Iterations ||
		p.Parallelism != h.params.Parallelism || p.KeyLength != h.params.KeyLength
	return ok, stale, nil
}
