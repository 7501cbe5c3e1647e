package e2e_test

// The console (/admin, /account) in Chromium, against the built binary:
// an ADMIN, a MANAGER and a plain user sign in through the forms and walk
// every page and action; axe-core (vendored under testdata/axe-core) checks
// each page they reach, and a screenshot of each is kept, all saved under
// test/screenshots/ (or BROWSER_SCREENSHOTS) when the test fails.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"github.com/usersvc/usersvc/internal/testsupport"
	_ "modernc.org/sqlite" // to spread the screenshot's sign-ups over a month
)

// axeSource is axe-core 4.14.1, vendored (testdata/axe-core/VERSION).
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "axe-core", "axe.min.js"))
	return string(b), err
})

// axeViolation is what the tests keep of one axe-core violation.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// walk is one person's walk through the console in one tab.
type walk struct {
	t     *testing.T
	ctx   context.Context
	base  string
	mu    sync.Mutex
	shots []shot // a screenshot of each page checked, saved if t fails
	pages int
}

type shot struct {
	name string
	png  []byte
}

func newWalk(t *testing.T, svc *service) *walk {
	t.Helper()
	w := &walk{t: t, ctx: tabFor(t, 4*time.Minute), base: svc.URL}
	t.Cleanup(func() {
		// CONSOLE_SHOTS=1 keeps them after a pass too, to look at the pages.
		if t.Failed() || os.Getenv("CONSOLE_SHOTS") != "" {
			w.saveShots()
		}
	})
	return w
}

// saveShots writes every page's screenshot, named by test and order.
func (w *walk) saveShots() {
	dir := os.Getenv("BROWSER_SCREENSHOTS")
	if dir == "" {
		dir = "screenshots"
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		w.t.Logf("no screenshots: %v", err)
		return
	}
	clean := regexp.MustCompile(`[^A-Za-z0-9_.-]+`)
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, s := range w.shots {
		path, _ := filepath.Abs(filepath.Join(dir, fmt.Sprintf("%s_%02d_%s.png", clean.ReplaceAllString(w.t.Name(), "_"), i, clean.ReplaceAllString(s.name, "_"))))
		if err := os.WriteFile(path, s.png, 0o600); err != nil {
			w.t.Logf("screenshot %s: %v", path, err)
			continue
		}
		w.t.Logf("screenshot of page %d (%s): %s", i, s.name, path)
	}
}

// open navigates to path and checks the page it shows.
func (w *walk) open(path string) {
	w.t.Helper()
	browse(w.t, w.ctx, "opening "+path, chromedp.Navigate(w.base+path))
	w.settled("after opening " + path)
}

// settled waits for a loaded page with its heading, then checks it.
func (w *walk) settled(what string) {
	w.t.Helper()
	waitJS(w.t, w.ctx, "a loaded page "+what, `document.readyState === 'complete' && !window.__walking && document.querySelector('h1')`)
	w.check()
}

// check runs axe-core on the page: no serious or critical violation. It
// also keeps the page's screenshot.
func (w *walk) check() {
	w.t.Helper()
	title, _ := chromedp.Run(w.ctx, chromedp.Evaluate[string](`location.pathname + ' ' + document.title`))
	png, err := chromedp.Run(w.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		w.mu.Lock()
		w.shots = append(w.shots, shot{name: title, png: png})
		w.mu.Unlock()
	}
	axeCheck(w.t, w.ctx, title)
	w.pages++
}

// axeCheck runs axe-core on the tab's page: no serious or critical
// violation.
func axeCheck(t *testing.T, ctx context.Context, title string) {
	t.Helper()
	src, err := axeSource()
	if err != nil {
		t.Fatalf("reading the vendored axe-core: %v", err)
	}
	loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof axe !== 'undefined'`))
	if err != nil {
		t.Fatal(err)
	}
	if !loaded {
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
			t.Fatalf("injecting axe-core into %s: %v", title, err)
		}
	}
	vs, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](`axe.run(document, {resultTypes: ['violations']}).then(r =>
		r.violations.map(v => ({id: v.id, impact: v.impact || '', help: v.help, nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))})))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("running axe-core on %s: %v", title, err)
	}
	for _, v := range vs {
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("axe-core on %s: %s violation %s (%s) at %v", title, v.Impact, v.ID, v.Help, v.Nodes)
		}
	}
}

