package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
	"github.com/usersvc/usersvc/adapters/system"
	"github.com/usersvc/usersvc/domain"
)

// The account lifecycle (PRODUCT.md 8.2 sessions, 8.3 email change, 8.4
// invitations) through the HTTP API and the real use cases, on each store:
// memory, SQLite and PostgreSQL, as TestSecondFactorOnEveryStore does for
// 8.1. Each row of the three tables and its failures is exercised on all
// three; the finer cases live in app (memory) and httpapi. On the SQL
// stores a second instance on the same database (8.8) refuses the tokens
// of every session ended through the first, from the next request on.

// lifecycleEnv is the API on one store and, on a database, a second
// instance on the same database and clock (nil on memory).
type lifecycleEnv struct {
	*mfaEnv
	peer *mfaEnv
}

func TestAccountLifecycleOnEveryStore(t *testing.T) {
	t.Parallel()
	// Each opens a store and returns it with the opener of a second
	// connection to the same database (nil: one process only).
	for name, open := range map[string]func(t *testing.T) (mfaStore, func(t *testing.T) mfaStore){
		"memory": func(*testing.T) (mfaStore, func(t *testing.T) mfaStore) {
			return memory.NewUserStore(), nil
		},
		"sqlite": func(t *testing.T) (mfaStore, func(t *testing.T) mfaStore) {
			dbURL := "sqlite:" + filepath.Join(t.TempDir(), "usersvc.db")
			return openMFAStore(t, dbURL), func(t *testing.T) mfaStore { return openMFAStore(t, dbURL) }
		},
		"postgres": func(t *testing.T) (mfaStore, func(t *testing.T) mfaStore) {
			dbURL := sqlstoretest.NewPostgresURL(t)
			return openMFAStore(t, dbURL), func(t *testing.T) mfaStore { return openMFAStore(t, dbURL) }
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			store, second := open(t)
			var peerStore mfaStore
			if second != nil {
				peerStore = second(t)
			}
			for _, tc := range []struct {
				name string
				fn   func(e *lifecycleEnv)
			}{
				{"OwnSessions", testLifecycleOwnSessions},
				{"StaffSessions", testLifecycleStaffSessions},
				{"EmailChange", testLifecycleEmailChange},
				{"Invitations", testLifecycleInvitations},
			} {
				t.Run(tc.name, func(t *testing.T) {
					e := &lifecycleEnv{mfaEnv: newMFAEnv(t, store, nil)}
					if peerStore != nil {
						e.peer = newMFAEnvOn(t, peerStore, nil, e.clock)
					}
					tc.fn(e)
				})
			}
		})
	}
}

// alive wants the access token accepted, on every instance.
func (e *lifecycleEnv) alive(token string) {
	e.t.Helper()
	e.want(http.StatusOK, "", http.MethodGet, "/users/me", token, nil)
	if e.peer != nil {
		e.peer.want(http.StatusOK, "", http.MethodGet, "/users/me", token, nil)
	}
}

// dead wants the access token refused, on every instance.
func (e *lifecycleEnv) dead(token string) {
	e.t.Helper()
	e.want(http.StatusUnauthorized, "", http.MethodGet, "/users/me", token, nil)
	if e.peer != nil {
		e.peer.want(http.StatusUnauthorized, "", http.MethodGet, "/users/me", token, nil)
	}
}

// refresh rotates a refresh token, or wants it refused when ok is false;
// it returns the new pair.
func (e *lifecycleEnv) refresh(token string, ok bool) (access, refresh string) {
	e.t.Helper()
	if !ok {
		e.want(http.StatusUnauthorized, "Invalid refresh token", http.MethodPost, "/token/refresh", "", map[string]string{"refresh_token": token})
		return "", ""
	}
	out := e.want(http.StatusOK, "", http.MethodPost, "/token/refresh", "", map[string]string{"refresh_token": token})
	return out["access_token"].(string), out["refresh_token"].(string)
}

