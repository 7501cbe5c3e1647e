package e2e_test

// Browser tests: Debian's Chromium, headless, driven by chromedp, against
// the built binary. One browser serves the whole package (started by the
// first test that needs it, stopped by TestMain); each test has its own
// tab. When a test fails, a screenshot of its tab is saved and its path
// logged with the failure.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumInstall is how a machine gets the browser the tests drive.
const chromiumInstall = "apt-get install -y chromium"

var browser struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
	dir    string
}

// chromiumPath is CHROMIUM, or Debian's /usr/bin/chromium.
func chromiumPath() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	return "/usr/bin/chromium"
}

func startBrowser() {
	path := chromiumPath()
	if _, err := os.Stat(path); err != nil {
		browser.err = fmt.Errorf("no Chromium at %s (%w): install it with `%s` (as root), or set CHROMIUM to its path", path, err, chromiumInstall)
		return
	}
	dir, err := os.MkdirTemp("", "usersvc-chromium-")
	if err != nil {
		browser.err = err
		return
	}
	browser.dir = dir
	actx, acancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1024),
		chromedp.UserDataDir(dir),
	)
	ctx, cancel := chromedp.NewContext(actx)
	browser.ctx = ctx
	browser.cancel = func() { cancel(); acancel() }
	// The first action starts the browser; it lives as long as ctx.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		browser.err = fmt.Errorf("starting %s: %w (is it installed? `%s`)", path, err, chromiumInstall)
	}
}

// stopBrowser ends the package's browser, if one was started.
func stopBrowser() {
	if browser.cancel != nil {
		browser.cancel()
	}
	if browser.dir != "" {
		_ = os.RemoveAll(browser.dir)
	}
}

// tab opens a new tab of the package's browser for t, closed at its end,
// with a screenshot saved if t failed. Actions on it time out after 60 s.
func tab(t *testing.T) context.Context {
	t.Helper()
	return tabFor(t, 60*time.Second)
}

// tabFor is tab whose actions time out after d, for longer walks.
func tabFor(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	browser.once.Do(startBrowser)
	if browser.err != nil {
		t.Fatal(browser.err)
	}
	// Each tab is a browser context of its own: cookies are kept per host,
	// not per port, so services under test on 127.0.0.1 would share them.
	tctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(tctx, chromedp.Navigate("about:blank")); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	ctx, cancelTimeout := context.WithTimeout(tctx, d)
	t.Cleanup(func() {
		if t.Failed() {
			saveScreenshot(t, tctx)
		}
		cancelTimeout()
		cancel()
	})
	return ctx
}

// saveScreenshot writes the tab's page to BROWSER_SCREENSHOTS (default
// test/screenshots, ignored by git) and names the file in the log.
func saveScreenshot(t *testing.T, ctx context.Context) {
	dir := os.Getenv("BROWSER_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot of the failure: %v", err)
		return
	}
	name := regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_") + ".png"
	path, _ := filepath.Abs(filepath.Join(dir, name))
	err = os.MkdirAll(dir, 0o750)
	if err == nil {
		err = os.WriteFile(path, png, 0o600)
	}
	if err != nil {
		t.Logf("no screenshot of the failure: %v", err)
		return
	}
	t.Logf("screenshot of the page at the failure: %s", path)
}

