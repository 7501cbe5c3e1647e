package domain_test

import (
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// rfcKey is the SHA-1 seed of RFC 4226 appendix D and RFC 6238 appendix B.
var rfcKey = []byte("12345678901234567890")

// TestHOTPVectors checks RFC 4226 appendix D: six-digit codes of counters 0 to 9.
func TestHOTPVectors(t *testing.T) {
	t.Parallel()
	want := []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"}
	for counter, code := range want {
		if got := domain.HOTP(rfcKey, uint64(counter), 6); got != code {
			t.Errorf("HOTP(counter %d) = %s, want %s", counter, got, code)
		}
	}
}

// TestTOTPVectors checks RFC 6238 appendix B, SHA-1 rows: eight-digit codes
// at each time, and the six-digit code (what we use) is their last six.
func TestTOTPVectors(t *testing.T) {
	t.Parallel()
	for _, v := range []struct {
		unix int64
		step int64
		code string
	}{
		{59, 0x1, "94287082"},
		{1111111109, 0x23523EC, "07081804"},
		{1111111111, 0x23523ED, "14050471"},
		{1234567890, 0x273EF07, "89005924"},
		{2000000000, 0x3F940AA, "69279037"},
		{20000000000, 0x27BC86AA, "65353130"},
	} {
		at := time.Unix(v.unix, 0).UTC()
		if got := domain.TOTPStep(at); got != v.step {
			t.Errorf("TOTPStep(%d) = %#x, want %#x", v.unix, got, v.step)
		}
		if got := domain.HOTP(rfcKey, uint64(v.step), 8); got != v.code {
			t.Errorf("8-digit code at %d = %s, want %s", v.unix, got, v.code)
		}
		if got := domain.TOTPCode(rfcKey, at); got != v.code[2:] {
			t.Errorf("TOTPCode at %d = %s, want %s", v.unix, got, v.code[2:])
		}
	}
}

func TestRecoveryCodeNormalisation(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"abcd-efgh-ijkl-mn23":   "abcdefghijklmn23",
		"ABCD EFGH IJKL MN23":   "abcdefghijklmn23",
		"abcdefghijklmn23":      "abcdefghijklmn23",
		" a-b-c-d-efghijklmn23": "abcdefghijklmn23",
	} {
		got, ok := domain.NormalizeRecoveryCode(in)
		if !ok || got != want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "123456", "abcd-efgh-ijkl-mn2", "abcd-efgh-ijkl-mn234", "abcd-efgh-ijkl-mn18", "abcd_efgh_ijkl_mn23", "ábcd-efgh-ijkl-mn23"} {
		if got, ok := domain.NormalizeRecoveryCode(in); ok {
			t.Errorf("NormalizeRecoveryCode(%q) = %q, want refused", in, got)
		}
	}
}

func TestSessionAuthMethods(t *testing.T) {
	t.Parallel()
	if got := strings.Join(domain.Session{}.AuthMethods(), " "); got != "pwd" {
		t.Errorf("a password session says %q", got)
	}
	if got := strings.Join(domain.Session{SecondFactor: true}.AuthMethods(), " "); got != "pwd otp" {
		t.Errorf("a second-factor session says %q", got)
	}
}
