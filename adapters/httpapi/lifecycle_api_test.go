package httpapi_test

// PRODUCT.md 8.2 (sessions a user can see and end), 8.3 (email change),
// 8.4 (invitations) and section 4's rule on staff email changes, row by
// row, as a client would use them.

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// sessionItem is one session of GET /users/me/sessions.
type sessionItem struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         *string   `json:"ip"`
	UserAgent  *string   `json:"user_agent"`
	Current    bool      `json:"current"`
}

// sessionKeys are the fields of a session, and nothing else.
var sessionKeys = []string{"created_at", "current", "expires_at", "id", "ip", "last_used_at", "user_agent"}

// decodeSessions checks a 200 session list and returns its items.
func decodeSessions(tb testing.TB, rec *httptest.ResponseRecorder) []sessionItem {
	tb.Helper()
	wantStatus(tb, rec, http.StatusOK)
	var raw struct {
		Items []map[string]any `json:"items"`
	}
	decodeBody(tb, rec, &raw)
	for _, it := range raw.Items {
		if len(it) != len(sessionKeys) {
			tb.Errorf("session %v: want exactly the fields %v", it, sessionKeys)
		}
		for _, k := range sessionKeys {
			if _, ok := it[k]; !ok {
				tb.Errorf("session %v lacks %q", it, k)
			}
		}
	}
	var list struct {
		Items []sessionItem `json:"items"`
	}
	decodeBody(tb, rec, &list)
	return list.Items
}

// mySessions lists the sessions of token's user.
func (h *harness) mySessions(token string) []sessionItem {
	h.tb.Helper()
	return decodeSessions(h.tb, h.do(http.MethodGet, "/users/me/sessions", token, nil))
}

// sessionOf is the id of the session token belongs to, read from the list.
func (h *harness) sessionOf(token string) string {
	h.tb.Helper()
	for _, s := range h.mySessions(token) {
		if s.Current {
			return s.ID
		}
	}
	h.tb.Fatal("no session is current")
	return ""
}

// linkToken is the token of the last message of kind to address, whose
// link must be PUBLIC_BASE_URL+path?token=….
func (h *harness) linkToken(to string, kind domain.MessageKind, path string) string {
	h.tb.Helper()
	msgs := h.mail.sent(to, kind)
	if len(msgs) == 0 {
		h.tb.Fatalf("no %s email sent to %s", kind, to)
	}
	link := msgs[len(msgs)-1].Link
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(link, publicBaseURL+path+"?") || u.Path != path {
		h.tb.Fatalf("%s link %q is not %s%s?token=…", kind, link, publicBaseURL, path)
	}
	token := u.Query().Get("token")
	if token == "" || len(u.Query()) != 1 {
		h.tb.Fatalf("%s link %q has no token, or more than a token", kind, link)
	}
	return token
}

// emailChangeToken is the token of the last email change link mailed to address.
func (h *harness) emailChangeToken(address string) string {
	h.tb.Helper()
	return h.linkToken(address, domain.MessageEmailChange, "/email-change")
}

// invitationToken is the token of the last invitation mailed to address.
func (h *harness) invitationToken(address string) string {
	h.tb.Helper()
	return h.linkToken(address, domain.MessageInvitation, "/invitation")
}

// invite has the bootstrap ADMIN invite a fresh address and returns the
// invited user.
func (h *harness) invite(prefix string) userBody {
	h.tb.Helper()
	rec := h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{"email": h.email(prefix)})
	wantStatus(h.tb, rec, http.StatusCreated)
	return decodeUser(h.tb, rec)
}

// wantNoMail checks that nothing of kind went to address.
func (h *harness) wantNoMail(address string, kind domain.MessageKind) {
	h.tb.Helper()
	if msgs := h.mail.sent(address, kind); len(msgs) != 0 {
		h.tb.Errorf("%d %s emails sent to %s, want none: %+v", len(msgs), kind, address, msgs)
	}
}

// events lists the audit events of type typ about target, newest first.
func (h *harness) events(typ domain.AuditEventType, target string) []auditItem {
	h.tb.Helper()
	return h.audit(url.Values{"event": {string(typ)}, "target": {target}, "limit": {"100"}}).Items
}

// --- 8.2 Sessions a user can see and end ---

func TestMySessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("sess")
	laptop := decodeTokens(t, h.doFrom("203.0.113.7:5555", http.Header{"User-Agent": {"Laptop/1.0"}},
		http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}))
	h.clock.Advance(time.Minute)
	longUA := strings.Repeat("é", 300)
	phone := decodeTokens(t, h.doFrom("[2001:db8::1]:443", http.Header{"User-Agent": {longUA}},
		http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}))

	t.Run("listed newest first, the caller's current", func(t *testing.T) {
		list := h.mySessions(phone.AccessToken)
		if len(list) != 2 {
			t.Fatalf("%d sessions, want 2: %+v", len(list), list)
		}
		newest, oldest := list[0], list[1]
		if !newest.Current || oldest.Current {
			t.Errorf("current = %v, %v; want the phone's (newest) only", newest.Current, oldest.Current)
		}
		if !newest.CreatedAt.After(oldest.CreatedAt) {
			t.Errorf("not newest first: %v then %v", newest.CreatedAt, oldest.CreatedAt)
		}
		if oldest.IP == nil || *oldest.IP != "203.0.113.7" || oldest.UserAgent == nil || *oldest.UserAgent != "Laptop/1.0" {
			t.Errorf("laptop session ip %v, user agent %v", oldest.IP, oldest.UserAgent)
		}
		if newest.IP == nil || *newest.IP != "2001:db8::1" {
			t.Errorf("phone session ip %v", newest.IP)
		}
		if newest.UserAgent == nil || *newest.UserAgent != strings.Repeat("é", 255) {
			t.Errorf("phone user agent not cut to 255 characters: %v", newest.UserAgent)
		}
		if !newest.LastUsedAt.Equal(newest.CreatedAt) || !newest.ExpiresAt.After(newest.CreatedAt) {
			t.Errorf("a fresh session: created %v, last used %v, expires %v", newest.CreatedAt, newest.LastUsedAt, newest.ExpiresAt)
		}
		// From the other token, the other one is current.
		if list := h.mySessions(laptop.AccessToken); !list[1].Current || list[0].Current {
			t.Errorf("from the laptop: current = %v, %v", list[0].Current, list[1].Current)
		}
		body := h.do(http.MethodGet, "/users/me/sessions/", phone.AccessToken, nil).Body.String()
		for _, secret := range []string{laptop.RefreshToken, phone.RefreshToken, laptop.AccessToken, phone.AccessToken} {
			if strings.Contains(body, secret) {
				t.Error("the session list shows a token")
			}
		}
	})

	t.Run("a refresh is the last use", func(t *testing.T) {
		h.clock.Advance(time.Hour) // the access tokens expired: refresh both
		laptop = decodeTokens(t, h.refresh(laptop.RefreshToken))
		refreshed := h.clock.Now()
		h.clock.Advance(time.Minute)
		phone = decodeTokens(t, h.refresh(phone.RefreshToken))
		h.admin.Token = h.login(h.admin.Email, h.admin.Password)
		for _, s := range h.mySessions(phone.AccessToken) {
			if !s.Current && !s.LastUsedAt.Equal(refreshed) {
				t.Errorf("laptop last used %v, want the refresh at %v", s.LastUsedAt, refreshed)
			}
			if s.Current && !s.LastUsedAt.Equal(h.clock.Now()) {
				t.Errorf("phone last used %v, want the refresh at %v", s.LastUsedAt, h.clock.Now())
			}
		}
	})

	t.Run("another user's, unknown and malformed sessions are not found", func(t *testing.T) {
		other := h.user(domain.RoleAuthenticated)
		otherSession := h.sessionOf(other.Token)
		for _, id := range []string{otherSession, unknownID, "not-a-session", strings.ToUpper(unknownID)} {
			wantDetail(t, h.do(http.MethodDelete, "/users/me/sessions/"+id, phone.AccessToken, nil), http.StatusNotFound, "Session not found")
		}
		h.wantTokenAlive(other.Token)
	})

	t.Run("ending one refuses its tokens from the next request", func(t *testing.T) {
		id := h.sessionOf(laptop.AccessToken)
		wantStatus(t, h.do(http.MethodDelete, "/users/me/sessions/"+id, phone.AccessToken, nil), http.StatusNoContent)
		h.wantTokenDead(laptop.AccessToken)
		wantInvalidRefresh(t, h.refresh(laptop.RefreshToken))
		h.wantTokenAlive(phone.AccessToken)
		if list := h.mySessions(phone.AccessToken); len(list) != 1 || !list[0].Current {
			t.Errorf("after ending the laptop's: %+v, want the phone's alone", list)
		}
		// Ended: not found any more, with or without the trailing slash.
		wantDetail(t, h.do(http.MethodDelete, "/users/me/sessions/"+id+"/", phone.AccessToken, nil), http.StatusNotFound, "Session not found")
		if ev := h.events(domain.EventSessionEnded, a.ID); len(ev) != 1 || ev[0].Detail == nil || !strings.Contains(*ev[0].Detail, id) {
			t.Errorf("audit events %+v, want one session_ended naming %s", ev, id)
		}
	})

	t.Run("the caller's own session may be ended", func(t *testing.T) {
		wantStatus(t, h.do(http.MethodDelete, "/users/me/sessions/"+h.sessionOf(phone.AccessToken), phone.AccessToken, nil), http.StatusNoContent)
		h.wantTokenDead(phone.AccessToken)
		wantInvalidRefresh(t, h.refresh(phone.RefreshToken))
	})

	t.Run("without a token", func(t *testing.T) {
		wantUnauthorized(t, h.do(http.MethodGet, "/users/me/sessions", "", nil))
		wantUnauthorized(t, h.do(http.MethodDelete, "/users/me/sessions", "", nil))
		wantUnauthorized(t, h.do(http.MethodDelete, "/users/me/sessions/"+unknownID, "", nil))
		wantUnauthorized(t, h.do(http.MethodGet, "/users/me/sessions", phone.AccessToken, nil)) // ended
	})
}

func TestEndMyOtherSessions(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("others")
	var pairs []tokenPair
	for range 3 {
		pairs = append(pairs, h.session(a.Email, a.Password))
	}
	other := h.user(domain.RoleAuthenticated)
	keep := pairs[1]
	wantStatus(t, h.do(http.MethodDelete, "/users/me/sessions/", keep.AccessToken, nil), http.StatusNoContent)
	for i, p := range pairs {
		if p == keep {
			h.wantTokenAlive(p.AccessToken)
			continue
		}
		h.wantTokenDead(p.AccessToken)
		wantInvalidRefresh(t, h.refresh(p.RefreshToken))
		t.Logf("session %d ended", i)
	}
	if list := h.mySessions(keep.AccessToken); len(list) != 1 || !list[0].Current {
		t.Errorf("sessions left %+v, want the caller's alone", list)
	}
	wantStatus(t, h.refresh(keep.RefreshToken), http.StatusOK)
	h.wantTokenAlive(other.Token) // another user's sessions are not touched
	// With nothing else left, it is still 204.
	wantStatus(t, h.do(http.MethodDelete, "/users/me/sessions", keep.AccessToken, nil), http.StatusNoContent)
	if ev := h.events(domain.EventSessionEnded, a.ID); len(ev) != 2 {
		t.Errorf("%d session_ended events, want 2", len(ev))
	}
}

func TestStaffSessionsOfAUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mgr := h.user(domain.RoleManager)
	peer := h.user(domain.RoleManager)
	otherAdmin := h.user(domain.RoleAdmin)
	plain := h.verified("plain")
	pairs := []tokenPair{h.session(plain.Email, plain.Password), h.session(plain.Email, plain.Password)}

	t.Run("ADMIN and MANAGER list them, none current", func(t *testing.T) {
		for _, staff := range []account{h.admin, mgr} {
			list := decodeSessions(t, h.do(http.MethodGet, "/users/"+plain.ID+"/sessions", staff.Token, nil))
			if len(list) != 2 {
				t.Fatalf("%d sessions, want 2", len(list))
			}
			for _, s := range list {
				if s.Current {
					t.Errorf("staff see a current session: %+v", s)
				}
			}
		}
		// Even the caller's own sessions are not current in staff's view.
		for _, s := range decodeSessions(t, h.do(http.MethodGet, "/users/"+h.admin.ID+"/sessions", h.admin.Token, nil)) {
			if s.Current {
				t.Errorf("an ADMIN's own session is current in staff's view")
			}
		}
	})

	t.Run("a MANAGER never on an ADMIN nor another MANAGER", func(t *testing.T) {
		for _, target := range []account{h.admin, otherAdmin, peer, mgr} {
			wantForbidden(t, h.do(http.MethodGet, "/users/"+target.ID+"/sessions", mgr.Token, nil))
			wantForbidden(t, h.do(http.MethodDelete, "/users/"+target.ID+"/sessions", mgr.Token, nil))
		}
		h.wantTokenAlive(peer.Token)
		h.wantTokenAlive(otherAdmin.Token)
	})

	t.Run("nobody else", func(t *testing.T) {
		user := h.user(domain.RoleAuthenticated)
		wantForbidden(t, h.do(http.MethodGet, "/users/"+plain.ID+"/sessions", user.Token, nil))
		wantForbidden(t, h.do(http.MethodDelete, "/users/"+plain.ID+"/sessions", user.Token, nil))
		wantForbidden(t, h.do(http.MethodGet, "/users/"+user.ID+"/sessions", user.Token, nil)) // not even one's own
		wantUnauthorized(t, h.do(http.MethodGet, "/users/"+plain.ID+"/sessions", "", nil))
	})

	t.Run("unknown users", func(t *testing.T) {
		for _, id := range []string{unknownID, "not-a-uuid"} {
			wantDetail(t, h.do(http.MethodGet, "/users/"+id+"/sessions", h.admin.Token, nil), http.StatusNotFound, "User not found")
			wantDetail(t, h.do(http.MethodDelete, "/users/"+id+"/sessions", mgr.Token, nil), http.StatusNotFound, "User not found")
		}
	})

	t.Run("ending them all", func(t *testing.T) {
		wantStatus(t, h.do(http.MethodDelete, "/users/"+plain.ID+"/sessions/", mgr.Token, nil), http.StatusNoContent)
		for _, p := range pairs {
			h.wantTokenDead(p.AccessToken)
			wantInvalidRefresh(t, h.refresh(p.RefreshToken))
		}
		if list := decodeSessions(t, h.do(http.MethodGet, "/users/"+plain.ID+"/sessions", h.admin.Token, nil)); len(list) != 0 {
			t.Errorf("%d sessions left", len(list))
		}
		h.wantTokenAlive(mgr.Token)
		// The password stays: the user logs in again.
		h.wantTokenAlive(h.login(plain.Email, plain.Password))
		ev := h.events(domain.EventSessionEnded, plain.ID)
		if len(ev) != 1 || ev[0].Actor == nil || *ev[0].Actor != mgr.ID {
			t.Errorf("audit events %+v, want one session_ended by the MANAGER", ev)
		}
	})
}