// browse runs steps in the tab, failing t with what was being done.
func browse(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// waitJS waits until the JavaScript expression is truthy, through page
// loads (an evaluation may meet a page that is being replaced).
func waitJS(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
	t.Fatalf("waiting for %s (%s): not true after 30s (last error: %v)\npage text: %s", what, expr, lastErr, body)
}

// pageText is the text of the tab's page.
func pageText(t *testing.T, ctx context.Context) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// documentOperations reads /openapi.json: the Swagger UI element id of
// every operation ("operations-TAG-OPERATIONID").
func documentOperations(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
		// Requests the service sends (OpenAPI 3.1), shown under the tag "webhooks".
		Webhooks map[string]map[string]json.RawMessage `json:"webhooks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, item := range doc.Paths {
		for _, raw := range item {
			var op struct {
				OperationID string   `json:"operationId"`
				Tags        []string `json:"tags"`
			}
			if err := json.Unmarshal(raw, &op); err != nil || op.OperationID == "" || len(op.Tags) == 0 {
				continue // parameters, or an operation without id or tag (the document test forbids it)
			}
			for _, tag := range op.Tags {
				ids = append(ids, "operations-"+tag+"-"+op.OperationID)
			}
		}
	}
	for _, item := range doc.Webhooks {
		for _, raw := range item {
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err == nil && op.OperationID != "" {
				ids = append(ids, "operations-webhooks-"+op.OperationID)
			}
		}
	}
	if len(ids) < 20 {
		t.Fatalf("only %d operations in /openapi.json", len(ids))
	}
	return ids
}

// TestBrowserDocsRenderEveryOperation: Swagger UI at /docs, from the
// vendored files alone, shows every operation of /openapi.json.
func TestBrowserDocsRenderEveryOperation(t *testing.T) {
	t.Parallel()
	svc := startService(t, t.TempDir(), baseEnv(t, sqliteURL(t)))
	ids := documentOperations(t, svc.URL)
	ctx := tab(t)
	browse(t, ctx, "opening /docs", chromedp.Navigate(svc.URL+"/docs"))
	waitJS(t, ctx, "Swagger UI to render the operations", fmt.Sprintf(`document.querySelectorAll('.opblock').length >= %d`, len(ids)))
	rendered, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('.opblock')).map(e => e.id)`))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, id := range rendered {
		have[id] = true
	}
	for _, id := range ids {
		if !have[id] {
			t.Errorf("/docs does not show %s", id)
		}
	}
	if len(rendered) != len(ids) {
		t.Errorf("/docs shows %d operations, the document has %d", len(rendered), len(ids))
	}
	if text := pageText(t, ctx); strings.Contains(text, "Errors") && strings.Contains(text, "Resolver error") {
		t.Errorf("Swagger UI reports errors in the document:\n%.2000s", text)
	}
}

// TestBrowserAuthorizeAndTryGetMe: Swagger UI's Authorize dialog logs in
// with the OAuth2 password flow (through POST /login/), and "Try it out"
// on GET /users/me then answers 200 with the caller's account.
func TestBrowserAuthorizeAndTryGetMe(t *testing.T) {
	t.Parallel()
	env := baseEnv(t, sqliteURL(t))
	svc := startService(t, t.TempDir(), env)
	ctx := tab(t)
	browse(t, ctx, "opening /docs and its Authorize dialog",
		chromedp.Navigate(svc.URL+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(".auth-wrapper .btn.authorize")),
		chromedp.Click(chromedp.CSS(".auth-wrapper .btn.authorize")),
		chromedp.WaitVisible(chromedp.ID("oauth_username")),
		chromedp.SendKeys(chromedp.ID("oauth_username"), env["ADMIN_EMAIL"]),
		chromedp.SendKeys(chromedp.ID("oauth_password"), env["ADMIN_PASSWORD"]),
	)
	// The dialog has a section per scheme; authorize the OAuth2 one.
	browse(t, ctx, "authorizing", chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
		_, err := chromedp.Evaluate[chromedp.Void](`document.querySelector('#oauth_username').closest('.auth-container').querySelector('button.authorize').click()`)(ctx, tt)
		return err
	}))
	waitJS(t, ctx, "the dialog to say the OAuth2 scheme is authorized",
		`Array.from(document.querySelectorAll('.auth-container')).some(c => c.innerText.includes('OAuth2Password') && c.innerText.includes('Authorized') && c.innerText.includes('Logout'))`)
	browse(t, ctx, "closing the dialog and trying GET /users/me",
		chromedp.Click(chromedp.CSS(".modal-ux .close-modal")),
		chromedp.Click(chromedp.CSS("#operations-me-getMe .opblock-summary-control")),
		chromedp.WaitVisible(chromedp.CSS("#operations-me-getMe .try-out__btn")),
		chromedp.Click(chromedp.CSS("#operations-me-getMe .try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS("#operations-me-getMe .execute")),
		chromedp.Click(chromedp.CSS("#operations-me-getMe .execute")),
	)
	waitJS(t, ctx, "the answer of GET /users/me",
		`(document.querySelector('#operations-me-getMe .live-responses-table tr.response .response-col_status') || {}).innerText`)
	status, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('#operations-me-getMe .live-responses-table tr.response .response-col_status').innerText.trim()`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#operations-me-getMe .live-responses-table tr.response .response-col_description') || {innerText: ''}).innerText`))
	if !strings.HasPrefix(status, "200") || !strings.Contains(body, env["ADMIN_EMAIL"]) {
		t.Errorf("Try it out on GET /users/me answered %q:\n%s", status, body)
	}
}