// sessions lists the sessions at path (/users/me/sessions or a user's).
func (e *lifecycleEnv) sessions(path, token string) []map[string]any {
	e.t.Helper()
	out := e.want(http.StatusOK, "", http.MethodGet, path, token, nil)
	if len(out) != 1 {
		e.t.Fatalf("GET %s: %v, want {\"items\"} alone", path, out)
	}
	var list []map[string]any
	for _, it := range out["items"].([]any) {
		list = append(list, it.(map[string]any))
	}
	return list
}

// sessionID is the id of the session of an access token.
func (e *lifecycleEnv) sessionID(token string) string {
	e.t.Helper()
	for _, s := range e.sessions("/users/me/sessions", token) {
		if s["current"] == true {
			return s["id"].(string)
		}
	}
	e.t.Fatal("no current session")
	return ""
}

// staff makes an ADMIN (with the use case, as `usersvc create-admin` does)
// and a MANAGER (promoted by that ADMIN); it returns their ids and tokens.
func (e *lifecycleEnv) staff(prefix string) (adminID, admin, managerID, manager string) {
	e.t.Helper()
	a, err := e.svc.CreateAdmin(context.Background(), prefix+"-root@example.com", mfaPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	admin = e.login(prefix + "-root@example.com")
	managerID, _ = e.user(prefix + "-manager@example.com")
	e.want(http.StatusOK, "", http.MethodPatch, "/users/"+managerID+"/role", admin, map[string]string{"role": "MANAGER"})
	return a.ID(), admin, managerID, e.login(prefix + "-manager@example.com")
}

// audit returns the audit events of type typ about target, as the ADMIN
// reads them.
func (e *lifecycleEnv) audit(admin string, typ domain.AuditEventType, target string) []map[string]any {
	e.t.Helper()
	out := e.want(http.StatusOK, "", http.MethodGet, "/audit-log?"+url.Values{"event": {string(typ)}, "target": {target}}.Encode(), admin, nil)
	var list []map[string]any
	for _, it := range out["items"].([]any) {
		list = append(list, it.(map[string]any))
	}
	return list
}

// link returns the token of the latest link of kind mailed to address,
// checking the link's address.
func (e *lifecycleEnv) link(to string, kind domain.MessageKind, path string) string {
	e.t.Helper()
	msgs := e.sent(to, kind)
	if len(msgs) == 0 {
		e.t.Fatalf("no %s message to %s", kind, to)
	}
	rest, ok := strings.CutPrefix(msgs[len(msgs)-1].Link, "http://usersvc.test"+path+"?token=")
	if !ok {
		e.t.Fatalf("%s link %q, want http://usersvc.test%s?token=…", kind, msgs[len(msgs)-1].Link, path)
	}
	token, err := url.QueryUnescape(rest)
	if err != nil {
		e.t.Fatal(err)
	}
	return token
}

// page serves a browser's GET and wants an HTML page with status that
// contains each of want.
func (e *lifecycleEnv) page(path string, status int, want ...string) {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != status || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
		e.t.Fatalf("GET %s: %d %s, want an HTML page, %d", path, rec.Code, rec.Header().Get("Content-Type"), status)
	}
	for _, w := range want {
		if !strings.Contains(string(body), w) {
			e.t.Errorf("GET %s: the page lacks %s", path, w)
		}
	}
}

// sessionKeys are the fields of a session, every one of them.
var sessionKeys = []string{"created_at", "current", "expires_at", "id", "ip", "last_used_at", "user_agent"}