// TestRefreshNeverExtendsPastSessionMaxAge: however often a session is
// refreshed, it ends SESSION_MAX_AGE after its login, its access token
// with it.
func TestRefreshNeverExtendsPastSessionMaxAge(t *testing.T) {
	t.Parallel()
	const maxAge = 90 * 24 * time.Hour
	h := newHarnessConfigured(t, nil, func(c *app.Config) {
		c.SessionMaxAge = maxAge
		c.RefreshTTL = 30 * 24 * time.Hour
	})
	a := h.verified("maxage")
	login := h.clock.Now()
	tp := h.session(a.Email, a.Password)
	for range 3 { // 29, 58 and 87 days after the login
		h.clock.Advance(29 * 24 * time.Hour)
		tp = decodeTokens(t, h.refresh(tp.RefreshToken))
		for _, s := range h.mySessions(tp.AccessToken) {
			if s.ExpiresAt.After(login.Add(maxAge)) {
				t.Fatalf("after a refresh the session expires %v, past its maximum age %v", s.ExpiresAt, login.Add(maxAge))
			}
		}
	}
	list := h.mySessions(tp.AccessToken)
	if len(list) != 1 || !list[0].ExpiresAt.Equal(login.Add(maxAge)) {
		t.Fatalf("sessions %+v, want one expiring at the maximum age %v", list, login.Add(maxAge))
	}
	h.clock.Advance(3*24*time.Hour + time.Second) // 90 days and a second
	wantInvalidRefresh(t, h.refresh(tp.RefreshToken))
	h.wantTokenDead(tp.AccessToken)
	// A new login starts a new session.
	h.wantTokenAlive(h.session(a.Email, a.Password).AccessToken)
}

// --- 8.3 Email change ---

func TestEmailChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("mover")
	asker := h.session(a.Email, a.Password)
	elsewhere := h.session(a.Email, a.Password)
	pendingReset := h.requestReset(a.Email)
	newEmail := h.email("moved")

	rec := h.do(http.MethodPost, "/users/me/email", asker.AccessToken, obj{"new_email": " " + strings.ToUpper(newEmail) + " ", "password": a.Password})
	wantStatus(t, rec, http.StatusAccepted)
	var accepted map[string]string
	decodeBody(t, rec, &accepted)
	if accepted["message"] == "" || len(accepted) != 1 {
		t.Errorf("answer %s, want {\"message\"}", rec.Body)
	}

	token := h.emailChangeToken(newEmail)
	if n := len(h.mail.sent(a.Email, domain.MessageEmailChangeRequested)); n != 1 {
		t.Errorf("%d notices to the old address, want 1", n)
	}
	for _, m := range h.mail.sent(a.Email, domain.MessageEmailChangeRequested) {
		if m.Link != "" {
			t.Errorf("the notice carries a link: %q", m.Link)
		}
	}
	// Nothing changes yet.
	if u := h.getUser(a.ID); u.Email != a.Email || !u.EmailVerified {
		t.Errorf("before confirmation: %s verified %v, want the old address, verified", u.Email, u.EmailVerified)
	}
	h.wantTokenAlive(h.login(a.Email, a.Password))
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {newEmail}, "password": {a.Password}}),
		http.StatusUnauthorized, "Incorrect email or password.")

	// The page behind the link confirms only with its button.
	page := h.do(http.MethodGet, "/email-change?token="+url.QueryEscape(token), "", nil)
	wantStatus(t, page, http.StatusOK)
	if ct := page.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type %q", ct)
	}
	body := page.Body.String()
	for _, want := range []string{`<form method="post" action="/email-change/confirm">`, `name="token" value="` + token + `"`, `<button type="submit">`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the page has a script")
	}
	if u := h.getUser(a.ID); u.Email != a.Email {
		t.Error("showing the page changed the email")
	}

	rec = h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": token})
	wantStatus(t, rec, http.StatusOK)
	u := decodeUser(t, rec)
	if u.Email != newEmail || !u.EmailVerified || u.ID != a.ID || u.Role != "AUTHENTICATED" {
		t.Errorf("confirmed: %+v, want %s verified, AUTHENTICATED", u, newEmail)
	}
	// Single use.
	wantDetail(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": token}), http.StatusBadRequest, "Invalid or expired token")

	// The new address logs in, the old one is unknown.
	h.wantTokenAlive(h.login(newEmail, a.Password))
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}),
		http.StatusUnauthorized, "Incorrect email or password.")
	// The old address is told.
	if n := len(h.mail.sent(a.Email, domain.MessageEmailChanged)); n != 1 {
		t.Errorf("%d email_changed notices to the old address, want 1", n)
	}
	// Links mailed to the old address die.
	wantDetail(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": pendingReset, "new_password": newPassword}),
		http.StatusBadRequest, "Invalid or expired reset token")
	// Every session but the asker's ends.
	h.wantTokenAlive(asker.AccessToken)
	h.wantTokenDead(elsewhere.AccessToken)
	wantInvalidRefresh(t, h.refresh(elsewhere.RefreshToken))
	wantStatus(t, h.refresh(asker.RefreshToken), http.StatusOK)

	for typ, n := range map[domain.AuditEventType]int{domain.EventEmailChangeAsked: 1, domain.EventEmailChanged: 1} {
		if ev := h.events(typ, a.ID); len(ev) != n {
			t.Errorf("%d %s events, want %d", len(ev), typ, n)
		}
	}
}