// TestBrowserVerificationPage: the emailed verification link, opened in a
// browser, shows a page that says the email is verified, and login works.
func TestBrowserVerificationPage(t *testing.T) {
	t.Parallel()
	svc := startService(t, t.TempDir(), baseEnv(t, sqliteURL(t)))
	c := newClient(svc.URL)
	ctxHTTP := ctxT(t)
	_, err := c.register(ctxHTTP, "page@example.com", "a long enough passphrase")
	mustOK(t, err)
	link := svc.verificationLink(t, "page@example.com")
	ctx := tab(t)
	browse(t, ctx, "opening the verification link", chromedp.Navigate(link))
	waitJS(t, ctx, "the verification page", `document.querySelector('h1') && document.querySelector('h1').innerText === 'Email verified'`)
	if text := pageText(t, ctx); !strings.Contains(text, "your email is verified") {
		t.Errorf("the verification page says:\n%s", text)
	}
	axeCheck(t, ctx, "the verification page")
	mustOK(t, c.login(ctxHTTP, "page@example.com", "a long enough passphrase"))

	// The same link again: the page says it is spent.
	browse(t, ctx, "opening the link again", chromedp.Navigate(link))
	waitJS(t, ctx, "the refusal page", `document.querySelector('h1') && document.querySelector('h1').innerText === 'Email not verified'`)
}

// TestBrowserPasswordReset: a reset requested through the API arrives by
// email (Mailpit); its link opens a form in the browser; the new password
// set there logs in and the old one no longer does.
func TestBrowserPasswordReset(t *testing.T) {
	t.Parallel()
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqliteURL(t), m, 0))
	c := newClient(svc.URL)
	ctxHTTP := ctxT(t)
	const email, oldPass, newPass = "forgetful@example.com", "the old long passphrase", "a brand new passphrase"
	_, err := c.register(ctxHTTP, email, oldPass)
	mustOK(t, err)
	verify := mailLink.FindString(m.waitFor(t, email, "Confirm your email", 15*time.Second).Text)
	status, err := c.get(ctxHTTP, verify)
	if err != nil || status != http.StatusOK {
		t.Fatalf("verifying: %d, %v", status, err)
	}
	mustOK(t, c.do(ctxHTTP, http.MethodPost, "/password-reset/request", map[string]string{"email": email}, nil))
	link := resetLink.FindString(m.waitFor(t, email, "Reset your password", 15*time.Second).Text)
	if link == "" {
		t.Fatal("no reset link in the email")
	}

	ctx := tab(t)
	browse(t, ctx, "filling the reset form",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("p1")),
	)
	axeCheck(t, ctx, "the reset page")
	browse(t, ctx, "filling the reset form",
		chromedp.SendKeys(chromedp.ID("p1"), newPass),
		chromedp.SendKeys(chromedp.ID("p2"), newPass),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	waitJS(t, ctx, "the outcome page", `document.querySelector('h1') && document.querySelector('h1').innerText === 'Password changed'`)
	if text := pageText(t, ctx); !strings.Contains(text, "You can log in with it now") {
		t.Errorf("the outcome page says:\n%s", text)
	}
	mustOK(t, newClient(svc.URL).login(ctxHTTP, email, newPass))
	if err := newClient(svc.URL).login(ctxHTTP, email, oldPass); err == nil {
		t.Error("the old password still logs in")
	}
}
