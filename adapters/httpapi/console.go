package httpapi

// The console (PRODUCT.md 8.9): server-rendered pages for staff (/admin)
// and for every signed-in person (/account), on the very use cases the
// API calls, so a page allows exactly what the API allows.
//
// A browser session is a usersvc session: signing in runs app.Login (the
// lockout, the rate limits and the second factor of /login/), and its access
// and refresh tokens live in two HttpOnly, SameSite=Strict cookies (Secure,
// with the __Host- prefix, outside development). Each request authenticates
// the access token as the API does; when it has expired the refresh token
// is rotated here, on the server. Whatever ends a session for the API (a
// logout, a staff lock, a demotion, a password change) ends it for the
// console at the next request.
//
// Every state-changing request is a POST that must come from the console's
// own origin (Origin, else Sec-Fetch-Site, else Referer) and carry a CSRF
// token: an HMAC of the session's id under a key every instance shares, or,
// before there is a session (the sign-in forms), a random value that must
// match a cookie. Pages carry a strict CSP: no script at all, styles from
// one stylesheet served by the binary, no outside asset; charts and the
// second factor's QR code are inline SVG drawn on the server.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

//go:embed console
var consoleFiles embed.FS

// consoleCSP allows the one stylesheet and forms posted to the service
// itself; no script, no frame, no other origin. SVG is inline markup.
const consoleCSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-ancestors 'none'; base-uri 'none'"

// The console's cookies. Outside development each name takes the __Host-
// prefix, which browsers accept only with Secure, Path=/ and no Domain.
const (
	cookieAccess  = "usersvc_access"  // the session's access token
	cookieRefresh = "usersvc_refresh" // the session's refresh token
	cookieSignIn  = "usersvc_signin"  // the CSRF token of the sign-in forms, before a session
)

// consoleDeps are what the console is built from.
type consoleDeps struct {
	log *slog.Logger
	uc  UseCases
	lim *limits
	// secure: cookies are Secure, with the __Host- prefix (outside development).
	secure bool
	// key keys the CSRF tokens; every instance must share it.
	key []byte
	// hooks serve the webhook pages; nil: they do not exist.
	hooks WebhookAdmin
}

// console serves the pages. Each page calls several use cases, so it holds
// UseCases whole rather than one interface per handler.
type console struct {
	consoleDeps
	pages   map[string]*template.Template
	css     consoleAsset
	refresh *refreshGroup
}

// consoleAsset is a static file served at a path that names its content.
type consoleAsset struct {
	path string // /assets/console-<hash>.css
	body []byte
	ct   string
}

// consolePages are the templates, each rendered inside layout.html.
var consolePages = []string{
	"signin", "message", "dashboard", "users", "user", "delete", "invite", "audit",
	"account", "password", "sessions", "twofactor", "email", "webhooks", "deliveries", "leave",
}

func newConsole(d consoleDeps) *console {
	if len(d.key) == 0 {
		// One instance: a key of its own (tokens of earlier processes fail,
		// and the page is simply posted again). cmd passes a shared one.
		d.key = []byte(rand.Text())
	}
	funcs := template.FuncMap{
		"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04") },
		"day":  func(t time.Time) string { return t.UTC().Format("Mon 2 Jan") },
		"yesno": func(b bool) string {
			if b {
				return "yes"
			}
			return "no"
		},
		"short": func(id string) string {
			if len(id) > 8 {
				return id[:8] + "…"
			}
			return id
		},
	}
	c := &console{consoleDeps: d, pages: map[string]*template.Template{}, refresh: newRefreshGroup()}
	for _, name := range consolePages {
		c.pages[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(consoleFiles,
			"console/templates/layout.html", "console/templates/"+name+".html"))
	}
	c.css = consoleStyles
	return c
}