// TestEmailChangeToATakenAddress: the answer, and the caller's own
// mailbox, are the same as for a free address; no link is sent.
func TestEmailChangeToATakenAddress(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.user(domain.RoleAuthenticated)
	taken := h.verified("taken")
	free := h.email("free")

	first := h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": free, "password": a.Password})
	earlier := h.emailChangeToken(free)
	second := h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": taken.Email, "password": a.Password})
	wantSameAnswer(t, "a free and a taken address", first, second)
	h.wantNoMail(taken.Email, domain.MessageEmailChange)
	notices := h.mail.sent(a.Email, domain.MessageEmailChangeRequested)
	if len(notices) != 2 || notices[0].Kind != notices[1].Kind || notices[0].Name != notices[1].Name || notices[0].Link != notices[1].Link {
		t.Errorf("notices to the old address %+v, want two alike", notices)
	}
	// The second request replaced the first: its link died.
	wantDetail(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": earlier}), http.StatusBadRequest, "Invalid or expired token")
	if u := h.getUser(a.ID); u.Email != a.Email {
		t.Errorf("email %s, want unchanged", u.Email)
	}
}

func TestEmailChangeWrongPasswordCountsTowardTheLockout(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.user(domain.RoleAuthenticated)
	target := h.email("never")
	for range maxAttempts {
		wantDetail(t, h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": target, "password": wrongPassword}),
			http.StatusBadRequest, "Incorrect password")
	}
	h.wantNoMail(target, domain.MessageEmailChange)
	h.wantNoMail(a.Email, domain.MessageEmailChangeRequested)
	// The lockout counted them: the account is locked, the owner told.
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}),
		http.StatusBadRequest, "Account locked due to too many failed login attempts.")
	if len(h.mail.sent(a.Email, domain.MessageLocked)) != 1 {
		t.Error("no lock email")
	}
	// A lock by wrong passwords stops new password checks, this door's too.
	wantDetail(t, h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": target, "password": a.Password}),
		http.StatusBadRequest, "Account locked due to too many failed login attempts.")
	if ev := h.events(domain.EventLoginFailed, a.ID); len(ev) != maxAttempts {
		t.Errorf("%d login_failed events, want %d", len(ev), maxAttempts)
	}
}

func TestEmailChangeValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.user(domain.RoleAuthenticated)
	for _, tc := range []struct {
		name string
		body any
		loc  []any
	}{
		{"malformed new email", obj{"new_email": "not-an-email", "password": a.Password}, []any{"body", "new_email"}},
		{"the current email", obj{"new_email": strings.ToUpper(a.Email), "password": a.Password}, []any{"body", "new_email"}},
		{"no password", obj{"new_email": h.email("x")}, []any{"body", "password"}},
		{"no new email", obj{"password": a.Password}, []any{"body", "new_email"}},
		{"an unknown field", obj{"new_email": h.email("x"), "password": a.Password, "email_verified": true}, []any{"body", "email_verified"}},
		{"null", obj{"new_email": nil, "password": a.Password}, []any{"body", "new_email"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantValidation(t, h.do(http.MethodPost, "/users/me/email", a.Token, tc.body), tc.loc...)
		})
	}
	wantUnauthorized(t, h.do(http.MethodPost, "/users/me/email", "", obj{"new_email": h.email("x"), "password": a.Password}))
	if st := h.getUser(a.ID); st.Email != a.Email {
		t.Error("a refused request changed the email")
	}
}

