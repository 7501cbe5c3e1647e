package e2e_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

// The account lifecycle (PRODUCT.md 8.2 to 8.4) against the real binary
// on PostgreSQL, with the links followed from the emails Mailpit received,
// as a person would: an email change and an invitation.

var (
	emailChangeLink = regexp.MustCompile(`https?://\S+/email-change\?token=\S+`)
	invitationLink  = regexp.MustCompile(`https?://\S+/invitation\?token=\S+`)
	hiddenToken     = regexp.MustCompile(`name="token" value="([^"]+)"`)
)

// linkIn finds the link pattern matches in an email's text part, checks
// that it is based at base and that the HTML part carries it too, and
// returns it.
func linkIn(tb testing.TB, msg mailMessage, pattern *regexp.Regexp, base string) string {
	tb.Helper()
	link := pattern.FindString(msg.Text)
	if link == "" || !strings.HasPrefix(link, base+"/") {
		tb.Fatalf("no link based at %s in:\n%s", base, msg.Text)
	}
	if msg.HTML == "" || !strings.Contains(msg.HTML, link) && !strings.Contains(msg.HTML, strings.ReplaceAll(link, "&", "&amp;")) {
		tb.Errorf("the HTML part lacks the link %s", link)
	}
	return link
}

// page opens a link as a browser does and wants an HTML page with a form
// posting to action; it returns the form's hidden token.
func page(tb testing.TB, c *client, link, action string) string {
	tb.Helper()
	a := c.mustRaw(tb, ctxT(tb), http.MethodGet, link, nil, http.Header{"Accept": {"text/html"}})
	if a.Status != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(a.Body, `<form method="post" action="`+action+`">`) {
		tb.Fatalf("GET %s: %d %s, want a page with a form posting to %s:\n%s", link, a.Status, a.Header.Get("Content-Type"), action, a.Body)
	}
	if strings.Contains(a.Body, "<script") {
		tb.Errorf("GET %s: the page has a script; it must work without", link)
	}
	m := hiddenToken.FindStringSubmatch(a.Body)
	if m == nil {
		tb.Fatalf("GET %s: no token in the form:\n%s", link, a.Body)
	}
	return m[1]
}

func TestEmailChangeThroughMailpit(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqlstoretest.NewPostgresURL(t), m, 0))
	const oldEmail, newEmail, password = "before@example.com", "after@example.com", "a passphrase that moves"

	c := newClient(svc.URL)
	_, err := c.register(ctx, oldEmail, password)
	mustOK(t, err)
	verify := m.waitFor(t, oldEmail, "Confirm your email", 15*time.Second)
	if status, err := c.get(ctx, mailLink.FindString(verify.Text)); err != nil || status != http.StatusOK {
		t.Fatalf("verify: %d %v", status, err)
	}
	c.mustLogin(t, ctx, oldEmail, password)
	elsewhere := newClient(svc.URL)
	elsewhere.mustLogin(t, ctx, oldEmail, password)

	a := c.mustRaw(t, ctx, http.MethodPost, "/users/me/email", map[string]string{"new_email": newEmail, "password": password}, nil)
	if a.Status != http.StatusAccepted {
		t.Fatalf("request: %d %s, want 202", a.Status, a.Body)
	}
	notice := m.waitFor(t, oldEmail, "A change of your account's email was requested", 15*time.Second)
	if emailChangeLink.MatchString(notice.Text) || strings.Contains(notice.Text, newEmail) {
		t.Errorf("the notice to the old address carries the link or the new address:\n%s", notice.Text)
	}
	msg := m.waitFor(t, newEmail, "Confirm your new email address", 15*time.Second)
	link := linkIn(t, msg, emailChangeLink, svc.URL)
	if me, err := c.me(ctx); err != nil || me.Email != oldEmail {
		t.Fatalf("before the link is followed: %+v %v, want the old address", me, err)
	}

	browser := newClient(svc.URL)
	token := page(t, browser, link, "/email-change/confirm")
	if me, err := c.me(ctx); err != nil || me.Email != oldEmail {
		t.Fatalf("opening the page changed the email: %+v %v", me, err)
	}
	done := browser.mustRaw(t, ctx, http.MethodPost, "/email-change/confirm", url.Values{"token": {token}}, http.Header{"Accept": {"text/html"}})
	if done.Status != http.StatusOK || !strings.Contains(done.Body, newEmail) {
		t.Fatalf("confirming through the page: %d\n%s", done.Status, done.Body)
	}
	if me, err := c.me(ctx); err != nil || me.Email != newEmail || !me.EmailVerified {
		t.Errorf("after confirming, the asking session sees %+v %v; want %s, verified", me, err, newEmail)
	}
	if a := elsewhere.mustRaw(t, ctx, http.MethodGet, "/users/me", nil, nil); a.Status != http.StatusUnauthorized {
		t.Errorf("another session after the change: %d, want 401", a.Status)
	}
	m.waitFor(t, oldEmail, "Your account's email address was changed", 15*time.Second)
	newClient(svc.URL).mustLogin(t, ctx, newEmail, password)
	if _, ans, _ := newClient(svc.URL).passwordLogin(ctx, oldEmail, password); ans.Status != http.StatusUnauthorized {
		t.Errorf("login with the old address: %d %s, want 401", ans.Status, ans.Body)
	}
	again := newClient(svc.URL).mustRaw(t, ctx, http.MethodPost, "/email-change/confirm", map[string]string{"token": token}, nil)
	if again.Status != http.StatusBadRequest || again.detail() != "Invalid or expired token" {
		t.Errorf("the link a second time: %d %s", again.Status, again.Body)
	}
	if strings.Contains(svc.logs.String(), token) {
		t.Error("the email change token reached the service's log")
	}
}