// consoleStyles is the console's stylesheet, which the pages of pages.go
// share.
var consoleStyles = func() consoleAsset {
	css, err := fs.ReadFile(consoleFiles, "console/static/console.css")
	if err != nil {
		panic(err) // embedded: present, or the binary would not build
	}
	sum := sha256.Sum256(css)
	return consoleAsset{path: "/assets/console-" + hex.EncodeToString(sum[:6]) + ".css", body: css, ct: "text/css; charset=utf-8"}
}()

// addConsoleRoutes registers the console. Its routes are pages for people,
// not the API: openapi.json leaves them out (openapi_internal_test.go).
func addConsoleRoutes(r *mux.Router, c *console) {
	get := func(path string, h http.Handler) {
		r.Handle(path, h).Methods(http.MethodGet, http.MethodHead).Name(path)
	}
	post := func(path string, h http.Handler) {
		r.Handle(path, h).Methods(http.MethodPost).Name(path)
	}
	get("/assets/{file}", c.handleAsset())

	post("/account/sign-in", c.handleSignIn())
	post("/account/sign-in/code", c.handleSignInCode())
	post("/account/sign-out", c.action(c.handleSignOut))

	get("/admin", c.staffPage(c.handleDashboard))
	get("/admin/users", c.staffPage(c.handleUsers))
	get("/admin/users/{user_id}", c.staffPage(c.handleUser))
	get("/admin/users/{user_id}/delete", c.staffPage(c.handleDeletePage))
	post("/admin/users/{user_id}/{action}", c.action(c.handleUserAction))
	get("/admin/invite", c.staffPage(c.handleInvitePage))
	post("/admin/invite", c.action(c.handleInvite))
	get("/admin/audit", c.staffPage(c.handleAudit))
	if c.hooks != nil {
		get("/admin/webhooks", c.staffPage(c.handleWebhooks))
		post("/admin/webhooks", c.action(c.handleCreateWebhook))
		get("/admin/webhooks/{webhook_id}", c.staffPage(c.handleDeliveries))
		post("/admin/webhooks/{webhook_id}/delete", c.action(c.handleDeleteWebhook))
	}

	get("/account", c.page(c.handleAccount))
	post("/account/profile", c.action(c.handleUpdateProfile))
	get("/account/password", c.page(c.handlePasswordPage))
	post("/account/password", c.action(c.handleChangePassword))
	get("/account/sessions", c.page(c.handleSessions))
	post("/account/sessions/end-others", c.action(c.handleEndOtherSessions))
	post("/account/sessions/{session_id}/end", c.action(c.handleEndSession))
	get("/account/two-factor", c.page(c.handleTwoFactor))
	post("/account/two-factor/{step}", c.action(c.handleTwoFactorStep))
	get("/account/email", c.page(c.handleEmailPage))
	post("/account/email", c.action(c.handleRequestEmailChange))
	get("/account/delete", c.page(c.handleLeavePage))
	post("/account/delete", c.action(c.handleLeave))
}

// handleAsset serves the stylesheet. Its path names its content, so it may
// be cached for good.
func (c *console) handleAsset() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != c.css.path {
			writeDetail(w, http.StatusNotFound, "Not Found")
			return
		}
		w.Header().Set("Content-Type", c.css.ct)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		_, _ = w.Write(c.css.body)
	})
}

// --- navigation ---------------------------------------------------------

// navEntry is one link of the console's navigation.
type navEntry struct {
	href, label string
	adminOnly   bool // ADMIN only (the API refuses a MANAGER)
	hooks       bool // only where the service has webhooks
}

// adminNav is the staff section, in order. A staff page joins it with one
// line here.
var adminNav = []navEntry{
	{href: "/admin", label: "Dashboard"},
	{href: "/admin/users", label: "Users"},
	{href: "/admin/invite", label: "Invite"},
	{href: "/admin/audit", label: "Audit log", adminOnly: true},
	{href: "/admin/webhooks", label: "Webhooks", adminOnly: true, hooks: true},
}

