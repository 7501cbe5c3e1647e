package e2e_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

// Attack tests against the real binary: real argon2id, real databases, real
// SMTP. Every test is named for the attack it stops, runs in parallel with
// the others on its own ports and directories, and talks only to 127.0.0.1.

// logLink finds the log mailer's verification link for email in logs, or "".
func logLink(logs, email string) string {
	sc := bufio.NewScanner(strings.NewReader(logs))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.Contains(line, `"to":"`+email+`"`) && strings.Contains(line, `"kind":"verify_email"`) {
			if m := linkPattern.FindStringSubmatch(line); m != nil {
				return m[1]
			}
		}
	}
	return ""
}

// registerVerified registers email on svcs[0] and verifies it by the link
// the log mailer printed; with several instances on one database, any of
// their dispatchers may have sent it.
func registerVerified(tb testing.TB, ctx context.Context, email, password string, svcs ...*service) {
	tb.Helper()
	c := newClient(svcs[0].URL)
	_, err := c.register(ctx, email, password)
	mustOK(tb, err)
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, s := range svcs {
			if link := logLink(s.logs.String(), email); link != "" {
				status, err := c.get(ctx, link)
				mustOK(tb, err)
				if status != http.StatusOK {
					tb.Fatalf("verifying %s: %d, want 200", email, status)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no verification link for %s in any log", email)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// twoInstancesOnOnePostgres starts two services on one throwaway PostgreSQL
// database, one after the other (the second finds the schema and the admin).
func twoInstancesOnOnePostgres(tb testing.TB, extra map[string]string) (*service, *service) {
	tb.Helper()
	db := sqlstoretest.NewPostgresURL(tb)
	var svcs [2]*service
	for i := range svcs {
		env := baseEnv(tb, db)
		for k, v := range extra {
			env[k] = v
		}
		svcs[i] = startService(tb, tb.TempDir(), env)
	}
	return svcs[0], svcs[1]
}

// burst sends n requests at once, request i to the instance i%len(svcs),
// and returns their answers; a transport error fails the test.
func burst(tb testing.TB, n int, svcs []*service, send func(c *client, i int) (answer, error)) []answer {
	tb.Helper()
	answers := make([]answer, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		c := newClient(svcs[i%len(svcs)].URL)
		c.http = patientHTTP
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			answers[i], errs[i] = send(c, i)
		}()
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		tb.Fatal(err)
	}
	return answers
}

// tally counts answers by status and detail.
func tally(answers []answer) map[string]int {
	out := map[string]int{}
	for _, a := range answers {
		out[strconv.Itoa(a.Status)+" "+a.detail()]++
	}
	return out
}

// TestLockoutHoldsUnderConcurrentGuessesAcrossInstances: a guessing script
// firing at two replicas at once gets exactly MAX_LOGIN_ATTEMPTS password
// checks, then the account is locked everywhere, even for the right password.
func TestLockoutHoldsUnderConcurrentGuessesAcrossInstances(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	a, b := twoInstancesOnOnePostgres(t, map[string]string{"MAX_LOGIN_ATTEMPTS": "3", "RATE_LIMITS": "off"})
	const email, password = "target@example.com", "the right passphrase 7"
	registerVerified(t, ctx, email, password, a, b)

	const n = 30
	answers := burst(t, n, []*service{a, b}, func(c *client, i int) (answer, error) {
		_, ans, err := c.passwordLogin(ctx, email, fmt.Sprintf("wrong guess number %d", i))
		return ans, err
	})
	got := tally(answers)
	want := map[string]int{
		"401 Incorrect email or password.":                          3,
		"400 Account locked due to too many failed login attempts.": n - 3,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%d concurrent wrong passwords across two instances answered %v, want %v", n, got, want)
	}

	for _, s := range []*service{a, b} {
		_, ans, err := newClient(s.URL).passwordLogin(ctx, email, password)
		mustOK(t, err)
		if ans.Status != http.StatusBadRequest || ans.detail() != "Account locked due to too many failed login attempts." {
			t.Errorf("the right password on %s after the lockout: %d %s, want 400 locked", s.URL, ans.Status, ans.Body)
		}
	}
}

// TestRightPasswordLoginsTogetherAllSucceed: the lockout guard makes
// concurrent logins with the right password wait, never refuses them.
func TestRightPasswordLoginsTogetherAllSucceed(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	a, b := twoInstancesOnOnePostgres(t, map[string]string{"MAX_LOGIN_ATTEMPTS": "3", "RATE_LIMITS": "off"})
	const email, password = "busy@example.com", "the right passphrase 8"
	registerVerified(t, ctx, email, password, a, b)

	const n = 20
	answers := burst(t, n, []*service{a, b}, func(c *client, _ int) (answer, error) {
		_, ans, err := c.passwordLogin(ctx, email, password)
		return ans, err
	})
	for i, ans := range answers {
		if ans.Status != http.StatusOK {
			t.Errorf("login %d of %d concurrent right-password logins: %d %s, want 200", i, n, ans.Status, ans.Body)
		}
	}
}

// randomEmail is an address nobody registered.
func randomEmail() string { return "nobody-" + strings.ToLower(rand.Text()) + "@example.com" }

// randomIPv4 is a public-looking address, as a spoofing script would send.
func randomIPv4() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%d.%d.%d.%d", 1+b[0]%200, b[1], b[2], 1+b[3]%254)
}

// checkRateLimited wants at least one 429 with a Retry-After of at least one
// second and a JSON detail, and no answer but 401 or 429.
func checkRateLimited(t *testing.T, answers []answer) {
	t.Helper()
	limited := 0
	for _, a := range answers {
		switch a.Status {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			limited++
			secs, err := strconv.Atoi(a.Header.Get("Retry-After"))
			if err != nil || secs < 1 {
				t.Errorf("429 with Retry-After %q, want whole seconds ≥ 1", a.Header.Get("Retry-After"))
			}
			if a.detail() == "" {
				t.Errorf("429 without a JSON detail: %s", a.Body)
			}
		default:
			t.Errorf("unexpected answer %d %s", a.Status, a.Body)
		}
	}
	if limited == 0 {
		t.Fatalf("%d rapid logins from one client: no 429; answers %v", len(answers), tally(answers))
	}
}

// rateLimitedService is a service with the limits explicitly on.
func rateLimitedService(t *testing.T) *service {
	env := baseEnv(t, sqliteURL(t))
	env["RATE_LIMITS"] = "on"
	return startService(t, t.TempDir(), env)
}

// rapidLogins sends 61 logins with random unknown emails at once: one
// more than the per-address limit's burst. They go out together because
// the bucket refills one token a second, so 61 requests spread over more
// than a second may all be allowed, rightly.
func rapidLogins(t *testing.T, svc *service, header func() http.Header) []answer {
	ctx := ctxT(t)
	const n = 61
	start := time.Now()
	answers := burst(t, n, []*service{svc}, func(c *client, _ int) (answer, error) {
		return c.raw(ctx, http.MethodPost, "/login/", url.Values{
			"username": {randomEmail()}, "password": {"a wrong passphrase"},
		}, header())
	})
	t.Logf("%d concurrent logins answered within %s: %v", n, time.Since(start).Round(time.Millisecond), tally(answers))
	return answers
}

// TestRateLimitsAnswer429WithRetryAfter: a script spraying logins over many
// accounts from one address is slowed down per address.
func TestRateLimitsAnswer429WithRetryAfter(t *testing.T) {
	t.Parallel()
	svc := rateLimitedService(t)
	checkRateLimited(t, rapidLogins(t, svc, func() http.Header { return nil }))
}

// TestRateLimitIgnoresSpoofedForwardedFor: the same script cannot dodge the
// limit by inventing X-Forwarded-For addresses: the peer is not a trusted
// proxy, so the header is not believed.
func TestRateLimitIgnoresSpoofedForwardedFor(t *testing.T) {
	t.Parallel()
	svc := rateLimitedService(t)
	checkRateLimited(t, rapidLogins(t, svc, func() http.Header {
		return http.Header{"X-Forwarded-For": {randomIPv4()}}
	}))
}

// runToExit runs the binary with env and wants it to exit non-zero within
// 30 s, printing one line "usersvc: …" that contains want.
func runToExit(t *testing.T, env map[string]string, want string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, binary, "serve")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
		t.Fatalf("exit: %v, want a non-zero exit\n%s", err, out)
	}
	text := strings.TrimSpace(string(out))
	var errLines []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, "usersvc: ") {
			errLines = append(errLines, l)
		}
	}
	if len(errLines) != 1 || strings.Contains(text, "goroutine ") || strings.Contains(text, "panic") {
		t.Fatalf("output is not one clear error line:\n%s", text)
	}
	if !strings.Contains(errLines[0], want) {
		t.Fatalf("error line %q does not name %s", errLines[0], want)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "jwt-dev.key")); err == nil {
		t.Error("a refused production start still generated a development key")
	}
}

