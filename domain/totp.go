package domain

import (
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238's default, which every authenticator app implements; HMAC-SHA-1 is not broken by SHA-1 collisions
	"crypto/subtle"
	"encoding/binary"
	"strings"
	"time"
)

// Time-based one-time passwords (RFC 6238) with the parameters every
// authenticator app assumes when an otpauth URI names none: HMAC-SHA-1,
// six digits, 30-second steps. A dozen lines of the standard library do it
// (checked against the RFC's test vectors in totp_test.go), and the rules
// around a code (which steps count, replay) belong here with the user.
const (
	// TOTPDigits is the length of a code.
	TOTPDigits = 6
	// TOTPPeriod is the length of a time step.
	TOTPPeriod = 30 * time.Second
	// TOTPKeyLen is the size of a secret: 160 bits, RFC 4226's recommended
	// length for HMAC-SHA-1.
	TOTPKeyLen = 20
	// totpSkew is how many steps either side of the current one a code may
	// belong to: a clock a little off, or a code typed as its step ends.
	totpSkew = 1
)

// TOTPStep is the time step t falls in: whole periods since the Unix epoch.
func TOTPStep(t time.Time) int64 {
	return t.Unix() / int64(TOTPPeriod/time.Second)
}

// HOTP is the RFC 4226 one-time password of key at counter, digits long
// (1 to 9), left-padded with zeros.
func HOTP(key []byte, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	// Dynamic truncation (RFC 4226 section 5.3).
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	out := make([]byte, digits)
	for i := digits - 1; i >= 0; i-- {
		out[i] = byte('0' + bin%10)
		bin /= 10
	}
	return string(out)
}

// TOTPCode is the code of key at time t.
func TOTPCode(key []byte, t time.Time) string {
	return HOTP(key, uint64(max(TOTPStep(t), 0)), TOTPDigits) //nolint:gosec // clamped to 0 just above
}

// normalizeTOTPCode drops the spaces people type or paste in a code
// ("123 456") and reports whether what is left is TOTPDigits digits.
func normalizeTOTPCode(code string) (string, bool) {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != TOTPDigits {
		return "", false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return "", false
		}
	}
	return code, true
}

// matchTOTP finds the step, among the current one at now and totpSkew
// either side, whose code is code and which comes after last (the step of
// the last code accepted: a code is good once). Every candidate is
// computed and compared in constant time.
func matchTOTP(key []byte, code string, now time.Time, last int64) (step int64, ok bool) {
	code, valid := normalizeTOTPCode(code)
	if !valid || len(key) == 0 {
		return 0, false
	}
	cur := TOTPStep(now)
	for s := cur - totpSkew; s <= cur+totpSkew; s++ {
		if s < 0 {
			continue
		}
		same := subtle.ConstantTimeCompare([]byte(HOTP(key, uint64(s), TOTPDigits)), []byte(code)) == 1
		if same && s > last && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}
