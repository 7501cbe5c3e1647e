// Package argon2hash hashes passwords with argon2id, bounding how many
// hashes run at once: each takes HASH_MEMORY_KIB of memory, so an unbounded
// login flood would exhaust memory long before the CPU. Callers beyond the
// bound wait in a short queue; when the queue is full, or a caller has
// waited too long, the hasher sheds the load with domain.ErrUnavailable
// (503 and Retry-After at the HTTP edge) rather than letting requests pile
// up behind it until every one of them times out.
package argon2hash

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

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

// Defaults of the wait queue.
const (
	// DefaultWaitingPerSlot: with no MaxWaiting option, 64 callers per
	// running hash may wait: at 40 ms a hash (the defaults on one core),
	// under three seconds of queue, inside a client's patience.
	DefaultWaitingPerSlot = 64
	// DefaultMaxWait is how long a caller waits for a slot before giving up.
	DefaultMaxWait = 10 * time.Second
)

// Errors of an overloaded hasher; both are domain.ErrUnavailable.
var (
	ErrQueueFull   = fmt.Errorf("too many password hashes waiting: %w", domain.ErrUnavailable)
	ErrWaitTimeout = fmt.Errorf("waited too long for a password hashing slot: %w", domain.ErrUnavailable)
)

// Hasher implements ports.PasswordHasher.
type Hasher struct {
	params     *argon2id.Params
	slots      chan struct{}
	maxWaiting int64
	maxWait    time.Duration
	waiting    atomic.Int64

	// proc runs the hashes in a worker process; nil: in this one.
	proc *process

	// The argon2id calls, replaced by tests to observe the bound.
	create      func(password string, p *argon2id.Params) (string, error)
	check       func(password, hash string) (bool, *argon2id.Params, error)
	checkBcrypt func(password, hash string) (bool, error)
}

var (
	_ ports.PasswordHasher = (*Hasher)(nil)
	_ ports.HashValidator  = (*Hasher)(nil)
)

// Option tunes a Hasher.
type Option func(*options)

type options struct {
	maxWaiting    int
	maxWaitingSet bool
	maxWait       time.Duration
	process       string
	nice          int
}

// WithMaxWaiting sets how many callers may wait for a slot (0: none; a
// caller that finds every slot busy fails at once). The default is
// DefaultWaitingPerSlot times the concurrency.
func WithMaxWaiting(n int) Option {
	return func(o *options) { o.maxWaiting, o.maxWaitingSet = n, true }
}

// WithMaxWait sets how long a caller waits for a slot (default DefaultMaxWait).
func WithMaxWait(d time.Duration) Option {
	return func(o *options) { o.maxWait = d }
}

// New returns a hasher running at most concurrency hashes at once.
func New(p Params, concurrency int, opts ...Option) (*Hasher, error) {
	o := options{maxWait: DefaultMaxWait}
	for _, opt := range opts {
		opt(&o)
	}
	if !o.maxWaitingSet {
		o.maxWaiting = DefaultWaitingPerSlot * concurrency
	}
	switch {
	case p.MemoryKiB < 8*uint32(p.Parallelism) || p.MemoryKiB < 1024:
		return nil, fmt.Errorf("argon2id memory must be at least 1024 KiB, got %d", p.MemoryKiB)
	case p.Iterations < 1:
		return nil, errors.New("argon2id iterations must be at least 1")
	case p.Parallelism < 1:
		return nil, errors.New("argon2id parallelism must be at least 1")
	case concurrency < 1:
		return nil, errors.New("hash concurrency must be at least 1")
	case o.maxWaiting < 0:
		return nil, fmt.Errorf("hash queue length must be at least 0, got %d", o.maxWaiting)
	case o.maxWait <= 0:
		return nil, fmt.Errorf("hash queue wait must be positive, got %s", o.maxWait)
	}
	h := &Hasher{
		params: &argon2id.Params{
			Memory: p.MemoryKiB, Iterations: p.Iterations, Parallelism: p.Parallelism,
			SaltLength: 16, KeyLength: 32,
		},
		slots:       make(chan struct{}, concurrency),
		maxWaiting:  int64(o.maxWaiting),
		maxWait:     o.maxWait,
		create:      argon2id.CreateHash,
		check:       argon2id.CheckHash,
		checkBcrypt: checkBcrypt,
	}
	if o.process != "" {
		h.useProcess(newProcess(o.process, o.nice))
	}
	return h, nil
}