// TestProductionRefusesUnsafeDefaults: an operator who forgets a secret in
// production gets a refusal, not a service signing tokens with a guessable
// or throwaway key or mailing links to localhost.
func TestProductionRefusesUnsafeDefaults(t *testing.T) {
	t.Parallel()
	prod := func(t *testing.T) map[string]string {
		env := baseEnv(t, sqliteURL(t))
		env["APP_ENV"] = "production"
		env["JWT_SECRET"] = "production-secret-0123456789-abcdef"
		env["PUBLIC_BASE_URL"] = "https://users.example.com"
		env["SECRETS_KEY"] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
		return env
	}
	t.Run("without JWT_SECRET", func(t *testing.T) {
		t.Parallel()
		env := prod(t)
		delete(env, "JWT_SECRET")
		runToExit(t, env, "JWT_SECRET")
	})
	t.Run("with a 16-byte JWT_SECRET", func(t *testing.T) {
		t.Parallel()
		env := prod(t)
		env["JWT_SECRET"] = "0123456789abcdef"
		runToExit(t, env, "JWT_SECRET")
	})
	t.Run("without SECRETS_KEY", func(t *testing.T) {
		t.Parallel()
		env := prod(t)
		delete(env, "SECRETS_KEY")
		runToExit(t, env, "SECRETS_KEY")
	})
	t.Run("without PUBLIC_BASE_URL", func(t *testing.T) {
		t.Parallel()
		env := prod(t)
		delete(env, "PUBLIC_BASE_URL")
		runToExit(t, env, "PUBLIC_BASE_URL")
	})
	t.Run("with everything set", func(t *testing.T) {
		t.Parallel()
		ctx := ctxT(t)
		env := prod(t)
		svc := startService(t, t.TempDir(), env)
		status, err := newClient(svc.URL).get(ctx, svc.URL+"/healthz")
		mustOK(t, err)
		if status != http.StatusOK {
			t.Fatalf("/healthz: %d", status)
		}
		const email = "prod@example.com"
		_, err = newClient(svc.URL).register(ctx, email, "a production passphrase")
		mustOK(t, err)
		// The log mailer still reports the message, without its link.
		waitLog(t, svc, `"kind":"verify_email"`)
		if logs := svc.logs.String(); strings.Contains(logs, "/verify-email/") {
			t.Fatalf("in production the log mailer printed a verification link:\n%s", logs)
		}
	})
}