// fill sets form fields, by CSS selector, as typing or choosing would
// (an empty value clears a field).
func (w *walk) fill(fields map[string]string) {
	w.t.Helper()
	for sel, v := range fields {
		browse(w.t, w.ctx, "finding "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
		js, _ := json.Marshal(v)
		got, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](fmt.Sprintf(
			`(el => { el.value = %s; el.dispatchEvent(new Event('input', {bubbles: true})); return el.value })(document.querySelector(%q))`, js, sel)))
		if err != nil || got != v {
			w.t.Fatalf("filling %s with %q: got %q, %v", sel, v, got, err)
		}
	}
}

// click presses the button (or follows the link) sel, waits for the page
// it leads to and checks it.
func (w *walk) click(sel string) {
	w.t.Helper()
	_, err := chromedp.Run(w.ctx, chromedp.Evaluate[bool](`window.__walking = true`))
	if err != nil {
		w.t.Fatal(err)
	}
	browse(w.t, w.ctx, "clicking "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
	w.settled("after clicking " + sel)
}

// says fails unless the page's text holds each of want.
func (w *walk) says(want ...string) {
	w.t.Helper()
	text := pageText(w.t, w.ctx)
	for _, s := range want {
		if !strings.Contains(text, s) {
			w.t.Errorf("the page does not say %q:\n%.3000s", s, text)
		}
	}
}

// saysNot fails if the page's text holds any of these.
func (w *walk) saysNot(unwanted ...string) {
	w.t.Helper()
	text := pageText(w.t, w.ctx)
	for _, s := range unwanted {
		if strings.Contains(text, s) {
			w.t.Errorf("the page says %q:\n%.3000s", s, text)
		}
	}
}

// heading is the page's h1.
func (w *walk) heading() string {
	w.t.Helper()
	h, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`document.querySelector('h1').innerText`))
	if err != nil {
		w.t.Fatal(err)
	}
	return h
}

func (w *walk) wantHeading(want string) {
	w.t.Helper()
	if got := w.heading(); got != want {
		w.t.Fatalf("the page is %q, want %q:\n%.2000s", got, want, pageText(w.t, w.ctx))
	}
}