// accountNav is every signed-in person's section.
var accountNav = []navEntry{
	{href: "/account", label: "Profile"},
	{href: "/account/password", label: "Password"},
	{href: "/account/sessions", label: "Sessions"},
	{href: "/account/two-factor", label: "Two-factor"},
	{href: "/account/email", label: "Email"},
}

type navLink struct {
	Href, Label string
	Current     bool
}

func navFor(entries []navEntry, role domain.Role, hooks bool, current string) []navLink {
	var out []navLink
	for _, e := range entries {
		if e.adminOnly && role != domain.RoleAdmin || e.hooks && !hooks {
			continue
		}
		out = append(out, navLink{Href: e.href, Label: e.label, Current: e.href == current})
	}
	return out
}

// --- rendering ----------------------------------------------------------

// pageView is what layout.html shows around a page's content.
type pageView struct {
	Title   string
	Section string // "admin" or "account"
	Nav     []navLink
	Me      *meView // nil: signed out
	CSRF    string
	Flash   string
	Errors  []string
	CSS     string
	Data    any
}

type meView struct {
	Email string
	Role  string
	Staff bool
}

// consoleSession is a signed-in person and the CSRF token of their session.
type consoleSession struct {
	actor domain.Actor
	csrf  string
}

// view starts the pageView of a page of section, at nav entry current.
func (c *console) view(s consoleSession, section, current, title string, data any) pageView {
	v := pageView{Title: title, Section: section, CSRF: s.csrf, Data: data}
	if u := s.actor.User; u != nil {
		v.Me = &meView{Email: u.Email(), Role: s.actor.Role.String(), Staff: s.actor.Role.IsStaff()}
	}
	if section == "admin" {
		v.Nav = navFor(adminNav, s.actor.Role, c.hooks != nil, current)
	} else {
		v.Nav = navFor(accountNav, s.actor.Role, c.hooks != nil, current)
	}
	return v
}

// render writes page name with status. Pages are never cached; their
// forms post only to this origin.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, v pageView) {
	v.CSS = c.css.path
	var buf bytes.Buffer
	if err := c.pages[name].ExecuteTemplate(&buf, "layout", v); err != nil {
		id := requestID(r.Context())
		c.log.ErrorContext(r.Context(), "rendering a console page", "request_id", id, "page", name, "error", err)
		http.Error(w, "internal error (request "+id+")", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", consoleCSP)
	h.Set("Cache-Control", "no-store")
	// Same-origin form posts then carry their Origin (no-referrer would
	// make it "null"); nothing leaks to other sites.
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

// messageData is the content of a page that only says something.
type messageData struct {
	Text, Link, LinkLabel string
}

// renderMessage shows a page that says text, with a link onwards.
func (c *console) renderMessage(w http.ResponseWriter, r *http.Request, s consoleSession, status int, title, text, link, linkLabel string) {
	section := "account"
	if strings.HasPrefix(r.URL.Path, "/admin") && s.actor.Role.IsStaff() {
		section = "admin"
	}
	v := c.view(s, section, "", title, messageData{Text: text, Link: link, LinkLabel: linkLabel})
	c.render(w, r, status, "message", v)
}

// fail shows err, from a use case, as the page's answer: its kind's status
// and the API's words for it. An unexpected error is logged once and
// shown as a request id.
func (c *console) fail(w http.ResponseWriter, r *http.Request, s consoleSession, title string, err error) {
	status, msgs := c.describeError(r, err)
	section := "account"
	if strings.HasPrefix(r.URL.Path, "/admin") && s.actor.Role.IsStaff() {
		section = "admin"
	}
	v := c.view(s, section, "", title, messageData{Link: backLink(r), LinkLabel: "Back"})
	v.Errors = msgs
	c.render(w, r, status, "message", v)
}

// describeError is the status and the words of err, as the API says them.
func (c *console) describeError(r *http.Request, err error) (int, []string) {
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		msgs := make([]string, 0, len(ve.Fields))
		for _, f := range ve.Fields {
			_, msg := describe(f)
			if f.Field != "" {
				msg = fieldLabel(f.Field) + ": " + msg
			}
			msgs = append(msgs, msg)
		}
		return http.StatusUnprocessableEntity, msgs
	}
	if a, ok := answerFor(err); ok {
		return a.status, []string{sentence(detailFor(err, a))}
	}
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return 499, []string{"The request was cancelled."}
	}
	id := requestID(r.Context())
	c.log.ErrorContext(r.Context(), "internal error", "request_id", id, "method", r.Method, "route", routeName(r), "error", err)
	return http.StatusInternalServerError, []string{"Something went wrong. Please try again later (request " + id + ")."}
}

