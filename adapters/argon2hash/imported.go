package argon2hash

import (
	"errors"
	"fmt"
	"strings"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/bcrypt"

	"github.com/usersvc/usersvc/domain"
)

// Bounds of the hashes ValidateHash accepts. An imported hash is checked at
// its owner's next login with its own parameters, so they must be ones this
// service could run: those of HASH_MEMORY_KIB, HASH_ITERATIONS and
// HASH_PARALLELISM for argon2id, and a bcrypt cost that takes seconds, not
// days, to check.
const (
	maxImportMemoryKiB  = 4 << 20
	maxImportIterations = 100
	maxBcryptCost       = 18
	minSaltLen          = 8
	minKeyLen           = 16
)

// bcryptAlphabet is bcrypt's base64 alphabet.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// bcryptPrefixes are the bcrypt versions ValidateHash and Verify know.
var bcryptPrefixes = []string{"$2a$", "$2b$", "$2y$"}

func isBcrypt(hash string) bool {
	for _, p := range bcryptPrefixes {
		if strings.HasPrefix(hash, p) {
			return true
		}
	}
	return false
}

// checkBcrypt compares password with a bcrypt hash. bcrypt reads at most 72
// bytes of a password, and refuses longer ones; such a password never
// matches rather than matching on its first 72 bytes.
func checkBcrypt(password, hash string) (bool, error) {
	if len(password) > 72 {
		return false, nil
	}
	err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(password))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
		return false, nil
	}
	return false, err
}

// ValidateHash implements ports.HashValidator: an argon2id hash in the PHC
// string format ($argon2id$v=19$m=…,t=…,p=…$salt$key, base64 without
// padding) or a bcrypt hash ($2a$, $2b$ or $2y$, cost 4 to 18, 60
// characters). Anything else fails with an error wrapping domain.ErrInvalid
// that says why (for the operator who imports: not an API answer).
func (h *Hasher) ValidateHash(hash string) error {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), domain.ErrInvalid)
	}
	switch {
	case isBcrypt(hash):
		if len(hash) != 60 {
			return invalid("a bcrypt hash has 60 characters, this one %d", len(hash))
		}
		if strings.Trim(hash[7:], bcryptAlphabet) != "" || hash[6] != '$' {
			return invalid("not a bcrypt hash: want $2b$NN$ and 53 characters of [./A-Za-z0-9]")
		}
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return invalid("not a bcrypt hash: %v", err)
		}
		if cost > maxBcryptCost {
			return invalid("bcrypt cost %d is over %d", cost, maxBcryptCost)
		}
		return nil
	case strings.HasPrefix(hash, "$argon2id$"):
		p, salt, key, err := argon2id.DecodeHash(hash)
		if err != nil {
			return invalid("not an argon2id PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$key): %v", err)
		}
		switch {
		case p.Memory < 8*uint32(p.Parallelism) || p.Memory > maxImportMemoryKiB:
			return invalid("argon2id memory m=%d KiB is outside %d..%d", p.Memory, 8*uint32(p.Parallelism), maxImportMemoryKiB)
		case p.Iterations < 1 || p.Iterations > maxImportIterations:
			return invalid("argon2id iterations t=%d are outside 1..%d", p.Iterations, maxImportIterations)
		case p.Parallelism < 1:
			return invalid("argon2id parallelism p=%d is below 1", p.Parallelism)
		case len(salt) < minSaltLen:
			return invalid("argon2id salt of %d bytes is under %d", len(salt), minSaltLen)
		case len(key) < minKeyLen:
			return invalid("argon2id key of %d bytes is under %d", len(key), minKeyLen)
		}
		return nil
	case strings.HasPrefix(hash, "$argon2"):
		return invalid("only argon2id hashes are accepted, not %s", strings.SplitN(hash[1:], "$", 2)[0])
	}
	return invalid("want an argon2id PHC string ($argon2id$…) or a bcrypt hash ($2a$, $2b$ or $2y$)")
}
