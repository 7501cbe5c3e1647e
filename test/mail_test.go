package e2e_test

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

var mailLink = regexp.MustCompile(`https?://\S+/verify-email/\S+`)

// mailEnv is baseEnv delivering to m, retrying fast.
func mailEnv(tb testing.TB, databaseURL string, m *mailpit, smtpPort int) map[string]string {
	env := baseEnv(tb, databaseURL)
	env["SMTP_URL"] = "smtp://127.0.0.1:" + itoa(smtpPort)
	if m != nil {
		env["SMTP_URL"] = m.SMTPURL()
	}
	env["MAIL_FROM"] = "usersvc <no-reply@usersvc.test>"
	env["MAIL_RETRY_MIN"] = "100ms"
	env["MAIL_RETRY_MAX"] = "400ms"
	// A message claimed by a process that died is retried after twice this.
	env["MAIL_SEND_TIMEOUT"] = "2s"
	return env
}

func itoa(n int) string { return strconv.Itoa(n) }

func sqliteURL(tb testing.TB) string { return "sqlite:" + filepath.Join(tb.TempDir(), "usersvc.db") }

// TestVerificationEmailArrivesAndWorks: register, the email arrives in
// Mailpit (multipart, stable Message-ID), its link verifies, login works.
func TestVerificationEmailArrivesAndWorks(t *testing.T) {
	ctx := ctxT(t)
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqliteURL(t), m, 0))
	c := newClient(svc.URL)
	_, err := c.register(ctx, "lin@example.com", "a long enough passphrase")
	mustOK(t, err)

	msg := m.waitFor(t, "lin@example.com", "Confirm your email", 15*time.Second)
	if msg.Text == "" || msg.HTML == "" {
		t.Fatalf("want a multipart message with text and HTML, got text=%q html=%q", msg.Text, msg.HTML)
	}
	if !strings.HasSuffix(msg.MessageID, "@usersvc.test") {
		t.Errorf("Message-ID %q is not on the sender's domain", msg.MessageID)
	}
	link := mailLink.FindString(msg.Text)
	if link == "" || !strings.HasPrefix(link, svc.URL) {
		t.Fatalf("no link based at PUBLIC_BASE_URL %s in:\n%s", svc.URL, msg.Text)
	}
	if !strings.Contains(msg.HTML, link) {
		t.Errorf("the HTML part lacks the link")
	}
	status, err := c.get(ctx, link)
	mustOK(t, err)
	if status != http.StatusOK {
		t.Fatalf("following the emailed link: %d", status)
	}
	mustOK(t, c.login(ctx, "lin@example.com", "a long enough passphrase"))
	if strings.Contains(svc.logs.String(), link[strings.LastIndexByte(link, '/')+1:]) {
		t.Error("the verification token reached the service's log")
	}
}

// TestEmailSurvivesSMTPOutage: with the SMTP server down, registration
// still succeeds, and the email arrives once the server is back.
func TestEmailSurvivesSMTPOutage(t *testing.T) {
	ctx := ctxT(t)
	port := freePort(t)
	svc := startService(t, t.TempDir(), mailEnv(t, sqliteURL(t), nil, port))
	c := newClient(svc.URL)
	_, err := c.register(ctx, "outage@example.com", "a long enough passphrase")
	mustOK(t, err)
	waitLog(t, svc, "email not sent, will retry")

	m := startMailpit(t, port)
	m.waitFor(t, "outage@example.com", "Confirm your email", 20*time.Second)
}

// TestEmailSurvivesCrashBeforeSend: the service dies after the commit and
// before the send; the message goes out after the restart, once.
func TestEmailSurvivesCrashBeforeSend(t *testing.T) {
	ctx := ctxT(t)
	port := freePort(t)
	dir := t.TempDir()
	env := mailEnv(t, sqliteURL(t), nil, port)
	svc := startService(t, dir, env)
	_, err := newClient(svc.URL).register(ctx, "crash@example.com", "a long enough passphrase")
	mustOK(t, err)
	svc.kill()

	m := startMailpit(t, port)
	svc = startService(t, dir, env)
	m.waitFor(t, "crash@example.com", "Confirm your email", 20*time.Second)
	svc.stop()
	if n := m.count(t, "crash@example.com"); n != 1 {
		t.Fatalf("%d messages to crash@example.com, want 1", n)
	}
}

// TestTwoDispatchersSendOnce: two instances on one PostgreSQL deliver each
// message once.
func TestTwoDispatchersSendOnce(t *testing.T) {
	ctx := ctxT(t)
	m := startMailpit(t, 0)
	db := sqlstoretest.NewPostgresURL(t)
	a := startService(t, t.TempDir(), mailEnv(t, db, m, 0))
	b := startService(t, t.TempDir(), mailEnv(t, db, m, 0))
	const n = 20
	for i := range n {
		s := a
		if i%2 == 1 {
			s = b
		}
		_, err := newClient(s.URL).register(ctx, addr(i), "a long enough passphrase")
		mustOK(t, err)
	}
	for i := range n {
		m.waitFor(t, addr(i), "Confirm your email", 20*time.Second)
	}
	// Both stop cleanly, after which nothing more can be sent.
	a.stop()
	b.stop()
	seen := map[string]bool{}
	for _, s := range m.messages(t) {
		if seen[s.MessageID] {
			t.Errorf("message %s delivered twice", s.MessageID)
		}
		seen[s.MessageID] = true
	}
	for i := range n {
		if c := m.count(t, addr(i)); c != 1 {
			t.Errorf("%s got %d messages, want 1", addr(i), c)
		}
	}
}

func addr(i int) string { return "user" + strconv.Itoa(i) + "@example.com" }

// TestUpgradeAndLockoutSendEmail: the professional upgrade and the lockout
// each email the user.
func TestUpgradeAndLockoutSendEmail(t *testing.T) {
	ctx := ctxT(t)
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqliteURL(t), m, 0))
	c := newClient(svc.URL)
	u, err := c.register(ctx, "pro@example.com", "a long enough passphrase")
	mustOK(t, err)
	admin := newClient(svc.URL)
	mustOK(t, admin.login(ctx, "admin@example.com", "admin-password-for-e2e"))
	_, err = admin.upgrade(ctx, u.ID)
	mustOK(t, err)
	m.waitFor(t, "pro@example.com", "professional", 15*time.Second)

	verify := m.waitFor(t, "pro@example.com", "Confirm your email", 15*time.Second)
	status, err := c.get(ctx, mailLink.FindString(verify.Text))
	mustOK(t, err)
	if status != http.StatusOK {
		t.Fatalf("verify: %d", status)
	}
	for range 3 {
		if err := c.login(ctx, "pro@example.com", "not the passphrase"); err == nil {
			t.Fatal("a wrong password logged in")
		}
	}
	m.waitFor(t, "pro@example.com", "locked", 15*time.Second)
}

// waitLog waits for a log line containing s.
func waitLog(tb testing.TB, svc *service, s string) {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(svc.logs.String(), s) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("no %q in the log:\n%s", s, svc.logs.String())
}