// sentence ends s with a full stop.
func sentence(s string) string {
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

// fieldLabel names a field of a form as its label does.
func fieldLabel(field string) string {
	labels := map[string]string{
		"email": "Email", "new_email": "New email", "nickname": "Nickname", "password": "Password",
		"new_password": "New password", "current_password": "Current password", "first_name": "First name",
		"last_name": "Last name", "bio": "Bio", "preferred_language": "Preferred language", "role": "Role",
		"q": "Search", "sort": "Sort", "cursor": "Page", "code": "Code", "event": "Event", "since": "Since",
		"until": "Until", "actor": "Actor id", "target": "Target id", "limit": "Page size",
	}
	if l, ok := labels[field]; ok {
		return l
	}
	return field
}

// backLink is the page a failed form came from: the path of a same-origin
// Referer, else the section's first page.
func backLink(r *http.Request) string {
	if ref, err := url.Parse(r.Header.Get("Referer")); err == nil && ref.Path != "" && safeNext(ref.Path) == ref.Path {
		if ref.RawQuery != "" {
			return ref.Path + "?" + ref.RawQuery
		}
		return ref.Path
	}
	if strings.HasPrefix(r.URL.Path, "/admin") {
		return "/admin"
	}
	return "/account"
}

// safeNext keeps a path of the console to go to after signing in;
// anything else (another site, another part of the service) is /account.
func safeNext(next string) string {
	if next == "" || strings.ContainsAny(next, "\\\r\n\t") || strings.HasPrefix(next, "//") {
		return "/account"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || path.Clean(u.Path) != u.Path {
		return "/account"
	}
	for _, root := range []string{"/admin", "/account"} {
		if u.Path == root || strings.HasPrefix(u.Path, root+"/") {
			return next
		}
	}
	return "/account"
}

// nextOf is where a sign-in from r's page goes: the page, without the
// message a redirect to it carried.
func nextOf(r *http.Request) string {
	u := *r.URL
	q := u.Query()
	q.Del("done")
	u.RawQuery = q.Encode()
	return safeNext(u.RequestURI())
}

// redirect answers a handled POST: see the page again (303).
func redirect(w http.ResponseWriter, to string) {
	w.Header().Set("Location", to)
	w.WriteHeader(http.StatusSeeOther)
}

// --- sessions -------------------------------------------------------------

func (c *console) cookieName(base string) string {
	if c.secure {
		return "__Host-" + base
	}
	return base
}

func (c *console) cookie(name, value string, maxAge int) *http.Cookie {
	// Secure follows Options.SecureCookies: on outside development, off for
	// plain HTTP on a developer's machine. HttpOnly and SameSite always.
	return &http.Cookie{ //nolint:gosec // see above
		Name: c.cookieName(name), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteStrictMode,
	}
}

func (c *console) readCookie(r *http.Request, name string) string {
	ck, err := r.Cookie(c.cookieName(name))
	if err != nil {
		return ""
	}
	return ck.Value
}

// setSession keeps a login's tokens, as cookies of the browser's session.
func (c *console) setSession(w http.ResponseWriter, res app.LoginResult) {
	http.SetCookie(w, c.cookie(cookieAccess, res.AccessToken, 0))
	http.SetCookie(w, c.cookie(cookieRefresh, res.RefreshToken, 0))
	http.SetCookie(w, c.cookie(cookieSignIn, "", -1))
}

// clearSession forgets the session's cookies.
func (c *console) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, c.cookie(cookieAccess, "", -1))
	http.SetCookie(w, c.cookie(cookieRefresh, "", -1))
}