// count is how many elements match sel.
func (w *walk) count(sel string) int {
	w.t.Helper()
	n, err := chromedp.Run(w.ctx, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// signIn opens path signed out and signs in through its form.
func (w *walk) signIn(path, email, password string) {
	w.t.Helper()
	w.open(path)
	w.wantHeading("Sign in")
	w.fill(map[string]string{"#email": email, "#password": password})
	w.click(`form[action="/account/sign-in"] button[type="submit"]`)
}

// mailLink waits for the log mailer's line of kind to email and returns its link.
func (s *service) mailLink(tb testing.TB, email, kind string) string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		link := ""
		for sc.Scan() {
			var line struct{ To, Kind, Link string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.To == email && line.Kind == kind && strings.HasPrefix(line.Link, "http") {
				link = line.Link // the last one
			}
		}
		if link != "" {
			return link
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("no %s link for %s in the log", kind, email)
	return ""
}

// verifiedUser registers email through the API and follows its link.
func verifiedUser(t *testing.T, svc *service, email, password string) user {
	t.Helper()
	ctx := ctxT(t)
	c := newClient(svc.URL)
	u, err := c.register(ctx, email, password)
	mustOK(t, err)
	status, err := c.get(ctx, svc.verificationLink(t, email))
	if err != nil || status != http.StatusOK {
		t.Fatalf("verifying %s: %d %v", email, status, err)
	}
	return u
}

// authenticator computes codes as an app on a phone does, each step once.
type authenticator struct {
	key  []byte
	last int64
}

func newAuthenticator(t *testing.T, secret string) *authenticator {
	t.Helper()
	key, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(key) != 20 {
		t.Fatalf("secret %q: %d bytes, %v", secret, len(key), err)
	}
	return &authenticator{key: key}
}

// code is the code of the current step or the next, never one used
// before (the service refuses a replay): it waits for the clock when both
// are spent.
func (a *authenticator) code() string {
	for {
		now := time.Now().Unix() / 30
		if s := max(a.last+1, now); s <= now+1 {
			a.last = s
			return totpAt(a.key, time.Unix(s*30, 0))
		}
		time.Sleep(time.Second)
	}
}

// scanQR decodes the QR code on the page, as drawn by the browser, and
// returns the secret of the otpauth URI it holds, after checking the URI
// (PRODUCT.md 8.1).
func scanQR(t *testing.T, w *walk, email string) string {
	t.Helper()
	// Each module is drawn 4 CSS pixels wide; the picture is taken three
	// times finer, as a phone's camera sees it.
	shot, err := chromedp.Run(w.ctx, chromedp.ScreenshotScale(chromedp.CSS(".qr"), 3))
	if err != nil {
		t.Fatalf("a picture of the QR code: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("the QR code does not decode: %v", err)
	}
	uri, err := url.Parse(res.GetText())
	if err != nil {
		t.Fatalf("the QR code holds %q: %v", res.GetText(), err)
	}
	q := uri.Query()
	if uri.Scheme != "otpauth" || uri.Host != "totp" || uri.Path != "/usersvc:"+email ||
		q.Get("issuer") != "usersvc" || q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" || q.Get("secret") == "" {
		t.Errorf("the QR code holds %q, want otpauth://totp/usersvc:%s?secret=…&issuer=usersvc&algorithm=SHA1&digits=6&period=30", res.GetText(), email)
	}
	return q.Get("secret")
}

// adminClient is the bootstrap ADMIN, logged in through the API.
func consoleAdminClient(t *testing.T, svc *service) *client {
	t.Helper()
	c := newClient(svc.URL)
	c.mustLogin(t, ctxT(t), svc.env["ADMIN_EMAIL"], svc.env["ADMIN_PASSWORD"])
	return c
}

func (c *client) mustDo(t *testing.T, method, path string, in, out any) {
	t.Helper()
	if err := c.do(ctxT(t), method, path, in, out); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
}

// TestConsoleAdmin: an ADMIN signs in and uses every staff page and action.
func TestConsoleAdmin(t *testing.T) {
	t.Parallel()
	dbURL := sqliteURL(t)
	svc := startService(t, t.TempDir(), baseEnv(t, dbURL))
	admin := consoleAdminClient(t, svc)
	const pass = "a long enough passphrase"
	for i := range 28 {
		_, err := newClient(svc.URL).register(ctxT(t), fmt.Sprintf("walker%02d@example.com", i), pass)
		mustOK(t, err)
	}
	subject := verifiedUser(t, svc, "subject@example.com", pass)
	newClient(svc.URL).mustLogin(t, ctxT(t), "subject@example.com", pass) // a session to end
	mfa := verifiedUser(t, svc, "twofactor@example.com", pass)
	mfaClient := newClient(svc.URL)
	mfaClient.mustLogin(t, ctxT(t), "twofactor@example.com", pass)
	var enrolment struct {
		Secret string `json:"secret"`
	}
	mfaClient.mustDo(t, http.MethodPost, "/users/me/mfa/totp", map[string]string{"password": pass}, &enrolment)
	mfaClient.mustDo(t, http.MethodPost, "/users/me/mfa/totp/confirm", map[string]string{"code": newAuthenticator(t, enrolment.Secret).code()}, nil)
	if err := newClient(svc.URL).login(ctxT(t), "walker00@example.com", "wrong password"); err == nil {
		t.Fatal("a wrong password logged in")
	}

	w := newWalk(t, svc)
	w.signIn("/admin", svc.env["ADMIN_EMAIL"], svc.env["ADMIN_PASSWORD"])
	w.wantHeading("Dashboard")
	w.says("users", "ANONYMOUS", "second factor on", "Sign-ups per day", "Login outcomes per day")
	if n := w.count("svg.chart"); n != 2 {
		t.Errorf("%d charts on the dashboard, want 2", n)
	}
	if os.Getenv("CONSOLE_SCREENSHOT") != "" {
		dashboardScreenshot(t, w, dbURL)
	}

	// Users: search, filter, sort and the cursor's pages.
	w.click(`nav.tabs a[href="/admin/users"]`)
	w.wantHeading("Users")
	w.fill(map[string]string{"#q": "walker1", "#sort": "email"})
	w.click(`form.filters button[type="submit"]`)
	if n := w.count("table.users tbody a"); n != 10 {
		t.Errorf("searching walker1: %d users, want 10", n)
	}
	w.fill(map[string]string{"#q": "", "#role": "ANONYMOUS", "#email_verified": "false"})
	w.click(`form.filters button[type="submit"]`)
	if n := w.count("table.users tbody a"); n != 25 {
		t.Errorf("first page: %d users, want 25", n)
	}
	w.click(`a[rel="next"]`)
	if n := w.count("table.users tbody a"); n != 3 {
		t.Errorf("second page: %d users, want 3", n)
	}
	w.says("First page")

	// A user's page, and each action on it.
	w.open("/admin/users/" + subject.ID)
	w.wantHeading("subject@example.com")
	w.says("End all sessions")
	w.fill(map[string]string{"#first_name": "Ada", "#last_name": "Lovelace", "#bio": "Counts things."})
	w.click(`form[action$="/profile"] button`)
	w.says("Profile saved.", "Ada Lovelace", "Counts things.")
	w.click(`form[action$="/end-sessions"] button`)
	w.says("Every session of this user has ended.", "No active session.")
	w.fill(map[string]string{"#role": "MANAGER"})
	w.click(`form[action$="/role"] button`)
	w.says("Role changed.", "MANAGER")
	w.click(`form[action$="/upgrade"] button`)
	w.says("The account is now professional.")
	w.click(`form[action$="/lock"] button`)
	w.says("Account locked: its sessions have ended.")
	w.click(`form[action$="/unlock"] button`)
	w.says("Account unlocked.")
	var got user
	admin.mustDo(t, http.MethodGet, "/users/"+subject.ID, nil, &got)
	if got.Role != "MANAGER" || !got.IsProfessional || got.IsLocked {
		t.Errorf("after the actions: %+v", got)
	}

	w.open("/admin/users/" + mfa.ID)
	w.click(`form[action$="/mfa-reset"] button`)
	w.says("Second factor reset")

	// Invite, resend, and the invitation page (the console's look).
	w.click(`nav.tabs a[href="/admin/invite"]`)
	w.wantHeading("Invite someone")
	w.fill(map[string]string{"#email": "guest@example.com", "#first_name": "Grace", "#role": "MANAGER"})
	w.click(`form[action="/admin/invite"] button`)
	w.wantHeading("guest@example.com")
	w.says("Invitation sent.", "pending")
	first := svc.mailLink(t, "guest@example.com", "invitation")
	w.click(`form[action$="/invitation"] button`)
	w.says("A new invitation link has been sent")
	var second string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if second = svc.mailLink(t, "guest@example.com", "invitation"); second != first {
			break
		}
	}
	if second == first {
		t.Fatal("no new invitation link")
	}
	w.open(strings.TrimPrefix(second, svc.URL))
	w.wantHeading("Set up your account")
	w.fill(map[string]string{"#p1": "Graces own passphrase", "#p2": "Graces own passphrase"})
	w.click(`form button[type="submit"]`)
	w.wantHeading("Your account is ready")

	// Delete, after a page that asks.
	w.open("/admin/users/" + subject.ID)
	w.click(`a.danger-link`)
	w.wantHeading("Delete a user")
	w.says("subject@example.com", "cannot be undone")
	w.click(`button.danger`)
	w.wantHeading("Users")
	w.says("The user has been deleted.")
	if err := admin.do(ctxT(t), http.MethodGet, "/users/"+subject.ID, nil, nil); err == nil {
		t.Error("the deleted user is still there")
	}

	// The audit log and its filters.
	w.click(`nav.tabs a[href="/admin/audit"]`)
	w.wantHeading("Audit log")
	w.says("user_deleted", "invitation_resent", "role_changed")
	w.fill(map[string]string{"#event": "login_failed"})
	w.click(`form.filters button[type="submit"]`)
	w.says("login_failed")
	w.saysNot("user_deleted")
	w.fill(map[string]string{"#event": "", "#target": mfa.ID, "#since": time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")})
	w.click(`form.filters button[type="submit"]`)
	w.says("mfa_reset")
	w.saysNot("user_deleted")

	walkWebhooks(t, w, svc)

	// Signing out ends the session.
	w.click(`form[action="/account/sign-out"] button`)
	w.wantHeading("Sign in")
	w.open("/admin")
	w.wantHeading("Sign in")
	t.Logf("axe-core checked %d pages", w.pages)
}

// walkWebhooks adds a webhook for one event type through the console, takes
// its secret from the page that shows it once, sees a delivery signed
// with it on the endpoint's page, and deletes the webhook.
func walkWebhooks(t *testing.T, w *walk, svc *service) {
	t.Helper()
	recv := testsupport.NewWebhookReceiver(t, nil)
	w.click(`nav.tabs a[href="/admin/webhooks"]`)
	w.wantHeading("Webhooks")
	w.says("No webhook yet.", "every event, present and future")
	w.fill(map[string]string{"#url": recv.URL() + "/console"})
	browse(t, w.ctx, "ticking the events", chromedp.Click(chromedp.CSS(`input[name="all"]`)),
		chromedp.Click(chromedp.CSS(`input[value="user.created"]`)))
	w.click(`form[action="/admin/webhooks"] button[type="submit"]`)
	w.says("shown only once", recv.URL()+"/console", "user.created")
	secret, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`document.getElementById('webhook-secret').innerText`))
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("the secret on the page: %q, %v", secret, err)
	}
	w.open("/admin/webhooks")
	w.saysNot(secret)

	_, err = newClient(svc.URL).register(ctxT(t), "hooked@example.com", "a long enough passphrase")
	mustOK(t, err)
	got := recv.WaitFor(t, 20*time.Second, "user.created", func(got []testsupport.ReceivedWebhook) bool { return len(got) > 0 })
	if err := testsupport.VerifyStandardWebhook(secret, got[0].Header, got[0].Body, time.Now(), time.Minute); err != nil {
		t.Errorf("the delivery does not verify with the secret the page showed: %v", err)
	}
	w.click(`table.webhooks tbody a`)
	w.wantHeading("Deliveries")
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(pageText(t, w.ctx), "delivered") && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		w.open("/admin/webhooks/" + strings.TrimPrefix(w.path(), "/admin/webhooks/"))
	}
	w.says("user.created", "delivered", "204")

	w.click(`a[href="/admin/webhooks"]:not([aria-current])`)
	w.click(`table.webhooks button.danger-link`)
	w.wantHeading("Webhooks")
	w.says("The webhook has been deleted", "No webhook yet.")
}