// TestNoSecretsInLogs: whoever reads the service's log (an operator, a log
// pipeline, an attacker with access to it) finds no password, token, emailed
// secret or password hash, after every flow that handles one.
func TestNoSecretsInLogs(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	m := startMailpit(t, 0)
	env := mailEnv(t, sqliteURL(t), m, 0)
	env["LOG_LEVEL"] = "debug"
	svc := startService(t, t.TempDir(), env)
	const email = "secretive@example.com"
	passwords := []string{"first secret passphrase", "second secret passphrase", "third secret passphrase",
		"wrong guess alpha", "wrong guess beta", "wrong guess gamma", env["ADMIN_PASSWORD"]}
	var secrets []string
	secrets = append(secrets, passwords...)

	c := newClient(svc.URL)
	_, err := c.register(ctx, email, passwords[0])
	mustOK(t, err)
	verify := m.waitFor(t, email, "Confirm your email", 15*time.Second)
	link := mailLink.FindString(verify.Text)
	if link == "" {
		t.Fatalf("no verification link in:\n%s", verify.Text)
	}
	secrets = append(secrets, link[strings.LastIndexByte(link, '/')+1:])
	if status, err := c.get(ctx, link); err != nil || status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, err)
	}

	tp := c.mustLogin(t, ctx, email, passwords[0])
	secrets = append(secrets, tp.AccessToken, tp.RefreshToken)
	tp2, ans, err := c.refresh(ctx, tp.RefreshToken)
	if err != nil || ans.Status != http.StatusOK {
		t.Fatalf("refresh: %v %d %s", err, ans.Status, ans.Body)
	}
	secrets = append(secrets, tp2.AccessToken, tp2.RefreshToken)
	// A tampered token and a garbage refresh token are secrets too: they may
	// be one typo away from real ones.
	tampered := tp2.AccessToken[:len(tp2.AccessToken)-4] + "AAAA"
	secrets = append(secrets, tampered)
	if a := c.withToken(tampered).mustRaw(t, ctx, http.MethodGet, "/users/me", nil, nil); a.Status != http.StatusUnauthorized {
		t.Errorf("tampered token: %d, want 401", a.Status)
	}
	garbage := "not-a-refresh-token-" + rand.Text()
	secrets = append(secrets, garbage)
	if _, ans, _ := c.refresh(ctx, garbage); ans.Status != http.StatusUnauthorized {
		t.Errorf("garbage refresh token: %d, want 401", ans.Status)
	}

	for _, wrong := range passwords[3:6] {
		if _, ans, err := newClient(svc.URL).passwordLogin(ctx, email, wrong); err != nil || ans.Status == http.StatusOK {
			t.Fatalf("a wrong password: %v %d", err, ans.Status)
		}
	}
	m.waitFor(t, email, "locked", 15*time.Second)

	if ans, err := c.requestReset(ctx, email); err != nil || ans.Status != http.StatusAccepted {
		t.Fatalf("reset request: %v %d %s", err, ans.Status, ans.Body)
	}
	resetMail := m.waitFor(t, email, "Reset", 15*time.Second)
	resetToken := resetTokenFrom(t, resetMail.Text)
	secrets = append(secrets, resetToken, url.QueryEscape(resetToken))
	// A browser opens the link first: the token is in the query string.
	if a := c.mustRaw(t, ctx, http.MethodGet, resetLink.FindString(resetMail.Text), nil, http.Header{"Accept": {"text/html"}}); a.Status != http.StatusOK {
		t.Fatalf("reset page: %d", a.Status)
	}
	if ans, err := c.confirmReset(ctx, resetToken, passwords[1]); err != nil || ans.Status != http.StatusOK {
		t.Fatalf("reset confirm: %v %d %s", err, ans.Status, ans.Body)
	}

	tp3 := c.mustLogin(t, ctx, email, passwords[1])
	secrets = append(secrets, tp3.AccessToken, tp3.RefreshToken)
	if ans, err := c.changePassword(ctx, passwords[1], passwords[2]); err != nil || ans.Status != http.StatusNoContent {
		t.Fatalf("change password: %v %d %s", err, ans.Status, ans.Body)
	}
	tp4 := c.mustLogin(t, ctx, email, passwords[2])
	secrets = append(secrets, tp4.AccessToken, tp4.RefreshToken)
	if ans, err := c.logout(ctx, tp4.RefreshToken); err != nil || ans.Status != http.StatusNoContent {
		t.Fatalf("logout: %v %d %s", err, ans.Status, ans.Body)
	}
	admin := newClient(svc.URL)
	atp := admin.mustLogin(t, ctx, "admin@example.com", env["ADMIN_PASSWORD"])
	secrets = append(secrets, atp.AccessToken, atp.RefreshToken)

	svc.stop()
	logs := svc.logs.String()
	if !strings.Contains(logs, `"route":"/login"`) || !strings.Contains(logs, `"route":"/password-reset"`) {
		t.Fatalf("the log lacks the requests made, so the check below proves nothing:\n%s", logs)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the log contains the secret %q", s)
		}
	}
	if strings.Contains(logs, "$argon2id$") {
		t.Error("the log contains an argon2id hash")
	}
	if t.Failed() {
		t.Logf("the log:\n%s", logs)
	}
}

var resetLink = regexp.MustCompile(`https?://\S+/password-reset\?token=\S+`)

// resetTokenFrom finds the reset link in an email's text and returns its token.
func resetTokenFrom(tb testing.TB, text string) string {
	tb.Helper()
	link := resetLink.FindString(text)
	if link == "" {
		tb.Fatalf("no reset link in:\n%s", text)
	}
	u, err := url.Parse(link)
	if err != nil || u.Query().Get("token") == "" {
		tb.Fatalf("reset link %q has no token: %v", link, err)
	}
	return u.Query().Get("token")
}