func testLifecycleOwnSessions(e *lifecycleEnv) {
	t := e.t
	const email = "sessions@example.com"
	_, first := e.user(email)
	e.clock.Advance(time.Minute)
	secondAccess, secondRefresh := e.session(email)
	e.clock.Advance(time.Minute)
	thirdAccess, thirdRefresh := e.session(email)

	// Listed newest first, the caller's current, never a token.
	list := e.sessions("/users/me/sessions", thirdAccess)
	if len(list) != 3 {
		t.Fatalf("%d sessions, want 3: %v", len(list), list)
	}
	for i, s := range list {
		keys := make([]string, 0, len(s))
		for k := range s {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !reflect.DeepEqual(keys, sessionKeys) {
			t.Errorf("session fields %v, want %v", keys, sessionKeys)
		}
		if s["current"] != (i == 0) {
			t.Errorf("session %d current %v, want the newest (the caller's) alone", i, s["current"])
		}
		if s["ip"] != "192.0.2.1" || s["last_used_at"] != s["created_at"] {
			t.Errorf("session %d: ip %v, created %v, last used %v; want the login's", i, s["ip"], s["created_at"], s["last_used_at"])
		}
		for _, tok := range []string{first, secondAccess, secondRefresh, thirdAccess, thirdRefresh} {
			for _, v := range s {
				if v == tok {
					t.Error("a session shows a token")
				}
			}
		}
		if i > 0 {
			prev, _ := time.Parse(time.RFC3339, list[i-1]["created_at"].(string))
			this, _ := time.Parse(time.RFC3339, s["created_at"].(string))
			if !this.Before(prev) {
				t.Errorf("not newest first: %v then %v", prev, this)
			}
		}
	}
	if list := e.sessions("/users/me/sessions/", secondAccess); list[0]["current"] != false || list[1]["current"] != true {
		t.Errorf("from the second session: current %v, %v, %v", list[0]["current"], list[1]["current"], list[2]["current"])
	}
	e.want(http.StatusUnauthorized, "", http.MethodGet, "/users/me/sessions", "", nil)
	e.want(http.StatusUnauthorized, "", http.MethodDelete, "/users/me/sessions", "", nil)

	// Another user's session, an unknown one and a malformed id: 404.
	_, otherToken := e.user("sessions-other@example.com")
	for _, id := range []string{e.sessionID(otherToken), system.IDs{}.NewID(), "not-a-session"} {
		e.want(http.StatusNotFound, "Session not found", http.MethodDelete, "/users/me/sessions/"+id, thirdAccess, nil)
	}
	e.alive(otherToken)

	// Ending one: its access and refresh tokens are refused from the
	// next request on, on every instance; the others go on.
	second := e.sessionID(secondAccess)
	e.want(http.StatusNoContent, "", http.MethodDelete, "/users/me/sessions/"+second, thirdAccess, nil)
	e.dead(secondAccess)
	e.refresh(secondRefresh, false)
	e.alive(first)
	e.alive(thirdAccess)
	thirdAccess, thirdRefresh = e.refresh(thirdRefresh, true)
	e.alive(thirdAccess)
	if list := e.sessions("/users/me/sessions", thirdAccess); len(list) != 2 || list[0]["current"] != true || list[0]["id"] == second || list[1]["id"] == second {
		t.Errorf("after ending one: %v", list)
	}
	e.want(http.StatusNotFound, "Session not found", http.MethodDelete, "/users/me/sessions/"+second, thirdAccess, nil)

	// Ending every other: the caller's alone is left.
	e.want(http.StatusNoContent, "", http.MethodDelete, "/users/me/sessions", first, nil)
	e.dead(thirdAccess)
	e.refresh(thirdRefresh, false)
	e.alive(first)
	if list := e.sessions("/users/me/sessions", first); len(list) != 1 || list[0]["current"] != true {
		t.Errorf("after ending the others: %v", list)
	}
	e.want(http.StatusNoContent, "", http.MethodDelete, "/users/me/sessions/", first, nil) // nothing else left: still 204
	e.alive(otherToken)

	// One's own session may be ended, as a logout.
	e.want(http.StatusNoContent, "", http.MethodDelete, "/users/me/sessions/"+e.sessionID(first), first, nil)
	e.dead(first)
}

func testLifecycleStaffSessions(e *lifecycleEnv) {
	t := e.t
	adminID, admin, managerID, manager := e.staff("staff-sessions")
	const email = "watched@example.com"
	id, first := e.user(email)
	secondAccess, secondRefresh := e.session(email)
	plainID, plain := e.user("bystander@example.com")

	for _, staff := range []string{admin, manager} {
		list := e.sessions("/users/"+id+"/sessions", staff)
		if len(list) != 2 {
			t.Fatalf("%d sessions, want 2", len(list))
		}
		for _, s := range list {
			if s["current"] != false {
				t.Errorf("staff see a current session: %v", s)
			}
		}
	}
	for _, s := range e.sessions("/users/"+adminID+"/sessions", admin) {
		if s["current"] != false {
			t.Error("the ADMIN's own session is current in staff's view")
		}
	}
	// A plain user is refused, even on their own; a MANAGER on an ADMIN
	// or a MANAGER.
	for _, method := range []string{http.MethodGet, http.MethodDelete} {
		e.want(http.StatusForbidden, "Operation not permitted", method, "/users/"+id+"/sessions", plain, nil)
		e.want(http.StatusForbidden, "Operation not permitted", method, "/users/"+plainID+"/sessions", plain, nil)
		e.want(http.StatusForbidden, "Operation not permitted", method, "/users/"+adminID+"/sessions", manager, nil)
		e.want(http.StatusForbidden, "Operation not permitted", method, "/users/"+managerID+"/sessions", manager, nil)
		e.want(http.StatusUnauthorized, "", method, "/users/"+id+"/sessions", "", nil)
		for _, staff := range []string{admin, manager} {
			e.want(http.StatusNotFound, "User not found", method, "/users/"+system.IDs{}.NewID()+"/sessions", staff, nil)
		}
	}
	e.alive(admin)
	e.alive(manager)
	e.alive(first)

	// Ending them all: both sessions' tokens die on every instance; the
	// password stays.
	e.want(http.StatusNoContent, "", http.MethodDelete, "/users/"+id+"/sessions/", manager, nil)
	e.dead(first)
	e.dead(secondAccess)
	e.refresh(secondRefresh, false)
	if list := e.sessions("/users/"+id+"/sessions", admin); len(list) != 0 {
		t.Errorf("%d sessions left", len(list))
	}
	e.alive(manager)
	e.alive(plain)
	e.alive(e.login(email))
	if ev := e.audit(admin, domain.EventSessionEnded, id); len(ev) != 1 || ev[0]["actor"] != managerID {
		t.Errorf("audit %v, want one session_ended by the MANAGER", ev)
	}
}

func testLifecycleEmailChange(e *lifecycleEnv) {
	t := e.t
	_, admin, _, _ := e.staff("email-change")
	const (
		old   = "mover@example.com"
		moved = "moved@example.com"
	)
	id, _ := e.user(old)
	askAccess, askRefresh := e.session(old)
	elseAccess, elseRefresh := e.session(old)
	e.user("taken@example.com")
	pendingReset := func() string {
		e.want(http.StatusAccepted, "", http.MethodPost, "/password-reset/request", "", map[string]string{"email": old})
		msgs := e.sent(old, domain.MessagePasswordReset)
		_, token, _ := strings.Cut(msgs[len(msgs)-1].Link, "token=")
		token, _ = url.QueryUnescape(token)
		return token
	}()

	// The password is checked; bad input is 422; a token is needed.
	e.want(http.StatusBadRequest, "Incorrect password", http.MethodPost, "/users/me/email", askAccess, map[string]string{"new_email": moved, "password": "not the passphrase"})
	e.want(http.StatusUnprocessableEntity, "", http.MethodPost, "/users/me/email", askAccess, map[string]string{"new_email": "not-an-email", "password": mfaPassword})
	e.want(http.StatusUnprocessableEntity, "", http.MethodPost, "/users/me/email", askAccess, map[string]string{"new_email": moved})
	e.want(http.StatusUnprocessableEntity, "", http.MethodPost, "/users/me/email", askAccess, map[string]string{"new_email": strings.ToUpper(old), "password": mfaPassword})
	e.want(http.StatusUnauthorized, "", http.MethodPost, "/users/me/email", "", map[string]string{"new_email": moved, "password": mfaPassword})
	if n := len(e.sent(moved, domain.MessageEmailChange)) + len(e.sent(old, domain.MessageEmailChangeRequested)); n != 0 {
		t.Errorf("%d messages after refused requests", n)
	}

	// A taken address: the same 202, no link; a free one: a link to it.
	taken := e.want(http.StatusAccepted, "", http.MethodPost, "/users/me/email", askAccess, map[string]string{"new_email": "taken@example.com", "password": mfaPassword})
	free := e.want(http.StatusAccepted, "", http.MethodPost, "/users/me/email/", askAccess, map[string]string{"new_email": " Moved@Example.com ", "password": mfaPassword})
	if !reflect.DeepEqual(taken, free) || len(free) != 1 || free["message"] == "" {
		t.Errorf("answers %v and %v, want the same {\"message\"}", taken, free)
	}
	if n := len(e.sent("taken@example.com", domain.MessageEmailChange)); n != 0 {
		t.Errorf("%d links to the taken address", n)
	}
	if n := len(e.sent(old, domain.MessageEmailChangeRequested)); n != 2 {
		t.Errorf("%d notices to the old address, want 2", n)
	}
	token := e.link(moved, domain.MessageEmailChange, "/email-change")

	// Nothing changes until the link is followed.
	e.login(old)
	e.want(http.StatusUnauthorized, "Incorrect email or password.", http.MethodPost, "/login/", "", url.Values{"username": {moved}, "password": {mfaPassword}})
	e.page("/email-change?token="+url.QueryEscape(token), http.StatusOK, `action="/email-change/confirm"`)
	e.login(old)

	u := e.want(http.StatusOK, "", http.MethodPost, "/email-change/confirm", "", map[string]string{"token": token})
	if u["id"] != id || u["email"] != moved || u["email_verified"] != true {
		t.Errorf("confirmed: %v", u)
	}
	e.want(http.StatusBadRequest, "Invalid or expired token", http.MethodPost, "/email-change/confirm", "", map[string]string{"token": token})
	e.want(http.StatusBadRequest, "Invalid or expired token", http.MethodPost, "/email-change/confirm", "", map[string]string{"token": "not a token"})

	// The old address cannot log in, the new one can; links mailed to the
	// old address died; every session but the asker's ended, on every
	// instance; the old address is told.
	e.want(http.StatusUnauthorized, "Incorrect email or password.", http.MethodPost, "/login/", "", url.Values{"username": {old}, "password": {mfaPassword}})
	e.alive(e.login(moved))
	e.want(http.StatusBadRequest, "Invalid or expired reset token", http.MethodPost, "/password-reset/confirm", "", map[string]string{"token": pendingReset, "new_password": mfaPassword + " anew"})
	e.alive(askAccess)
	e.dead(elseAccess)
	e.refresh(elseRefresh, false)
	askAccess, _ = e.refresh(askRefresh, true)
	if n := len(e.sent(old, domain.MessageEmailChanged)); n != 1 {
		t.Errorf("%d email_changed notices to the old address, want 1", n)
	}
	for typ, n := range map[domain.AuditEventType]int{domain.EventEmailChangeAsked: 2, domain.EventEmailChanged: 1} {
		if ev := e.audit(admin, typ, id); len(ev) != n {
			t.Errorf("%d %s events, want %d", len(ev), typ, n)
		}
	}

	// An address taken between the request and the link.
	e.want(http.StatusAccepted, "", http.MethodPost, "/users/me/email", askAccess, map[string]string{"new_email": "contested@example.com", "password": mfaPassword})
	token = e.link("contested@example.com", domain.MessageEmailChange, "/email-change")
	e.user("contested@example.com")
	e.want(http.StatusBadRequest, "Email already exists", http.MethodPost, "/email-change/confirm", "", map[string]string{"token": token})

	// An expired link: 24 hours.
	e.want(http.StatusAccepted, "", http.MethodPost, "/users/me/email", askAccess, map[string]string{"new_email": "late@example.com", "password": mfaPassword})
	token = e.link("late@example.com", domain.MessageEmailChange, "/email-change")
	e.clock.Advance(24 * time.Hour)
	e.want(http.StatusBadRequest, "Invalid or expired token", http.MethodPost, "/email-change/confirm", "", map[string]string{"token": token})
	e.login(moved)
	e.want(http.StatusUnauthorized, "Incorrect email or password.", http.MethodPost, "/login/", "", url.Values{"username": {"late@example.com"}, "password": {mfaPassword}})
}

func testLifecycleInvitations(e *lifecycleEnv) {
	t := e.t
	adminID, admin, _, manager := e.staff("invitations")
	_, plain := e.user("uninvited@example.com")
	const (
		invitee  = "invitee@example.com"
		byMgr    = "by-manager@example.com"
		lingerer = "lingerer@example.com"
	)

	// By an ADMIN, with a role; by a MANAGER, AUTHENTICATED, never an ADMIN.
	u := e.want(http.StatusCreated, "", http.MethodPost, "/users/invite", admin, map[string]string{"email": "Invitee@Example.com", "role": "MANAGER", "first_name": "Grace"})
	if u["email"] != invitee || u["role"] != "MANAGER" || u["email_verified"] != false || u["invitation_pending"] != true || u["first_name"] != "Grace" {
		t.Errorf("invited by the ADMIN: %v", u)
	}
	inviteeID := u["id"].(string)
	u = e.want(http.StatusCreated, "", http.MethodPost, "/users/invite/", manager, map[string]string{"email": byMgr})
	if u["role"] != "AUTHENTICATED" || u["email_verified"] != false || u["invitation_pending"] != true {
		t.Errorf("invited by the MANAGER: %v", u)
	}
	byMgrID := u["id"].(string)
	e.want(http.StatusForbidden, "Operation not permitted", http.MethodPost, "/users/invite", manager, map[string]string{"email": "boss@example.com", "role": "ADMIN"})
	e.want(http.StatusForbidden, "Operation not permitted", http.MethodPost, "/users/invite", plain, map[string]string{"email": "friend@example.com"})
	e.want(http.StatusUnauthorized, "", http.MethodPost, "/users/invite", "", map[string]string{"email": "friend@example.com"})
	e.want(http.StatusBadRequest, "Email already exists", http.MethodPost, "/users/invite", admin, map[string]string{"email": "UNINVITED@example.com"})
	e.want(http.StatusBadRequest, "Email already exists", http.MethodPost, "/users/invite", manager, map[string]string{"email": invitee})
	e.want(http.StatusUnprocessableEntity, "", http.MethodPost, "/users/invite", admin, map[string]string{"email": "not-an-email"})
	e.want(http.StatusUnprocessableEntity, "", http.MethodPost, "/users/invite", admin, map[string]string{"email": "pw@example.com", "password": mfaPassword})
	if e.sent("boss@example.com", domain.MessageInvitation) != nil || e.sent("friend@example.com", domain.MessageInvitation) != nil {
		t.Error("a refused invitation was mailed")
	}

	// Until accepted, the invited email answers /login/ as an unknown one.
	for _, password := range []string{mfaPassword, "not the passphrase"} {
		status, invited := e.do(http.MethodPost, "/login/", "", url.Values{"username": {invitee}, "password": {password}})
		unknownStatus, unknown := e.do(http.MethodPost, "/login/", "", url.Values{"username": {"nobody@example.com"}, "password": {password}})
		if status != http.StatusUnauthorized || status != unknownStatus || !reflect.DeepEqual(invited, unknown) || invited["detail"] != "Incorrect email or password." {
			t.Errorf("login of the invitation %d %v, of an unknown email %d %v", status, invited, unknownStatus, unknown)
		}
	}

	// The mailed link: its page, then the API accepts with a password and
	// signs the person in.
	token := e.link(invitee, domain.MessageInvitation, "/invitation")
	e.page("/invitation?token="+url.QueryEscape(token), http.StatusOK, `action="/invitations/accept"`, `name="password"`)
	e.want(http.StatusUnprocessableEntity, "", http.MethodPost, "/invitations/accept", "", map[string]string{"token": token, "password": "password"})
	e.want(http.StatusBadRequest, "Invalid or expired invitation", http.MethodPost, "/invitations/accept", "", map[string]string{"token": "not a token", "password": mfaPassword})
	out := e.want(http.StatusOK, "", http.MethodPost, "/invitations/accept/", "", map[string]string{"token": token, "password": mfaPassword})
	if out["token_type"] != "bearer" || out["refresh_token"] == nil || out["expires_in"] == nil {
		t.Errorf("accepted: %v, want the body of /login/", out)
	}
	access := out["access_token"].(string)
	e.alive(access)
	me := e.want(http.StatusOK, "", http.MethodGet, "/users/me", access, nil)
	if me["email_verified"] != true || me["invitation_pending"] != false || me["role"] != "MANAGER" || me["last_login_at"] == nil {
		t.Errorf("after accepting: %v", me)
	}
	if list := e.sessions("/users/me/sessions", access); len(list) != 1 || list[0]["current"] != true {
		t.Errorf("sessions %v, want the one accepting opened", list)
	}
	e.refresh(out["refresh_token"].(string), true)
	e.alive(e.login(invitee))
	// Spent.
	e.want(http.StatusBadRequest, "Invalid or expired invitation", http.MethodPost, "/invitations/accept", "", map[string]string{"token": token, "password": mfaPassword})
	e.want(http.StatusConflict, "Invitation already accepted", http.MethodPost, "/users/"+inviteeID+"/invitation", admin, nil)

	// Resending: a fresh link; the old one stops working.
	first := e.link(byMgr, domain.MessageInvitation, "/invitation")
	out = e.want(http.StatusAccepted, "", http.MethodPost, "/users/"+byMgrID+"/invitation", manager, nil)
	if out["message"] == nil {
		t.Errorf("resent: %v, want a message", out)
	}
	fresh := e.link(byMgr, domain.MessageInvitation, "/invitation")
	if fresh == first {
		t.Fatal("the resent link is the first one")
	}
	e.want(http.StatusBadRequest, "Invalid or expired invitation", http.MethodPost, "/invitations/accept", "", map[string]string{"token": first, "password": mfaPassword})
	e.want(http.StatusOK, "", http.MethodPost, "/invitations/accept", "", map[string]string{"token": fresh, "password": mfaPassword})
	e.login(byMgr)
	e.want(http.StatusNotFound, "User not found", http.MethodPost, "/users/"+system.IDs{}.NewID()+"/invitation", admin, nil)
	e.want(http.StatusForbidden, "Operation not permitted", http.MethodPost, "/users/"+byMgrID+"/invitation", plain, nil)

	// Audit: who invited, resent, accepted.
	if ev := e.audit(admin, domain.EventUserInvited, inviteeID); len(ev) != 1 || ev[0]["actor"] != adminID {
		t.Errorf("audit %v, want one user_invited by the ADMIN", ev)
	}
	for typ, target := range map[domain.AuditEventType]string{domain.EventInvitationResent: byMgrID, domain.EventInvitationAccepted: inviteeID} {
		if ev := e.audit(admin, typ, target); len(ev) != 1 {
			t.Errorf("%d %s events, want 1", len(ev), typ)
		}
	}

	// Expired after INVITATION_TOKEN_TTL (72 h); a resent link works.
	u = e.want(http.StatusCreated, "", http.MethodPost, "/users/invite", admin, map[string]string{"email": lingerer})
	token = e.link(lingerer, domain.MessageInvitation, "/invitation")
	e.clock.Advance(72 * time.Hour)
	e.want(http.StatusBadRequest, "Invalid or expired invitation", http.MethodPost, "/invitations/accept", "", map[string]string{"token": token, "password": mfaPassword})
	admin = e.login("invitations-root@example.com") // the earlier access token expired too
	e.want(http.StatusAccepted, "", http.MethodPost, "/users/"+u["id"].(string)+"/invitation", admin, nil)
	e.want(http.StatusOK, "", http.MethodPost, "/invitations/accept", "", map[string]string{"token": e.link(lingerer, domain.MessageInvitation, "/invitation"), "password": mfaPassword})
	e.login(lingerer)
}
