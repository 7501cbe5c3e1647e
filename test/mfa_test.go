package e2e_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1" //nolint:gosec // RFC 6238's HMAC-SHA-1, computed here as an authenticator app would
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	binenc "encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

// The second factor (PRODUCT.md 8.1) from the outside: the real binary on
// PostgreSQL, mail through Mailpit, and codes computed from the secret the
// way an authenticator app computes them.

// totpAt is an authenticator app: the RFC 6238 code of key at t (SHA-1, six
// digits, 30-second steps), written here from the RFC, not from our code.
func totpAt(key []byte, t time.Time) string {
	var msg [8]byte
	binenc.BigEndian.PutUint64(msg[:], uint64(t.Unix()/30)) //nolint:gosec // a time after 1970
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	return fmt.Sprintf("%06d", (binenc.BigEndian.Uint32(sum[off:off+4])&0x7fffffff)%1_000_000)
}

// amrClaim reads the amr of an access token.
func amrClaim(tb testing.TB, token string) []string {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("not a JWT: %q", token)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		tb.Fatal(err)
	}
	var c struct {
		AMR []string `json:"amr"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		tb.Fatal(err)
	}
	return c.AMR
}

// TestSecondFactorEndToEnd: a person turns the second factor on with an
// authenticator app, is emailed, and logs in with the password and a code.
func TestSecondFactorEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	m := startMailpit(t, 0)
	dbURL := sqlstoretest.NewPostgresURL(t)
	svc := startService(t, t.TempDir(), mailEnv(t, dbURL, m, 0))
	const email, password = "otp@example.com", "a long enough passphrase"

	c := newClient(svc.URL)
	u, err := c.register(ctx, email, password)
	mustOK(t, err)
	verify := m.waitFor(t, email, "Confirm your email", 15*time.Second)
	if status, err := c.get(ctx, mailLink.FindString(verify.Text)); err != nil || status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, err)
	}
	c.mustLogin(t, ctx, email, password)

	// Enrol: the secret and its otpauth URI, shown once.
	a := c.mustRaw(t, ctx, http.MethodPost, "/users/me/mfa/totp", map[string]string{"password": password}, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("enrol: %d %s", a.Status, a.Body)
	}
	var enrol struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
	}
	mustOK(t, json.Unmarshal([]byte(a.Body), &enrol))
	if want := "otpauth://totp/usersvc:" + email + "?secret=" + enrol.Secret + "&issuer=usersvc&algorithm=SHA1&digits=6&period=30"; enrol.URI != want {
		t.Errorf("otpauth_uri %s, want %s", enrol.URI, want)
	}
	// The app reads the secret from the URI, as from a QR code.
	parsed, err := url.Parse(enrol.URI)
	mustOK(t, err)
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(parsed.Query().Get("secret"))
	if err != nil || len(key) != 20 {
		t.Fatalf("secret of %d bytes, %v; want 160 bits", len(key), err)
	}

	// Confirm with the app's code: ten recovery codes, and an email.
	a = c.mustRaw(t, ctx, http.MethodPost, "/users/me/mfa/totp/confirm", map[string]string{"code": totpAt(key, time.Now())}, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("confirm: %d %s", a.Status, a.Body)
	}
	var confirmed struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	mustOK(t, json.Unmarshal([]byte(a.Body), &confirmed))
	if len(confirmed.RecoveryCodes) != 10 {
		t.Fatalf("%d recovery codes, want 10", len(confirmed.RecoveryCodes))
	}
	notice := m.waitFor(t, email, "Two-step login is on", 15*time.Second)
	if notice.Text == "" || notice.HTML == "" || !strings.Contains(notice.Text, "recovery codes") {
		t.Errorf("the 'enabled' email: text %q, html %q", notice.Text, notice.HTML)
	}

	// The password alone: 403, an mfa_token, no tokens.
	login := newClient(svc.URL)
	_, a, err = login.passwordLogin(ctx, email, password)
	mustOK(t, err)
	var challenge map[string]any
	mustOK(t, json.Unmarshal([]byte(a.Body), &challenge))
	token, _ := challenge["mfa_token"].(string)
	if a.Status != http.StatusForbidden || challenge["detail"] != "Second factor required" || token == "" ||
		challenge["mfa_expires_in"] != 300.0 || len(challenge) != 3 {
		t.Fatalf("login with the password alone: %d %s", a.Status, a.Body)
	}
	a = login.mustRaw(t, ctx, http.MethodPost, "/login/mfa", map[string]string{"mfa_token": token, "code": "000000"}, nil)
	if a.Status != http.StatusUnauthorized || a.detail() != "Invalid code" {
		t.Fatalf("a wrong code: %d %s", a.Status, a.Body)
	}
	// The next step's code: the confirmation spent this step's.
	a = login.mustRaw(t, ctx, http.MethodPost, "/login/mfa", map[string]string{"mfa_token": token, "code": totpAt(key, time.Now().Add(30*time.Second))}, nil)
	if a.Status != http.StatusOK {
		t.Fatalf("the second step: %d %s", a.Status, a.Body)
	}
	var tp tokenPair
	mustOK(t, json.Unmarshal([]byte(a.Body), &tp))
	if amr := amrClaim(t, tp.AccessToken); strings.Join(amr, " ") != "pwd otp" {
		t.Errorf("amr %v, want [pwd otp]", amr)
	}
	me, err := login.withToken(tp.AccessToken).raw(ctx, http.MethodGet, "/users/me", nil, nil)
	mustOK(t, err)
	var meBody map[string]any
	mustOK(t, json.Unmarshal([]byte(me.Body), &meBody))
	if me.Status != http.StatusOK || meBody["mfa_enabled"] != true {
		t.Errorf("GET /users/me: %d %s", me.Status, me.Body)
	}
	// A recovery code in one step, once.
	form := url.Values{"username": {email}, "password": {password}, "mfa_code": {confirmed.RecoveryCodes[0]}}
	if a = login.mustRaw(t, ctx, http.MethodPost, "/login/", form, nil); a.Status != http.StatusOK {
		t.Fatalf("a recovery code: %d %s", a.Status, a.Body)
	}
	if a = login.mustRaw(t, ctx, http.MethodPost, "/login/", form, nil); a.Status != http.StatusUnauthorized {
		t.Fatalf("a recovery code again: %d %s", a.Status, a.Body)
	}

	// At rest the secret is sealed, and nothing of it reached the log.
	db, err := sql.Open("postgres", dbURL)
	mustOK(t, err)
	defer db.Close()
	var stored string
	mustOK(t, db.QueryRowContext(context.Background(), "SELECT totp_secret FROM users WHERE id = $1", u.ID).Scan(&stored))
	if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, enrol.Secret) {
		t.Errorf("totp_secret holds %q: want it sealed", stored)
	}
	for _, s := range append([]string{enrol.Secret, token}, confirmed.RecoveryCodes...) {
		if strings.Contains(svc.logs.String(), s) {
			t.Errorf("the service's log holds %q", s)
		}
	}
}