// errSignedOut: the request carries no session that still holds.
var errSignedOut = errors.New("console: signed out")

// session authenticates the request's cookies as the API authenticates a
// bearer token; an expired access token is replaced through the refresh
// token (rotated, and both cookies set again). It fails with errSignedOut
// when no session holds, or with the error of a use case (the database is
// unavailable).
func (c *console) session(w http.ResponseWriter, r *http.Request) (consoleSession, error) {
	ctx := r.Context()
	if access := c.readCookie(r, cookieAccess); access != "" {
		actor, err := c.uc.Authenticate(ctx, access)
		if err == nil {
			return c.signedIn(actor), nil
		}
		if !errors.Is(err, domain.ErrUnauthenticated) {
			return consoleSession{}, err
		}
	}
	refresh := c.readCookie(r, cookieRefresh)
	if refresh == "" {
		return consoleSession{}, errSignedOut
	}
	res, err := c.refresh.do(ctx, refresh, c.uc.Refresh)
	if err != nil {
		if errors.Is(err, domain.ErrUnauthenticated) {
			c.clearSession(w)
			return consoleSession{}, errSignedOut
		}
		return consoleSession{}, err
	}
	c.setSession(w, res)
	actor, err := c.uc.Authenticate(ctx, res.AccessToken)
	if errors.Is(err, domain.ErrUnauthenticated) {
		c.clearSession(w)
		return consoleSession{}, errSignedOut
	}
	if err != nil {
		return consoleSession{}, err
	}
	return c.signedIn(actor), nil
}

func (c *console) signedIn(actor domain.Actor) consoleSession {
	return consoleSession{actor: actor, csrf: c.csrfToken(actor.SessionID)}
}