// path is the tab's current path.
func (w *walk) path() string {
	w.t.Helper()
	p, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`location.pathname`))
	if err != nil {
		w.t.Fatal(err)
	}
	return p
}

// dashboardScreenshot saves the dashboard, with a month of made-up
// history, to CONSOLE_SCREENSHOT (the README's picture: make screenshot).
func dashboardScreenshot(t *testing.T, w *walk, dbURL string) {
	t.Helper()
	db, err := sql.Open("sqlite", strings.TrimPrefix(dbURL, "sqlite:"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	stamp := func(days, minutes int) string {
		return now.AddDate(0, 0, -days).Add(time.Duration(minutes) * time.Minute).Format("2006-01-02T15:04:05.000000Z07:00")
	}
	rows, err := db.Query(`SELECT id FROM users ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		mustOK(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	mustOK(t, rows.Err())
	for i, id := range ids {
		day := (i*11 + (i*i)/3) % 30
		if _, err := db.Exec(`UPDATE users SET created_at = ? WHERE id = ?`, stamp(day, -i), id); err != nil {
			t.Fatal(err)
		}
	}
	for d := range 30 {
		for i := range 3 + (d*5)%9 {
			typ := "login_succeeded"
			switch {
			case i%4 == 3:
				typ = "login_failed"
			case i == 2 && d%4 == 0:
				typ = "account_locked"
			}
			if _, err := db.Exec(`INSERT INTO audit_log (id, type, at) VALUES (?, ?, ?)`,
				fmt.Sprintf("00000000-0000-7000-8000-%06d%06d", d, i), typ, stamp(d, -i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.open("/admin")
	browse(t, w.ctx, "sizing the window", chromedp.EmulateViewport(1280, 900))
	png, err := chromedp.Run(w.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := os.Getenv("CONSOLE_SCREENSHOT")
	if err := os.WriteFile(path, png, 0o644); err != nil { //nolint:gosec // a picture for the README
		t.Fatal(err)
	}
	t.Logf("dashboard saved to %s", path)
	// The same on a phone.
	browse(t, w.ctx, "sizing the window as a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile))
	w.open("/admin")
	if png, err = chromedp.Run(w.ctx, chromedp.FullScreenshot(100)); err != nil {
		t.Fatal(err)
	}
	phone := strings.TrimSuffix(path, ".png") + "-phone.png"
	if err := os.WriteFile(phone, png, 0o644); err != nil { //nolint:gosec // a picture for the README
		t.Fatal(err)
	}
	t.Logf("dashboard saved to %s", phone)
	browse(t, w.ctx, "sizing the window back", chromedp.EmulateViewport(1280, 1024))
}

// TestConsoleManager: a MANAGER sees the staff pages and may do exactly
// what the API lets a MANAGER do.
func TestConsoleManager(t *testing.T) {
	t.Parallel()
	svc := startService(t, t.TempDir(), baseEnv(t, sqliteURL(t)))
	admin := consoleAdminClient(t, svc)
	const pass = "a long enough passphrase"
	manager := verifiedUser(t, svc, "manager@example.com", pass)
	admin.mustDo(t, http.MethodPatch, "/users/"+manager.ID+"/role", map[string]string{"role": "MANAGER"}, nil)
	plain := verifiedUser(t, svc, "plain@example.com", pass)
	var me user
	admin.mustDo(t, http.MethodGet, "/users/me", nil, &me)

	w := newWalk(t, svc)
	w.signIn("/admin", "manager@example.com", pass)
	w.wantHeading("Dashboard")
	if w.count(`nav.tabs a[href="/admin/audit"]`) != 0 {
		t.Error("a MANAGER is offered the audit log, which the API refuses them")
	}
	w.open("/admin/audit")
	w.wantHeading("Audit log")
	w.says("ADMIN accounts only")

	w.open("/admin/users/" + me.ID)
	w.says("Your role cannot change this account")
	if n := w.count(`main form`); n != 0 {
		t.Errorf("%d forms on an ADMIN's page for a MANAGER", n)
	}

	w.open("/admin/users/" + plain.ID)
	if w.count(`form[action$="/role"]`) != 0 {
		t.Error("a MANAGER is offered a role change")
	}
	w.click(`form[action$="/lock"] button`)
	w.says("Account locked")
	w.click(`form[action$="/unlock"] button`)
	w.says("Account unlocked.")

	w.open("/admin/invite")
	if w.count(`#role`) != 0 {
		t.Error("a MANAGER is offered a role for the invited")
	}
	w.fill(map[string]string{"#email": "friend@example.com"})
	w.click(`form[action="/admin/invite"] button`)
	w.says("Invitation sent.", "AUTHENTICATED")

	// The MANAGER's own account pages are there too.
	w.click(`nav.sections a[href="/account"]`)
	w.wantHeading("Your account")
	w.says("manager@example.com", "MANAGER")
}

// TestConsoleAccount: a plain user signs in, is refused the staff pages,
// and uses every account page: profile, sessions, password, the second
// factor enrolled from the QR code's secret and a sign-in with a code,
// and an email change.
func TestConsoleAccount(t *testing.T) {
	t.Parallel()
	svc := startService(t, t.TempDir(), baseEnv(t, sqliteURL(t)))
	const email, pass, newPass = "person@example.com", "a long enough passphrase", "an even longer passphrase"
	verifiedUser(t, svc, email, pass)

	w := newWalk(t, svc)
	w.signIn("/admin", email, pass)
	w.wantHeading("Not for your account")
	w.click(`main a[href="/account"]`)
	w.wantHeading("Your account")
	if w.count(`nav.sections a[href="/admin"]`) != 0 {
		t.Error("a plain user is offered the staff section")
	}

	w.fill(map[string]string{"#nickname": "person_one", "#first_name": "Pat", "#preferred_language": "en"})
	w.click(`form[action="/account/profile"] button`)
	w.says("Profile saved.")

	// Two other sessions: end one, then every other.
	other1 := newClient(svc.URL)
	other1.mustLogin(t, ctxT(t), email, pass)
	other2 := newClient(svc.URL)
	other2.mustLogin(t, ctxT(t), email, pass)
	w.click(`nav.tabs a[href="/account/sessions"]`)
	w.wantHeading("Your sessions")
	if n := w.count(`form[action$="/end"] button`); n != 2 {
		t.Fatalf("%d End buttons, want 2", n)
	}
	w.click(`form[action$="/end"] button`)
	w.says("The session has ended.")
	w.click(`form[action="/account/sessions/end-others"] button`)
	w.says("Every other session has ended.", "this browser")
	for i, c := range []*client{other1, other2} {
		if _, err := c.me(ctxT(t)); err == nil {
			t.Errorf("session %d still works", i+1)
		}
	}

	// Password.
	w.click(`nav.tabs a[href="/account/password"]`)
	w.fill(map[string]string{"#current_password": pass, "#new_password": newPass, "#repeat_password": newPass})
	w.click(`form[action="/account/password"] button`)
	w.says("Password changed.")

	// The second factor: enrol from the QR code's secret, as a phone would.
	w.click(`nav.tabs a[href="/account/two-factor"]`)
	w.wantHeading("Two-factor sign-in")
	w.fill(map[string]string{"#enrol-password": newPass})
	w.click(`form[action="/account/two-factor/enrol"] button`)
	w.says("Scan this code")
	// The phone reads the QR code: the picture as drawn, decoded.
	secret := scanQR(t, w, email)
	shown, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`document.querySelector('#totp-secret').innerText`))
	if err != nil || shown != secret {
		t.Errorf("the page shows the secret %q, the QR code holds %q (%v)", shown, secret, err)
	}
	app := newAuthenticator(t, secret)
	w.fill(map[string]string{"#code": app.code()})
	w.click(`form[action="/account/two-factor/confirm"] button`)
	w.wantHeading("Two-factor sign-in")
	w.says("Your recovery codes", "shown only once")
	codes, err := chromedp.Run(w.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('ul.codes code')).map(e => e.innerText)`))
	if err != nil || len(codes) != 10 {
		t.Fatalf("%d recovery codes, %v", len(codes), err)
	}
	w.click(`main a[href="/account/two-factor"]`)
	w.says("is on")

	// Sign out, and in again: the password, then a code.
	w.click(`form[action="/account/sign-out"] button`)
	w.wantHeading("Sign in")
	w.says("You are signed out.")
	w.fill(map[string]string{"#email": email, "#password": newPass})
	w.click(`form[action="/account/sign-in"] button`)
	w.wantHeading("Enter your code")
	w.fill(map[string]string{"#code": "000000"})
	w.click(`form[action="/account/sign-in/code"] button`)
	w.wantHeading("Enter your code")
	w.says("Invalid code.")
	w.fill(map[string]string{"#code": app.code()})
	w.click(`form[action="/account/sign-in/code"] button`)
	w.wantHeading("Your account")

	// New recovery codes, then off with one of them.
	w.open("/account/two-factor")
	w.fill(map[string]string{"#regen-code": app.code()})
	w.click(`form[action="/account/two-factor/recovery-codes"] button`)
	w.says("Your recovery codes")
	fresh, err := chromedp.Run(w.ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('ul.codes code')).map(e => e.innerText)`))
	if err != nil || len(fresh) != 10 {
		t.Fatalf("%d new recovery codes, %v", len(fresh), err)
	}
	w.open("/account/two-factor")
	w.fill(map[string]string{"#off-password": newPass, "#off-code": codes[0]})
	w.click(`form[action="/account/two-factor/disable"] button`)
	w.says("Invalid code.") // the old codes died with the new ones
	w.fill(map[string]string{"#off-password": newPass, "#off-code": fresh[0]})
	w.click(`form[action="/account/two-factor/disable"] button`)
	w.says("The second factor is off.")

	// Email change, through the link of the log's email.
	w.click(`nav.tabs a[href="/account/email"]`)
	w.fill(map[string]string{"#new_email": "moved@example.com", "#password": newPass})
	w.click(`form[action="/account/email"] button`)
	w.says("a link to confirm the change has been sent")
	link := svc.mailLink(t, "moved@example.com", "email_change")
	w.open(strings.TrimPrefix(link, svc.URL))
	w.wantHeading("Confirm your new email address")
	w.click(`form button[type="submit"]`)
	w.wantHeading("Email changed")
	w.open("/account")
	w.says("moved@example.com")

	// Last, the account itself: deleted with the password, signed out.
	w.click(`main a[href="/account/delete"]`)
	w.wantHeading("Delete your account")
	w.fill(map[string]string{"#password": newPass})
	w.click(`form[action="/account/delete"] button`)
	w.wantHeading("Sign in")
	w.says("Your account has been deleted.")
	if err := newClient(svc.URL).login(ctxT(t), "moved@example.com", newPass); err == nil {
		t.Error("the deleted account still logs in")
	}
	t.Logf("axe-core checked %d pages", w.pages)
}

