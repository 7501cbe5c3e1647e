package jwttoken

import (
	"slices"
	"sync"
	"time"

	"github.com/usersvc/usersvc/ports"
)

// A client sends the same access token with every request until it
// expires, and verifying it again each time (base64, JSON into reflection,
// the signature) was a fifth of the CPU of GET /users/me. So the tokens
// verified are remembered, by their exact text, with the claims and the
// times they are valid between: a token seen before costs a map lookup.
// Nothing is skipped but the repetition of a pure function of the text
// and the keys, which never change for a Tokens: the times are checked
// on every use, and whether the session and user still stand is the
// caller's business as before. A token that fails is not remembered.

// verifiedMax bounds each generation: tokens in use by more clients than
// that are verified again once a generation, nothing worse.
const verifiedMax = 4096

// verifiedToken is what a verified token's text stands for.
type verifiedToken struct {
	claims ports.AccessClaims
	// from and until bound the instants it verifies at: [from, until).
	from, until time.Time
}

// verifiedTokens remembers the tokens verified lately, in two
// generations: when the current one is full it becomes the previous one
// and the one before is dropped, so memory stays bounded without keeping
// an order of use.
type verifiedTokens struct {
	mu        sync.RWMutex
	cur, prev map[string]verifiedToken
}

// get returns the claims of token if it was verified and is valid at now.
func (v *verifiedTokens) get(token string, now time.Time) (ports.AccessClaims, bool) {
	v.mu.RLock()
	e, ok := v.cur[token]
	if !ok {
		e, ok = v.prev[token]
	}
	v.mu.RUnlock()
	if !ok || now.Before(e.from) || !now.Before(e.until) {
		return ports.AccessClaims{}, false
	}
	c := e.claims
	c.AuthMethods = slices.Clone(c.AuthMethods) // the caller's to keep
	return c, true
}

// put remembers a token verified.
func (v *verifiedTokens) put(token string, e verifiedToken) {
	e.claims.AuthMethods = slices.Clone(e.claims.AuthMethods)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.cur == nil || len(v.cur) >= verifiedMax {
		v.prev, v.cur = v.cur, make(map[string]verifiedToken, verifiedMax)
	}
	v.cur[token] = e
}