// csrfToken is the CSRF token of a session: it holds for the session's
// life, in every tab, and for no other session.
func (c *console) csrfToken(sessionID string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("usersvc console csrf\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sameOrigin reports whether a state-changing request comes from the
// console's own origin: Origin when the browser sends it (a "null" origin
// is refused), else Sec-Fetch-Site, else Referer. A request with none of
// them is no browser's: the CSRF token alone holds it.
func sameOrigin(r *http.Request) bool {
	base, err := url.Parse(baseURL(r))
	if err != nil {
		return false
	}
	own, ok := normalizeOrigin(base.Scheme + "://" + base.Host)
	if !ok {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		got, ok := normalizeOrigin(o)
		return ok && got == own
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	if ref := r.Header.Get("Referer"); ref != "" {
		u, err := url.Parse(ref)
		if err != nil {
			return false
		}
		got, ok := normalizeOrigin(u.Scheme + "://" + u.Host)
		return ok && got == own
	}
	return true
}

// readConsoleForm reads a posted form (application/x-www-form-urlencoded,
// at most 1 MiB).
func readConsoleForm(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	if mediaType(r) != "application/x-www-form-urlencoded" {
		return nil, errUnsupportedMedia
	}
	body, err := readBody(w, r)
	if err != nil {
		return nil, err
	}
	return url.ParseQuery(string(body))
}

// refuse answers a state-changing request that failed the origin or CSRF
// checks: nothing was done.
func (c *console) refuse(w http.ResponseWriter, r *http.Request, s consoleSession, why string) {
	c.renderMessage(w, r, s, http.StatusForbidden, "Request refused",
		why+" Nothing was changed. Open the page again and retry from it.", backLink(r), "Back")
}

// page serves a GET page to a signed-in person, and the sign-in form to
// anyone else.
func (c *console) page(h func(w http.ResponseWriter, r *http.Request, s consoleSession)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := c.session(w, r)
		if errors.Is(err, errSignedOut) {
			c.signInForm(w, r, http.StatusOK, signInData{Next: nextOf(r)}, nil)
			return
		}
		if err != nil {
			c.fail(w, r, consoleSession{}, "Sign in", err)
			return
		}
		h(w, r, s)
	})
}

// staffPage is page for ADMIN and MANAGER; others are told it is not theirs.
func (c *console) staffPage(h func(w http.ResponseWriter, r *http.Request, s consoleSession)) http.Handler {
	return c.page(func(w http.ResponseWriter, r *http.Request, s consoleSession) {
		if err := s.actor.CheckAdministers(); err != nil {
			c.renderMessage(w, r, s, http.StatusForbidden, "Not for your account",
				"The administration pages are for staff (ADMIN and MANAGER) only.", "/account", "Go to your account")
			return
		}
		h(w, r, s)
	})
}

// action serves a state-changing POST: from the console's own origin, by a
// signed-in person, with their session's CSRF token.
func (c *console) action(h func(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !sameOrigin(r) {
			c.refuse(w, r, consoleSession{}, "This form was sent from another site.")
			return
		}
		form, err := readConsoleForm(w, r)
		if err != nil {
			c.renderMessage(w, r, consoleSession{}, http.StatusBadRequest, "Request refused", "The form could not be read.", backLink(r), "Back")
			return
		}
		s, err := c.session(w, r)
		if errors.Is(err, errSignedOut) {
			c.renderMessage(w, r, consoleSession{}, http.StatusForbidden, "Signed out",
				"Your session has ended: nothing was changed. Sign in and try again.", safeNext(backLink(r)), "Sign in")
			return
		}
		if err != nil {
			c.fail(w, r, consoleSession{}, "Request failed", err)
			return
		}
		if got := form.Get("csrf"); got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(s.csrf)) != 1 {
			c.refuse(w, r, s, "This form did not carry the token of your session.")
			return
		}
		h(w, r, s, form)
	})
}

// --- refreshing -----------------------------------------------------------

// refreshReuse is how long the outcome of a rotation is handed to other
// requests that present the same refresh token: a browser's parallel
// requests after the access token expired must not look like a replay,
// which would revoke the session. Past it, a spent token presented again
// is a replay, as for the API.
const refreshReuse = 10 * time.Second

// refreshGroup runs one rotation per refresh token and shares its
// outcome with the requests that present the token meanwhile.
type refreshGroup struct {
	mu    sync.Mutex
	calls map[string]*refreshCall
}

type refreshCall struct {
	done chan struct{}
	res  app.LoginResult
	err  error
	at   time.Time // when it finished
}

func newRefreshGroup() *refreshGroup { return &refreshGroup{calls: map[string]*refreshCall{}} }

func (g *refreshGroup) do(ctx context.Context, token string, refresh func(context.Context, string) (app.LoginResult, error)) (app.LoginResult, error) {
	sum := sha256.Sum256([]byte(token))
	key := string(sum[:])
	now := time.Now()
	g.mu.Lock()
	for k, call := range g.calls {
		if !call.at.IsZero() && now.Sub(call.at) > refreshReuse {
			delete(g.calls, k)
		}
	}
	if call, ok := g.calls[key]; ok {
		g.mu.Unlock()
		select {
		case <-call.done:
			return call.res, call.err
		case <-ctx.Done():
			return app.LoginResult{}, ctx.Err()
		}
	}
	call := &refreshCall{done: make(chan struct{})}
	g.calls[key] = call
	g.mu.Unlock()

	// Detached: the rotation must finish for the requests that wait on it.
	res, err := refresh(context.WithoutCancel(ctx), token)
	g.mu.Lock()
	call.res, call.err, call.at = res, err, time.Now()
	if err != nil {
		delete(g.calls, key) // only successes are shared; a bad token costs no memory
	}
	g.mu.Unlock()
	close(call.done)
	return res, err
}