func TestInvitationThroughMailpit(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	m := startMailpit(t, 0)
	svc := startService(t, t.TempDir(), mailEnv(t, sqlstoretest.NewPostgresURL(t), m, 0))
	admin := newClient(svc.URL)
	admin.mustLogin(t, ctx, "admin@example.com", "admin-password-for-e2e")
	const invitee, other, password = "invitee@example.com", "second.invitee@example.com", "my own chosen passphrase"

	a := admin.mustRaw(t, ctx, http.MethodPost, "/users/invite", map[string]any{"email": invitee, "role": "MANAGER", "first_name": "Grace"}, nil)
	if a.Status != http.StatusCreated {
		t.Fatalf("invite: %d %s, want 201", a.Status, a.Body)
	}
	var invited struct {
		user
		InvitationPending bool `json:"invitation_pending"`
	}
	mustOK(t, json.Unmarshal([]byte(a.Body), &invited))
	if invited.EmailVerified || !invited.InvitationPending || invited.Role != "MANAGER" {
		t.Errorf("invited: %s", a.Body)
	}

	// Until accepted, the address answers a login as an unknown one does.
	_, ansInvited, _ := newClient(svc.URL).passwordLogin(ctx, invitee, password)
	_, ansUnknown, _ := newClient(svc.URL).passwordLogin(ctx, "nobody.at.all@example.com", password)
	if ansInvited.Status != ansUnknown.Status || ansInvited.Body != ansUnknown.Body || ansInvited.Status != http.StatusUnauthorized {
		t.Errorf("login of the invitation %d %s, of an unknown email %d %s: want the same 401", ansInvited.Status, ansInvited.Body, ansUnknown.Status, ansUnknown.Body)
	}

	msg := m.waitFor(t, invitee, "You are invited", 15*time.Second)
	link := linkIn(t, msg, invitationLink, svc.URL)
	browser := newClient(svc.URL)
	token := page(t, browser, link, "/invitations/accept")

	var tp tokenPair
	a = newClient(svc.URL).mustRaw(t, ctx, http.MethodPost, "/invitations/accept", map[string]string{"token": token, "password": password}, nil)
	if a.Status != http.StatusOK || json.Unmarshal([]byte(a.Body), &tp) != nil || tp.AccessToken == "" || tp.RefreshToken == "" {
		t.Fatalf("accept: %d %s, want the tokens of /login/", a.Status, a.Body)
	}
	signedIn := newClient(svc.URL).withToken(tp.AccessToken)
	me := signedIn.mustRaw(t, ctx, http.MethodGet, "/users/me", nil, nil)
	var meBody map[string]any
	mustOK(t, json.Unmarshal([]byte(me.Body), &meBody))
	if me.Status != http.StatusOK || meBody["email_verified"] != true || meBody["invitation_pending"] != false || meBody["role"] != "MANAGER" {
		t.Errorf("the invited person signed in: %d %s", me.Status, me.Body)
	}
	sessions := signedIn.mustRaw(t, ctx, http.MethodGet, "/users/me/sessions", nil, nil)
	var list struct {
		Items []struct {
			Current bool    `json:"current"`
			IP      *string `json:"ip"`
		} `json:"items"`
	}
	mustOK(t, json.Unmarshal([]byte(sessions.Body), &list))
	if sessions.Status != http.StatusOK || len(list.Items) != 1 || !list.Items[0].Current || list.Items[0].IP == nil || *list.Items[0].IP != "127.0.0.1" {
		t.Errorf("sessions after accepting: %d %s", sessions.Status, sessions.Body)
	}
	newClient(svc.URL).mustLogin(t, ctx, invitee, password)
	if a := newClient(svc.URL).mustRaw(t, ctx, http.MethodPost, "/invitations/accept", map[string]string{"token": token, "password": password}, nil); a.Status != http.StatusBadRequest || a.detail() != "Invalid or expired invitation" {
		t.Errorf("the link a second time: %d %s", a.Status, a.Body)
	}

	// A second invitation, re-sent, then accepted through the page's form.
	a = admin.mustRaw(t, ctx, http.MethodPost, "/users/invite", map[string]any{"email": other}, nil)
	mustOK(t, json.Unmarshal([]byte(a.Body), &invited))
	if a.Status != http.StatusCreated || invited.Role != "AUTHENTICATED" {
		t.Fatalf("second invitation: %d %s", a.Status, a.Body)
	}
	first := m.waitFor(t, other, "You are invited", 15*time.Second)
	if a := admin.mustRaw(t, ctx, http.MethodPost, "/users/"+invited.ID+"/invitation", nil, nil); a.Status != http.StatusAccepted {
		t.Fatalf("resend: %d %s", a.Status, a.Body)
	}
	var second mailMessage
	deadline := time.Now().Add(15 * time.Second)
	for second.ID == "" && time.Now().Before(deadline) {
		for _, s := range m.messages(t) {
			if s.ID != first.ID && len(s.To) == 1 && s.To[0].Address == other {
				second = m.message(t, s.ID)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if second.ID == "" {
		t.Fatal("no second invitation arrived")
	}
	oldToken := page(t, browser, linkIn(t, first, invitationLink, svc.URL), "/invitations/accept")
	newToken := page(t, browser, linkIn(t, second, invitationLink, svc.URL), "/invitations/accept")
	form := func(token string) answer {
		return browser.mustRaw(t, ctx, http.MethodPost, "/invitations/accept",
			url.Values{"token": {token}, "password": {password}, "repeat_password": {password}}, http.Header{"Accept": {"text/html"}})
	}
	if a := form(oldToken); a.Status != http.StatusBadRequest {
		t.Errorf("the first link after a resend: %d, want 400", a.Status)
	}
	if a := form(newToken); a.Status != http.StatusOK || !strings.HasPrefix(a.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("accepting through the page: %d\n%s", a.Status, a.Body)
	}
	newClient(svc.URL).mustLogin(t, ctx, other, password)
	if a := admin.mustRaw(t, ctx, http.MethodPost, "/users/"+invited.ID+"/invitation", nil, nil); a.Status != http.StatusConflict {
		t.Errorf("resending an accepted invitation: %d %s, want 409", a.Status, a.Body)
	}
}
