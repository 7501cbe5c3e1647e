package secretbox_test

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/adapters/secretbox"
)

func newBox(t *testing.T) *secretbox.Box {
	t.Helper()
	key, err := secretbox.ParseKey(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	b, err := secretbox.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	b := newBox(t)
	secret := []byte("JBSWY3DPEHPK3PXP")
	one, err := b.Seal(secret, "totp:alice")
	if err != nil {
		t.Fatal(err)
	}
	two, _ := b.Seal(secret, "totp:alice")
	if one == two {
		t.Error("two seals of one secret are equal: the nonce is not random")
	}
	if strings.Contains(one, string(secret)) || strings.Contains(one, base64.StdEncoding.EncodeToString(secret)) {
		t.Error("the sealed value shows the secret")
	}
	got, err := b.Open(one, "totp:alice")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	// Another label (another user's row), another key, or any tampering fails.
	if _, err := b.Open(one, "totp:mallory"); err == nil {
		t.Error("opened under another label")
	}
	if _, err := newBox(t).Open(one, "totp:alice"); err == nil {
		t.Error("opened under another key")
	}
	raw := []byte(one)
	raw[len(raw)-2] ^= 1
	for _, bad := range []string{string(raw), "", "v1:", "v2:" + one[3:], one[:len(one)-4], "v1:!!!"} {
		if _, err := b.Open(bad, "totp:alice"); err == nil {
			t.Errorf("opened %q", bad)
		}
	}
}

func TestKeys(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"", "short", base64.StdEncoding.EncodeToString(make([]byte, 16)), "not base64 at all!"} {
		if _, err := secretbox.ParseKey(k); err == nil {
			t.Errorf("ParseKey(%q) accepted a key that is not 32 bytes of base64", k)
		}
	}
	raw := bytes.Repeat([]byte{0xfb}, 32)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		got, err := secretbox.ParseKey(" " + enc.EncodeToString(raw) + "\n")
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ParseKey of %v encoding = %x, %v", enc, got, err)
		}
	}
	if _, err := secretbox.New(make([]byte, 16)); err == nil {
		t.Error("New accepted a 16-byte key")
	}
}