// TestConsoleSignInLockout: the sign-in form counts wrong passwords as
// /login/ does, and says the account is locked.
func TestConsoleSignInLockout(t *testing.T) {
	t.Parallel()
	svc := startService(t, t.TempDir(), baseEnv(t, sqliteURL(t)))
	const email, pass = "forgetful@example.com", "a long enough passphrase"
	verifiedUser(t, svc, email, pass)
	w := newWalk(t, svc)
	w.open("/account")
	for range 3 { // MAX_LOGIN_ATTEMPTS
		w.fill(map[string]string{"#email": email, "#password": "not the passphrase"})
		w.click(`form[action="/account/sign-in"] button`)
		w.wantHeading("Sign in")
	}
	w.fill(map[string]string{"#email": email, "#password": pass})
	w.click(`form[action="/account/sign-in"] button`)
	w.wantHeading("Sign in")
	w.says("Account locked due to too many failed login attempts.")

	// The unlock link of the lock email opens a page of the console's look.
	w.open(strings.TrimPrefix(svc.mailLink(t, email, "account_locked"), svc.URL))
	w.wantHeading("Unlock your account")
	w.click(`form button[type="submit"]`)
	w.wantHeading("Account unlocked")
	w.signIn("/account", email, pass)
	w.wantHeading("Your account")
}

