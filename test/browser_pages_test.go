package e2e_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The pages behind the links of the lifecycle emails, in a real browser:
// the unlock page of a lock email, the invitation's password form, and the
// email change's confirmation button. Each works without JavaScript.

var unlockLink = regexp.MustCompile(`https?://\S+/unlock\?token=\S+`)

// TestBrowserUnlockPage: three wrong passwords lock the account; the lock
// email's link opens a page whose button lifts the lock; the owner then
// logs in with the password they had.
func TestBrowserUnlockPage(t *testing.T) {
	t.Parallel()
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqliteURL(t), m, 0))
	ctxHTTP := ctxT(t)
	c := newClient(svc.URL)
	const email, password = "locked.out@example.com", "the owner's passphrase"
	_, err := c.register(ctxHTTP, email, password)
	mustOK(t, err)
	if status, err := c.get(ctxHTTP, mailLink.FindString(m.waitFor(t, email, "Confirm your email", 15*time.Second).Text)); err != nil || status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, err)
	}
	for range 3 {
		_, _, _ = c.passwordLogin(ctxHTTP, email, "a guess that is wrong")
	}
	if _, ans, _ := c.passwordLogin(ctxHTTP, email, password); ans.Status != http.StatusBadRequest {
		t.Fatalf("the right password before the unlock: %d, want 400 locked", ans.Status)
	}
	link := unlockLink.FindString(m.waitFor(t, email, "Your account has been locked", 15*time.Second).Text)
	if link == "" {
		t.Fatal("no unlock link in the lock email")
	}

	ctx := tab(t)
	browse(t, ctx, "pressing the unlock button",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the outcome page", `document.querySelector('h1') && document.querySelector('h1').innerText === 'Account unlocked'`)
	if _, ans, _ := c.passwordLogin(ctxHTTP, email, password); ans.Status != http.StatusOK {
		t.Errorf("login after the unlock page: %d", ans.Status)
	}
	// The link was single use: a second visit's button is refused.
	browse(t, ctx, "pressing it again",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the refusal", `document.body && document.body.innerText.includes('Invalid or expired token')`)
}

// TestBrowserInvitationPage: an ADMIN invites someone; the invitation's
// link opens a form that sets the password; the person then logs in.
func TestBrowserInvitationPage(t *testing.T) {
	t.Parallel()
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqliteURL(t), m, 0))
	ctxHTTP := ctxT(t)
	admin := newClient(svc.URL).mustLogin(t, ctxHTTP, "admin@example.com", "admin-password-for-e2e")
	const email, password = "invited.person@example.com", "my very own passphrase"
	ans := newClient(svc.URL).withToken(admin.AccessToken).mustRaw(t, ctxHTTP, http.MethodPost, "/users/invite", map[string]string{"email": email}, nil)
	if ans.Status != http.StatusCreated {
		t.Fatalf("invite: %+v", ans)
	}
	link := invitationLink.FindString(m.waitFor(t, email, "You are invited to usersvc", 15*time.Second).Text)
	if link == "" {
		t.Fatal("no invitation link in the email")
	}
	ctx := tab(t)
	browse(t, ctx, "setting the password",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.ID("p1")),
		chromedp.SendKeys(chromedp.ID("p1"), password),
		chromedp.SendKeys(chromedp.ID("p2"), password),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the outcome page", `document.querySelector('h1') && document.querySelector('h1').innerText === 'Your account is ready'`)
	if _, ans, _ := newClient(svc.URL).passwordLogin(ctxHTTP, email, password); ans.Status != http.StatusOK {
		t.Errorf("login with the password set on the page: %d", ans.Status)
	}
}

// TestBrowserEmailChangePage: a user asks to change their email; the link
// mailed to the new address opens a page whose button confirms; the user
// then logs in with the new address.
func TestBrowserEmailChangePage(t *testing.T) {
	t.Parallel()
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqliteURL(t), m, 0))
	ctxHTTP := ctxT(t)
	c := newClient(svc.URL)
	const oldEmail, newEmail, password = "old.address@example.com", "new.address@example.com", "a passphrase that moves"
	_, err := c.register(ctxHTTP, oldEmail, password)
	mustOK(t, err)
	if status, err := c.get(ctxHTTP, mailLink.FindString(m.waitFor(t, oldEmail, "Confirm your email", 15*time.Second).Text)); err != nil || status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, err)
	}
	c.mustLogin(t, ctxHTTP, oldEmail, password)
	if a := c.mustRaw(t, ctxHTTP, http.MethodPost, "/users/me/email", map[string]string{"new_email": newEmail, "password": password}, nil); a.Status != http.StatusAccepted {
		t.Fatalf("request: %+v", a)
	}
	link := emailChangeLink.FindString(m.waitFor(t, newEmail, "Confirm your new email address", 15*time.Second).Text)
	if link == "" {
		t.Fatal("no confirmation link in the email")
	}
	if u, err := url.Parse(link); err != nil || u.Query().Get("token") == "" {
		t.Fatalf("link %q", link)
	}
	ctx := tab(t)
	browse(t, ctx, "confirming",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`form button[type="submit"]`)),
		chromedp.Click(chromedp.CSS(`form button[type="submit"]`)),
	)
	waitJS(t, ctx, "the outcome page", `document.querySelector('h1') && document.querySelector('h1').innerText === 'Email changed'`)
	if _, ans, _ := newClient(svc.URL).passwordLogin(ctxHTTP, newEmail, password); ans.Status != http.StatusOK {
		t.Errorf("login with the new address: %d", ans.Status)
	}
	if text := pageText(t, ctx); strings.Contains(text, "token") {
		t.Errorf("the outcome page shows the token:\n%s", text)
	}
}