// useProcess sends the hashes to proc.
func (h *Hasher) useProcess(proc *process) {
	h.proc = proc
	h.create = func(password string, p *argon2id.Params) (string, error) {
		resp, err := proc.call(workerRequest{Op: opCreate, Password: password, Params: *p})
		return resp.Hash, err
	}
	h.check = func(password, hash string) (bool, *argon2id.Params, error) {
		resp, err := proc.call(workerRequest{Op: opCheck, Password: password, Hash: hash})
		if err != nil {
			return false, nil, err
		}
		return resp.OK, &resp.Params, nil
	}
	h.checkBcrypt = func(password, hash string) (bool, error) {
		resp, err := proc.call(workerRequest{Op: opCheckBcrypt, Password: password, Hash: hash})
		return resp.OK, err
	}
}

// closeWait is how long Close lets a worker process finish before it is
// killed with the service.
const closeWait = 5 * time.Second

// Close stops the worker process, if any, once the hashes it runs are
// done; the hasher must not be used afterwards.
func (h *Hasher) Close() {
	if h.proc != nil {
		h.proc.close(closeWait)
	}
}

// acquire takes a slot: at once if one is free, else after waiting in a
// queue of at most maxWaiting callers, for at most maxWait. Waiters are
// served in order: a freed slot goes to the longest blocked sender.
func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("waiting for a hashing slot: %w: %w", domain.ErrUnavailable, err)
	}
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	if h.waiting.Add(1) > h.maxWaiting {
		h.waiting.Add(-1)
		return ErrQueueFull
	}
	defer h.waiting.Add(-1)
	timer := time.NewTimer(h.maxWait)
	defer timer.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrWaitTimeout
	case <-ctx.Done():
		return fmt.Errorf("waiting for a hashing slot: %w: %w", domain.ErrUnavailable, ctx.Err())
	}
}

func (h *Hasher) release() { <-h.slots }

// Load reports how many hashes are running now and how many callers wait
// for a slot, for metrics read at scrape time. The two are read one after
// the other, not as one snapshot; waiting never exceeds the queue's bound
// (a caller refused by a full queue is counted for an instant otherwise).
func (h *Hasher) Load() (running, waiting int) {
	return len(h.slots), int(min(max(h.waiting.Load(), 0), h.maxWaiting))
}

// Hash implements ports.PasswordHasher.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	defer h.release()
	return h.create(password, h.params)
}

// Verify implements ports.PasswordHasher. A hash that cannot be decoded is
// an error, not a mismatch: it means the stored data is corrupt. A bcrypt
// hash (imported from another system, see ValidateHash) is checked as
// bcrypt and always reported stale, so the caller replaces it with argon2id.
func (h *Hasher) Verify(ctx context.Context, password, hash string) (ok, stale bool, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	defer h.release()
	if isBcrypt(hash) {
		ok, err = h.checkBcrypt(password, hash)
		if err != nil {
			return false, false, fmt.Errorf("verify password: %w", err)
		}
		return ok, true, nil
	}
	var p *argon2id.Params
	ok, p, err = h.check(password, hash)
	if err != nil {
		return false, false, fmt.Errorf("verify password: %w", err)
	}
	stale = p.Memory != h.params.Memory || p.Iterations != h.params.Iterations ||
		p.Parallelism != h.params.Parallelism || p.KeyLength != h.params.KeyLength
	return ok, stale, nil
}