// TestConsoleRefusesFormsFromAnotherOrigin: a page of another origin posts
// a form to the console (even with a stolen CSRF token), and a console
// page posts one without its token: both are refused and nothing changes.
func TestConsoleRefusesFormsFromAnotherOrigin(t *testing.T) {
	t.Parallel()
	svc := startService(t, t.TempDir(), baseEnv(t, sqliteURL(t)))
	const email, pass = "target@example.com", "a long enough passphrase"
	verifiedUser(t, svc, email, pass)
	api := newClient(svc.URL)
	api.mustLogin(t, ctxT(t), email, pass)

	w := newWalk(t, svc)
	w.signIn("/account", email, pass)
	w.wantHeading("Your account")
	token, err := chromedp.Run(w.ctx, chromedp.Evaluate[string](`document.querySelector('input[name=csrf]').value`))
	if err != nil || token == "" {
		t.Fatalf("no CSRF token: %v", err)
	}
	// The other origin: localhost instead of 127.0.0.1, another port.
	evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(rw, `<!DOCTYPE html><html lang="en"><head><title>Prizes</title></head><body><h1>You won</h1>
<form method="post" action="%s/account/profile"><input type="hidden" name="csrf" value="%s">
<input type="hidden" name="first_name" value="Mallory"><button type="submit">Claim</button></form></body></html>`, svc.URL, token)
	}))
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)
	browse(t, w.ctx, "opening the other site", chromedp.Navigate(evilURL))
	waitJS(t, w.ctx, "the other site's page", `document.querySelector('h1') && document.querySelector('h1').innerText === 'You won'`)
	w.click(`button[type="submit"]`)
	w.wantHeading("Request refused")
	w.says("sent from another site", "Nothing was changed")

	// From the console's own page, without its token.
	w.open("/account")
	w.fill(map[string]string{"#first_name": "Mallory"})
	if _, err := chromedp.Run(w.ctx, chromedp.Evaluate[bool](`document.querySelector('form[action="/account/profile"] input[name=csrf]').remove(), true`)); err != nil {
		t.Fatal(err)
	}
	w.click(`form[action="/account/profile"] button`)
	w.wantHeading("Request refused")
	w.says("did not carry the token of your session")

	me, err := api.me(ctxT(t))
	mustOK(t, err)
	var profile struct {
		FirstName *string `json:"first_name"`
	}
	api.mustDo(t, http.MethodGet, "/users/me", nil, &profile)
	if profile.FirstName != nil && *profile.FirstName == "Mallory" {
		t.Fatalf("the profile of %s was changed by a forged form", me.Email)
	}
	// The real form still works.
	w.open("/account")
	w.fill(map[string]string{"#first_name": "Trudy"})
	w.click(`form[action="/account/profile"] button`)
	w.says("Profile saved.")
	api.mustDo(t, http.MethodGet, "/users/me", nil, &profile)
	if profile.FirstName == nil || *profile.FirstName != "Trudy" {
		t.Errorf("first name %v after the console's own form", profile.FirstName)
	}
}