func TestEmailChangeConfirmation(t *testing.T) {
	t.Parallel()

	t.Run("the address was taken meanwhile", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		target := h.email("contested")
		wantStatus(t, h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": target, "password": a.Password}), http.StatusAccepted)
		token := h.emailChangeToken(target)
		wantStatus(t, h.do(http.MethodPost, "/register/", "", obj{"email": target, "password": testPassword}), http.StatusOK)
		wantDetail(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": token}), http.StatusBadRequest, "Email already exists")
		if u := h.getUser(a.ID); u.Email != a.Email || !u.EmailVerified {
			t.Errorf("after a refused confirmation: %+v", u)
		}
		h.wantTokenAlive(a.Token)
		h.wantNoMail(a.Email, domain.MessageEmailChanged)
	})

	t.Run("expires after 24 hours", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		target := h.email("late")
		wantStatus(t, h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": target, "password": a.Password}), http.StatusAccepted)
		token := h.emailChangeToken(target)
		h.clock.Advance(24 * time.Hour)
		wantDetail(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": token}), http.StatusBadRequest, "Invalid or expired token")
	})

	t.Run("a password change or reset cancels it", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		target := h.email("cancelled")
		wantStatus(t, h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": target, "password": a.Password}), http.StatusAccepted)
		token := h.emailChangeToken(target)
		wantStatus(t, h.do(http.MethodPut, "/users/me/password", a.Token, obj{"current_password": a.Password, "new_password": newPassword}), http.StatusNoContent)
		wantDetail(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": token}), http.StatusBadRequest, "Invalid or expired token")

		wantStatus(t, h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": target, "password": newPassword}), http.StatusAccepted)
		token = h.emailChangeToken(target)
		reset := h.requestReset(a.Email)
		wantStatus(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": reset, "new_password": testPassword}), http.StatusOK)
		wantDetail(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": token}), http.StatusBadRequest, "Invalid or expired token")
	})

	t.Run("bad tokens", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, tok := range []string{"garbage", " ", strings.Repeat("t", 513)} {
			wantDetail(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": tok}), http.StatusBadRequest, "Invalid or expired token")
		}
		wantValidation(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{}), "body", "token")
		wantValidation(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": "x", "email": "a@example.com"}), "body", "email")
	})

	t.Run("through the page's form", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		target := h.email("form")
		wantStatus(t, h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": target, "password": a.Password}), http.StatusAccepted)
		token := h.emailChangeToken(target)
		rec := h.do(http.MethodPost, "/email-change/confirm", "", form{"token": {token}})
		wantStatus(t, rec, http.StatusOK)
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") || !strings.Contains(rec.Body.String(), target) {
			t.Errorf("the form's answer: %s %s", rec.Header().Get("Content-Type"), rec.Body)
		}
		if u := h.getUser(a.ID); u.Email != target || !u.EmailVerified {
			t.Errorf("after the form: %+v", u)
		}
		rec = h.do(http.MethodPost, "/email-change/confirm", "", form{"token": {token}})
		wantStatus(t, rec, http.StatusBadRequest)
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			t.Errorf("a refused form is answered with %s", rec.Header().Get("Content-Type"))
		}
		for _, target := range []string{"/email-change", "/email-change?token=", "/email-change?token=" + strings.Repeat("t", 513)} {
			rec := h.do(http.MethodGet, target, "", nil)
			wantStatus(t, rec, http.StatusBadRequest)
			if strings.Contains(rec.Body.String(), "<form") {
				t.Errorf("GET %s shows a form without a usable token", target)
			}
		}
	})
}

// --- 8.4 Invitations ---

func TestInviteAndAccept(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	email := h.email("invitee")
	rec := h.do(http.MethodPost, "/users/invite/", h.admin.Token, obj{
		"email": strings.ToUpper(email), "role": "MANAGER", "nickname": "grace_h", "first_name": "Grace", "bio": "Invited",
	})
	wantStatus(t, rec, http.StatusCreated)
	var keys map[string]any
	decodeBody(t, rec, &keys)
	if len(keys) != len(userKeys) {
		t.Errorf("invited user fields %v, want %v", keys, userKeys)
	}
	u := decodeUser(t, rec)
	if u.Email != email || u.Role != "MANAGER" || u.EmailVerified || !u.InvitationPending || u.Nickname != "grace_h" ||
		u.FirstName == nil || *u.FirstName != "Grace" {
		t.Errorf("invited: %+v", u)
	}
	token := h.invitationToken(email)
	if ev := h.events(domain.EventUserInvited, u.ID); len(ev) != 1 || ev[0].Actor == nil || *ev[0].Actor != h.admin.ID {
		t.Errorf("audit %+v, want one user_invited by the ADMIN", ev)
	}

	// The page's form sets the password, without JavaScript.
	page := h.do(http.MethodGet, "/invitation?token="+url.QueryEscape(token), "", nil)
	wantStatus(t, page, http.StatusOK)
	body := page.Body.String()
	for _, want := range []string{`action="/invitations/accept"`, `name="password"`, `name="repeat_password"`, `name="token" value="` + token + `"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the invitation page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script") {
		t.Error("the invitation page has a script")
	}

	wantValidation(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": token, "password": "password"}), "body", "password")
	wantValidation(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": token, "password": email}), "body", "password")
	tp := decodeTokens(t, h.do(http.MethodPost, "/invitations/accept/", "", obj{"token": token, "password": testPassword}))
	rec = h.do(http.MethodGet, "/users/me", tp.AccessToken, nil)
	wantStatus(t, rec, http.StatusOK)
	me := decodeUser(t, rec)
	if !me.EmailVerified || me.InvitationPending || me.Role != "MANAGER" || me.LastLoginAt == nil {
		t.Errorf("after accepting: %+v", me)
	}
	if list := h.mySessions(tp.AccessToken); len(list) != 1 || !list[0].Current {
		t.Errorf("sessions %+v, want the one accepting opened", list)
	}
	wantStatus(t, h.refresh(tp.RefreshToken), http.StatusOK)
	h.wantTokenAlive(h.login(email, testPassword))
	// Single use.
	wantDetail(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": token, "password": testPassword}),
		http.StatusBadRequest, "Invalid or expired invitation")
	for _, typ := range []domain.AuditEventType{domain.EventInvitationAccepted, domain.EventLoginSucceeded} {
		if len(h.events(typ, u.ID)) == 0 {
			t.Errorf("no %s event", typ)
		}
	}
}

func TestInviteRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mgr := h.user(domain.RoleManager)
	user := h.user(domain.RoleAuthenticated)

	rec := h.do(http.MethodPost, "/users/invite", mgr.Token, obj{"email": h.email("bymgr"), "role": nil})
	wantStatus(t, rec, http.StatusCreated)
	if u := decodeUser(t, rec); u.Role != "AUTHENTICATED" || !u.InvitationPending || u.EmailVerified {
		t.Errorf("a MANAGER's invitation: %+v, want AUTHENTICATED by default", u)
	}
	for _, role := range []string{"AUTHENTICATED", "ADMIN"} {
		wantForbidden(t, h.do(http.MethodPost, "/users/invite", mgr.Token, obj{"email": h.email("x"), "role": role}))
	}
	wantForbidden(t, h.do(http.MethodPost, "/users/invite", user.Token, obj{"email": h.email("x")}))
	wantUnauthorized(t, h.do(http.MethodPost, "/users/invite", "", obj{"email": h.email("x")}))
	for _, taken := range []string{user.Email, strings.ToUpper(mgr.Email)} {
		wantDetail(t, h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{"email": taken}), http.StatusBadRequest, "Email already exists")
	}
	wantDetail(t, h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{"email": h.email("x"), "nickname": h.getUser(user.ID).Nickname}),
		http.StatusBadRequest, "Nickname already exists")
	wantValidation(t, h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{"email": "nope"}), "body", "email")
	wantValidation(t, h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{}), "body", "email")
	wantValidation(t, h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{"email": h.email("x"), "password": testPassword}), "body", "password")
	wantValidation(t, h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{"email": h.email("x"), "role": "ROOT"}), "body", "role")
	wantValidation(t, h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{"email": h.email("x"), "bio": strings.Repeat("b", 501)}), "body", "bio")
}

func TestResendInvitation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mgr := h.user(domain.RoleManager)
	invited := h.invite("again")
	first := h.invitationToken(invited.Email)

	rec := h.do(http.MethodPost, "/users/"+invited.ID+"/invitation", mgr.Token, nil)
	wantStatus(t, rec, http.StatusAccepted)
	var m map[string]string
	decodeBody(t, rec, &m)
	if m["message"] == "" {
		t.Errorf("answer %s, want a message", rec.Body)
	}
	second := h.invitationToken(invited.Email)
	if second == first {
		t.Fatal("the new link is the old one")
	}
	wantDetail(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": first, "password": testPassword}),
		http.StatusBadRequest, "Invalid or expired invitation")
	decodeTokens(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": second, "password": testPassword}))
	wantDetail(t, h.do(http.MethodPost, "/users/"+invited.ID+"/invitation/", h.admin.Token, nil), http.StatusConflict, "Invitation already accepted")
	wantDetail(t, h.do(http.MethodPost, "/users/"+unknownID+"/invitation", h.admin.Token, nil), http.StatusNotFound, "User not found")
	wantDetail(t, h.do(http.MethodPost, "/users/not-a-uuid/invitation", h.admin.Token, nil), http.StatusNotFound, "User not found")

	// A MANAGER acts only on ANONYMOUS and AUTHENTICATED accounts.
	rec = h.do(http.MethodPost, "/users/invite", h.admin.Token, obj{"email": h.email("mgr"), "role": "MANAGER"})
	wantStatus(t, rec, http.StatusCreated)
	invitedMgr := decodeUser(t, rec)
	wantForbidden(t, h.do(http.MethodPost, "/users/"+invitedMgr.ID+"/invitation", mgr.Token, nil))
	wantForbidden(t, h.do(http.MethodPost, "/users/"+invited.ID+"/invitation", h.user(domain.RoleAuthenticated).Token, nil))
	if ev := h.events(domain.EventInvitationResent, invited.ID); len(ev) != 1 {
		t.Errorf("%d invitation_resent events, want 1", len(ev))
	}
}

func TestInvitationExpires(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	invited := h.invite("slow")
	token := h.invitationToken(invited.Email)
	h.clock.Advance(72*time.Hour - time.Second)
	h.clock.Advance(2 * time.Second) // INVITATION_TOKEN_TTL, 72 h by default, has passed
	wantDetail(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": token, "password": testPassword}),
		http.StatusBadRequest, "Invalid or expired invitation")
	h.admin.Token = h.login(h.admin.Email, h.admin.Password) // the old access token expired
	wantStatus(t, h.do(http.MethodPost, "/users/"+invited.ID+"/invitation", h.admin.Token, nil), http.StatusAccepted)
	decodeTokens(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": h.invitationToken(invited.Email), "password": testPassword}))

	short := newHarnessConfigured(t, nil, func(c *app.Config) { c.InvitationTTL = time.Hour })
	invited = short.invite("short")
	token = short.invitationToken(invited.Email)
	short.clock.Advance(time.Hour)
	wantDetail(t, short.do(http.MethodPost, "/invitations/accept", "", obj{"token": token, "password": testPassword}),
		http.StatusBadRequest, "Invalid or expired invitation")
}

func TestInvitationForm(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	invited := h.invite("form")
	token := h.invitationToken(invited.Email)
	page := func(rec *httptest.ResponseRecorder, status int) string {
		t.Helper()
		wantStatus(t, rec, status)
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q, want a page", ct)
		}
		return rec.Body.String()
	}
	body := page(h.do(http.MethodPost, "/invitations/accept", "", form{"token": {token}, "password": {testPassword}, "repeat_password": {newPassword}}),
		http.StatusUnprocessableEntity)
	if !strings.Contains(body, `name="password"`) {
		t.Error("after a mismatch the form is not shown again")
	}
	page(h.do(http.MethodPost, "/invitations/accept", "", form{"token": {token}, "password": {"password"}, "repeat_password": {"password"}}),
		http.StatusUnprocessableEntity)
	page(h.do(http.MethodPost, "/invitations/accept", "", form{"token": {token}, "password": {testPassword}, "repeat_password": {testPassword}}),
		http.StatusOK)
	// The page's form sets the password but opens no session.
	h.wantTokenAlive(h.login(invited.Email, testPassword))
	tp := h.session(invited.Email, testPassword)
	if list := h.mySessions(tp.AccessToken); len(list) != 2 {
		t.Errorf("%d sessions, want the two logins only", len(list))
	}
	page(h.do(http.MethodPost, "/invitations/accept", "", form{"token": {token}, "password": {testPassword}, "repeat_password": {testPassword}}),
		http.StatusBadRequest)
	for _, target := range []string{"/invitation", "/invitation?token=" + strings.Repeat("t", 513)} {
		if strings.Contains(page(h.do(http.MethodGet, target, "", nil), http.StatusBadRequest), "<form") {
			t.Errorf("GET %s shows a form without a usable token", target)
		}
	}
}

func TestInvitationOfALockedAccount(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	invited := h.invite("locked")
	token := h.invitationToken(invited.Email)
	wantStatus(t, h.do(http.MethodPost, "/users/"+invited.ID+"/lock", h.admin.Token, nil), http.StatusOK)
	wantDetail(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": token, "password": testPassword}),
		http.StatusBadRequest, "Account locked due to too many failed login attempts.")
	if u := h.getUser(invited.ID); !u.InvitationPending || u.EmailVerified {
		t.Errorf("a refused acceptance changed the user: %+v", u)
	}
	wantStatus(t, h.do(http.MethodPost, "/users/"+invited.ID+"/unlock", h.admin.Token, nil), http.StatusOK)
	decodeTokens(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": token, "password": testPassword}))
}

// TestInvitedAccountAnswersAsAnUnknownEmail: until it is accepted, an
// invitation cannot be told from an unknown email by /login/ (status,
// headers, body, the work done: one check of the dummy hash), nor by a
// password reset or a verification resend, and none of them takes a
// lockout slot or mails anything.
func TestInvitedAccountAnswersAsAnUnknownEmail(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	invited := h.invite("quiet")
	unknown := h.email("nobody")
	verifies := countVerifies(t, h)

	for _, password := range []string{testPassword, wrongPassword, ""} {
		verifies.Store(0)
		a := h.do(http.MethodPost, "/login/", "", form{"username": {invited.Email}, "password": {password}})
		invitedChecks := verifies.Swap(0)
		b := h.do(http.MethodPost, "/login/", "", form{"username": {unknown}, "password": {password}})
		unknownChecks := verifies.Load()
		wantSameAnswer(t, "login of an invitation and of an unknown email", a, b)
		if password != "" {
			wantDetail(t, a, http.StatusUnauthorized, "Incorrect email or password.")
		}
		if invitedChecks != unknownChecks {
			t.Errorf("password checks: %d for the invitation, %d for an unknown email", invitedChecks, unknownChecks)
		}
	}
	// Many more attempts than MAX_LOGIN_ATTEMPTS take no slot and lock nothing.
	for range 3 * maxAttempts {
		wantStatus(t, h.do(http.MethodPost, "/login/", "", obj{"email": invited.Email, "password": wrongPassword}), http.StatusUnauthorized)
	}
	st, err := h.svc.GetUser(t.Context(), h.admin.actor(domain.RoleAdmin), invited.ID)
	if err != nil {
		t.Fatal(err)
	}
	if s := st.State(); s.FailedLoginAttempts != 0 || s.LoginsInFlight != 0 || s.IsLocked || s.UpdatedAt != h.clock.Now() && !s.UpdatedAt.Before(h.clock.Now()) {
		t.Errorf("after failed logins the invitation holds failed %d, in flight %d, locked %v", s.FailedLoginAttempts, s.LoginsInFlight, s.IsLocked)
	}
	if ev := h.events(domain.EventLoginFailed, invited.ID); len(ev) != 0 {
		t.Errorf("%d login_failed events name the invitation: an unknown email's name nobody", len(ev))
	}

	for _, path := range []string{"/password-reset/request", "/verify-email/resend"} {
		a := h.do(http.MethodPost, path, "", obj{"email": invited.Email})
		b := h.do(http.MethodPost, path, "", obj{"email": unknown})
		wantSameAnswer(t, path+" for an invitation and an unknown email", a, b)
		wantStatus(t, a, http.StatusAccepted)
	}
	h.wantNoMail(invited.Email, domain.MessagePasswordReset)
	h.wantNoMail(invited.Email, domain.MessageVerifyEmail)
	if n := len(h.mail.sent(invited.Email, domain.MessageInvitation)); n != 1 {
		t.Errorf("%d invitations, want the first alone", n)
	}
	// The invitation still works.
	decodeTokens(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": h.invitationToken(invited.Email), "password": testPassword}))
}

// --- Section 4: staff email changes cannot take an account over ---

func TestStaffEmailChange(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.user(domain.RoleAuthenticated)
	reset := h.requestReset(a.Email)
	h.lockByHTTP(a.Email)
	unlock := h.unlockToken(a.Email)
	wantStatus(t, h.do(http.MethodPost, "/users/me/email", a.Token, obj{"new_email": h.email("pending"), "password": a.Password}), http.StatusBadRequest) // locked
	newEmail := h.email("staffset")

	rec := h.do(http.MethodPut, "/users/"+a.ID, h.admin.Token, obj{"email": newEmail})
	wantStatus(t, rec, http.StatusOK)
	if u := decodeUser(t, rec); u.Email != newEmail || u.EmailVerified {
		t.Errorf("after the change: %s verified %v, want %s unverified", u.Email, u.EmailVerified, newEmail)
	}
	// Every link mailed to the old address died.
	wantDetail(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": reset, "new_password": newPassword}),
		http.StatusBadRequest, "Invalid or expired reset token")
	wantDetail(t, h.do(http.MethodPost, "/unlock", "", obj{"token": unlock}), http.StatusBadRequest, "Invalid or expired token")
	// The old address is told; the new one gets a verification link.
	if n := len(h.mail.sent(a.Email, domain.MessageEmailChanged)); n != 1 {
		t.Errorf("%d notices to the old address, want 1", n)
	}
	id, token := h.verificationToken(newEmail)
	if id != a.ID {
		t.Errorf("verification link for %s, want %s", id, a.ID)
	}
	// Unverified, the new address cannot log in (once the lock is lifted).
	wantStatus(t, h.do(http.MethodPost, "/users/"+a.ID+"/unlock", h.admin.Token, nil), http.StatusOK)
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {newEmail}, "password": {a.Password}}), http.StatusUnauthorized, "Email not verified.")
	wantStatus(t, h.do(http.MethodGet, "/verify-email/"+id+"/"+token, "", nil), http.StatusOK)
	h.wantTokenAlive(h.login(newEmail, a.Password))
	if u := h.getUser(a.ID); !u.EmailVerified || u.Role != "AUTHENTICATED" {
		t.Errorf("after verifying: %+v", u)
	}
	ev := h.events(domain.EventEmailChanged, a.ID)
	if len(ev) != 1 || ev[0].Actor == nil || *ev[0].Actor != h.admin.ID {
		t.Errorf("audit %+v, want one email_changed by the ADMIN", ev)
	}

	t.Run("the same address changes nothing", func(t *testing.T) {
		before := len(h.mail.sent(newEmail, domain.MessageVerifyEmail))
		wantStatus(t, h.do(http.MethodPut, "/users/"+a.ID, h.admin.Token, obj{"email": strings.ToUpper(newEmail)}), http.StatusOK)
		if u := h.getUser(a.ID); !u.EmailVerified {
			t.Error("the same address unverified the account")
		}
		if n := len(h.mail.sent(newEmail, domain.MessageVerifyEmail)); n != before {
			t.Error("the same address was sent a verification link")
		}
	})

	t.Run("a pending email change dies", func(t *testing.T) {
		b := h.user(domain.RoleAuthenticated)
		target := h.email("wanted")
		wantStatus(t, h.do(http.MethodPost, "/users/me/email", b.Token, obj{"new_email": target, "password": b.Password}), http.StatusAccepted)
		token := h.emailChangeToken(target)
		wantStatus(t, h.do(http.MethodPut, "/users/"+b.ID, h.admin.Token, obj{"email": h.email("staffchoice")}), http.StatusOK)
		wantDetail(t, h.do(http.MethodPost, "/email-change/confirm", "", obj{"token": token}), http.StatusBadRequest, "Invalid or expired token")
	})

	t.Run("an invitation moves with the address", func(t *testing.T) {
		invited := h.invite("moving")
		old := h.invitationToken(invited.Email)
		moved := h.email("moved")
		wantStatus(t, h.do(http.MethodPut, "/users/"+invited.ID, h.admin.Token, obj{"email": moved}), http.StatusOK)
		wantDetail(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": old, "password": testPassword}),
			http.StatusBadRequest, "Invalid or expired invitation")
		h.wantNoMail(moved, domain.MessageVerifyEmail)
		decodeTokens(t, h.do(http.MethodPost, "/invitations/accept", "", obj{"token": h.invitationToken(moved), "password": testPassword}))
		if n := len(h.mail.sent(invited.Email, domain.MessageEmailChanged)); n != 1 {
			t.Errorf("%d notices to the invitation's old address, want 1", n)
		}
	})
}

// TestStaffEmailChangeTakeoverAttack is the attack of the issue, tried as
// an attacker would: a MANAGER sets a peer MANAGER's email to their own
// mailbox, asks for a reset and logs in as the peer. And the ADMIN variant:
// a reset link mailed before an ADMIN moved the account to a new address
// (to an old mailbox someone else now reads) must not open the account.
func TestStaffEmailChangeTakeoverAttack(t *testing.T) {
	t.Parallel()

	t.Run("a MANAGER cannot set a peer MANAGER's email", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		attacker := h.user(domain.RoleManager)
		victim := h.user(domain.RoleManager)
		mailbox := h.email("attacker-mailbox")
		wantForbidden(t, h.do(http.MethodPut, "/users/"+victim.ID, attacker.Token, obj{"email": mailbox}))
		wantForbidden(t, h.do(http.MethodPut, "/users/"+h.admin.ID, attacker.Token, obj{"email": mailbox}))
		wantStatus(t, h.do(http.MethodPost, "/password-reset/request", "", obj{"email": mailbox}), http.StatusAccepted)
		h.wantNoMail(mailbox, domain.MessagePasswordReset)
		if u := h.getUser(victim.ID); u.Email != victim.Email || !u.EmailVerified {
			t.Errorf("the victim's account changed: %+v", u)
		}
		wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {mailbox}, "password": {victim.Password}}),
			http.StatusUnauthorized, "Incorrect email or password.")
		h.wantTokenAlive(victim.Token)
		// Nor lock them out of their sessions, nor list them.
		wantForbidden(t, h.do(http.MethodDelete, "/users/"+victim.ID+"/sessions", attacker.Token, nil))
		wantForbidden(t, h.do(http.MethodGet, "/users/"+victim.ID+"/sessions", attacker.Token, nil))
	})

	t.Run("an ADMIN's email change kills a stale reset link", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		victim := h.user(domain.RoleAuthenticated)
		// Someone reading the victim's old mailbox asks for a reset link.
		stale := h.requestReset(victim.Email)
		// The ADMIN moves the account to the victim's new address.
		fresh := h.email("fresh")
		wantStatus(t, h.do(http.MethodPut, "/users/"+victim.ID, h.admin.Token, obj{"email": fresh}), http.StatusOK)
		wantDetail(t, h.do(http.MethodPost, "/password-reset/confirm", "", obj{"token": stale, "new_password": "Attacker-Chosen-9"}),
			http.StatusBadRequest, "Invalid or expired reset token")
		rec := h.do(http.MethodPost, "/password-reset", "", form{"token": {stale}, "new_password": {"Attacker-Chosen-9"}, "repeat_password": {"Attacker-Chosen-9"}})
		wantStatus(t, rec, http.StatusBadRequest)
		// The old address opens nothing any more.
		wantStatus(t, h.do(http.MethodPost, "/password-reset/request", "", obj{"email": victim.Email}), http.StatusAccepted)
		if n := len(h.mail.sent(victim.Email, domain.MessagePasswordReset)); n != 1 {
			t.Errorf("%d reset links to the old address, want the stale one alone", n)
		}
		for _, pw := range []string{"Attacker-Chosen-9", victim.Password} {
			wantStatus(t, h.do(http.MethodPost, "/login/", "", form{"username": {victim.Email}, "password": {pw}}), http.StatusUnauthorized)
		}
		// The owner verifies the new address and logs in with the old password.
		id, token := h.verificationToken(fresh)
		wantStatus(t, h.do(http.MethodGet, "/verify-email/"+id+"/"+token, "", nil), http.StatusOK)
		h.wantTokenAlive(h.login(fresh, victim.Password))
	})
}

// lifecycleOpenAPIRows drives every new operation through each status the
// document lists for it (the faults, 401s and 429s are driven from the
// samples by TestOpenAPIMatchesTheHandlers itself).
func lifecycleOpenAPIRows(t *testing.T, h *harness,
	do func(t *testing.T, status int, want reqWant, method, target, token string, body any) *httptest.ResponseRecorder) {
	t.Helper()
	mgr := h.user(domain.RoleManager)
	user := h.user(domain.RoleAuthenticated)

	// Sessions.
	a := h.user(domain.RoleAuthenticated)
	second := h.session(a.Email, a.Password)
	do(t, 200, reqConforms, http.MethodGet, "/users/me/sessions", a.Token, nil)
	do(t, 200, reqConforms, http.MethodGet, "/users/"+a.ID+"/sessions", mgr.Token, nil)
	do(t, 403, reqConforms, http.MethodGet, "/users/"+h.admin.ID+"/sessions", mgr.Token, nil)
	do(t, 403, reqConforms, http.MethodGet, "/users/"+a.ID+"/sessions", user.Token, nil)
	do(t, 404, reqConforms, http.MethodGet, "/users/"+unknownID+"/sessions", h.admin.Token, nil)
	do(t, 404, reqBreaks, http.MethodGet, "/users/not-a-uuid/sessions", h.admin.Token, nil)
	do(t, 404, reqConforms, http.MethodDelete, "/users/me/sessions/"+unknownID, a.Token, nil)
	do(t, 404, reqConforms, http.MethodDelete, "/users/me/sessions/"+h.sessionOf(user.Token), a.Token, nil)
	do(t, 404, reqBreaks, http.MethodDelete, "/users/me/sessions/not-a-session", a.Token, nil)
	do(t, 204, reqConforms, http.MethodDelete, "/users/me/sessions/"+h.sessionOf(second.AccessToken), a.Token, nil)
	do(t, 204, reqConforms, http.MethodDelete, "/users/me/sessions", a.Token, nil)
	do(t, 403, reqConforms, http.MethodDelete, "/users/"+h.admin.ID+"/sessions", mgr.Token, nil)
	do(t, 404, reqConforms, http.MethodDelete, "/users/"+unknownID+"/sessions", h.admin.Token, nil)
	do(t, 204, reqConforms, http.MethodDelete, "/users/"+a.ID+"/sessions", mgr.Token, nil)

	// Email change.
	b := h.user(domain.RoleAuthenticated)
	target := h.email("openapi-change")
	do(t, 400, reqConforms, http.MethodPost, "/users/me/email", b.Token, obj{"new_email": target, "password": wrongPassword})
	do(t, 422, reqBreaks, http.MethodPost, "/users/me/email", b.Token, obj{"new_email": "not-an-email", "password": b.Password})
	do(t, 422, reqConforms, http.MethodPost, "/users/me/email", b.Token, obj{"new_email": b.Email, "password": b.Password})
	do(t, 422, reqBreaks, http.MethodPost, "/users/me/email", b.Token, obj{"new_email": target})
	do(t, 202, reqConforms, http.MethodPost, "/users/me/email", b.Token, obj{"new_email": user.Email, "password": b.Password})
	do(t, 202, reqConforms, http.MethodPost, "/users/me/email/", b.Token, obj{"new_email": target, "password": b.Password})
	token := h.emailChangeToken(target)
	do(t, 200, reqConforms, http.MethodGet, "/email-change?token="+url.QueryEscape(token), "", nil)
	do(t, 400, reqBreaks, http.MethodGet, "/email-change", "", nil)
	do(t, 400, reqConforms, http.MethodPost, "/email-change/confirm", "", obj{"token": "not-the-token"})
	do(t, 422, reqBreaks, http.MethodPost, "/email-change/confirm", "", obj{})
	do(t, 200, reqConforms, http.MethodPost, "/email-change/confirm", "", obj{"token": token})
	do(t, 400, reqConforms, http.MethodPost, "/email-change/confirm/", "", form{"token": {token}}) // spent
	taken := h.email("openapi-taken")
	do(t, 202, reqConforms, http.MethodPost, "/users/me/email", b.Token, obj{"new_email": taken, "password": b.Password})
	token = h.emailChangeToken(taken)
	wantStatus(t, h.do(http.MethodPost, "/register/", "", obj{"email": taken, "password": testPassword}), http.StatusOK)
	do(t, 400, reqConforms, http.MethodPost, "/email-change/confirm", "", obj{"token": token}) // taken meanwhile
	third := h.email("openapi-form")
	do(t, 202, reqConforms, http.MethodPost, "/users/me/email", b.Token, obj{"new_email": third, "password": b.Password})
	do(t, 200, reqConforms, http.MethodPost, "/email-change/confirm", "", form{"token": {h.emailChangeToken(third)}})

	// Invitations.
	invitedEmail := h.email("openapi-invite")
	rec := do(t, 201, reqConforms, http.MethodPost, "/users/invite", h.admin.Token, obj{
		"email": invitedEmail, "role": "MANAGER", "nickname": "openapi_invitee", "first_name": "Ada", "bio": nil,
	})
	invited := decodeUser(t, rec)
	do(t, 201, reqConforms, http.MethodPost, "/users/invite/", mgr.Token, obj{"email": h.email("openapi-invite"), "role": nil})
	do(t, 400, reqConforms, http.MethodPost, "/users/invite", h.admin.Token, obj{"email": invitedEmail})
	do(t, 403, reqConforms, http.MethodPost, "/users/invite", mgr.Token, obj{"email": h.email("x"), "role": "AUTHENTICATED"})
	do(t, 403, reqConforms, http.MethodPost, "/users/invite", user.Token, obj{"email": h.email("x")})
	do(t, 422, reqBreaks, http.MethodPost, "/users/invite", h.admin.Token, obj{"email": h.email("x"), "password": testPassword})
	do(t, 422, reqBreaks, http.MethodPost, "/users/invite", h.admin.Token, obj{"email": "nope"})

	do(t, 403, reqConforms, http.MethodPost, "/users/"+invited.ID+"/invitation", mgr.Token, nil) // an invited MANAGER
	do(t, 404, reqConforms, http.MethodPost, "/users/"+unknownID+"/invitation", h.admin.Token, nil)
	do(t, 202, reqConforms, http.MethodPost, "/users/"+invited.ID+"/invitation", h.admin.Token, nil)
	itoken := h.invitationToken(invitedEmail)
	do(t, 200, reqConforms, http.MethodGet, "/invitation?token="+url.QueryEscape(itoken), "", nil)
	do(t, 400, reqBreaks, http.MethodGet, "/invitation", "", nil)
	do(t, 400, reqConforms, http.MethodPost, "/invitations/accept", "", obj{"token": "not-the-token", "password": testPassword})
	do(t, 422, reqConforms, http.MethodPost, "/invitations/accept", "", obj{"token": itoken, "password": "password"}) // too common
	do(t, 422, reqBreaks, http.MethodPost, "/invitations/accept", "", obj{"token": itoken, "password": "short"})
	do(t, 422, reqConforms, http.MethodPost, "/invitations/accept", "", form{"token": {itoken}, "password": {testPassword}, "repeat_password": {newPassword}})
	do(t, 200, reqConforms, http.MethodPost, "/invitations/accept/", "", obj{"token": itoken, "password": testPassword})
	do(t, 400, reqConforms, http.MethodPost, "/invitations/accept", "", form{"token": {itoken}, "password": {testPassword}, "repeat_password": {testPassword}})
	do(t, 409, reqConforms, http.MethodPost, "/users/"+invited.ID+"/invitation", h.admin.Token, nil)
	other := h.invite("openapi-form")
	do(t, 200, reqConforms, http.MethodPost, "/invitations/accept", "", form{
		"token": {h.invitationToken(other.Email)}, "password": {testPassword}, "repeat_password": {testPassword},
	})
}
