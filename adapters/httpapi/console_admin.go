package httpapi

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// The staff pages of the console (/admin): the dashboard, users, a user's
// page and its actions, invitations and the audit log.

// consolePageSize is the length of the console's user and event pages.
const consolePageSize = 25

// userView is a user as the console's pages show one.
type userView struct {
	domain.UserState
	MFAEnabled bool
}

func viewUser(u *domain.User) userView {
	st := u.State()
	st.PasswordHash, st.TOTPSecret, st.TOTPPendingSecret = "", "", "" // never near a page
	return userView{UserState: st, MFAEnabled: u.MFAEnabled()}
}

// option is one <option> of a <select>.
type option struct {
	Value, Label string
	Selected     bool
}

func roleOptions(selected string) []option {
	out := make([]option, 0, len(domain.Roles()))
	for _, r := range domain.RoleNames() {
		out = append(out, option{Value: r, Label: r, Selected: r == selected})
	}
	return out
}

// flashes are the messages a page shows after a POST redirected to it
// (?done=code): chosen from this table, so no text comes from the URL.
var flashes = map[string]string{
	"profile":         "Profile saved.",
	"role":            "Role changed.",
	"upgrade":         "The account is now professional.",
	"lock":            "Account locked: its sessions have ended.",
	"unlock":          "Account unlocked.",
	"mfa-reset":       "Second factor reset: the user's sessions have ended, and they have been told by email.",
	"invitation":      "A new invitation link has been sent; the earlier one no longer works.",
	"end-sessions":    "Every session of this user has ended.",
	"invited":         "Invitation sent.",
	"deleted":         "The user has been deleted.",
	"webhook-deleted": "The webhook has been deleted; its pending deliveries will not be sent.",
	"password":        "Password changed. Your other sessions have ended.",
	"session":         "The session has ended.",
	"others":          "Every other session has ended.",
	"mfa-off":         "The second factor is off.",
	"email":           emailChangeAccepted,
	"signed-out":      "You are signed out.",
	"account-deleted": "Your account has been deleted. Goodbye.",
}

func flash(r *http.Request) string { return flashes[r.URL.Query().Get("done")] }

// --- dashboard --------------------------------------------------------------

type roleCount struct {
	Name  string
	Count int
}

type dashboardView struct {
	app.Dashboard
	Roles       []roleCount
	SignupChart template.HTML
	LoginChart  template.HTML
}

func (c *console) handleDashboard(w http.ResponseWriter, r *http.Request, s consoleSession) {
	d, err := c.uc.Dashboard(r.Context(), s.actor)
	if err != nil {
		c.fail(w, r, s, "Dashboard", err)
		return
	}
	data := dashboardView{Dashboard: d, SignupChart: signupChart(d.Days), LoginChart: loginChart(d.Days)}
	for _, role := range domain.Roles() {
		data.Roles = append(data.Roles, roleCount{Name: role.String(), Count: d.Counts.ByRole[role]})
	}
	c.render(w, r, http.StatusOK, "dashboard", c.view(s, "admin", "/admin", "Dashboard", data))
}

// --- users --------------------------------------------------------------------

type boolFilter struct {
	Name, Label string
	Options     []option
}

type usersView struct {
	Q           string
	RoleOptions []option
	BoolFilters []boolFilter
	SortOptions []option
	Users       []userView
	Paged       bool // a page after the first
	FirstHref   string
	NextHref    string
}

// userSorts are the sorts the list offers, as the API names them.
var userSorts = []option{
	{Value: "-created_at", Label: "newest first"}, {Value: "created_at", Label: "oldest first"},
	{Value: "email", Label: "email A–Z"}, {Value: "-email", Label: "email Z–A"},
	{Value: "nickname", Label: "nickname A–Z"}, {Value: "-nickname", Label: "nickname Z–A"},
}

func (c *console) handleUsers(w http.ResponseWriter, r *http.Request, s consoleSession) {
	qs := r.URL.Query()
	sort := qs.Get("sort")
	if sort == "" {
		sort = "-created_at"
	}
	in := app.UserSearch{
		Q: qs.Get("q"), Role: qs.Get("role"), Sort: sort,
		Paging: app.PagingCursor, Cursor: qs.Get("cursor"), Limit: consolePageSize,
	}
	var errs []string
	filters := []struct {
		name, label string
		into        **bool
	}{
		{"email_verified", "Verified", &in.EmailVerified},
		{"is_locked", "Locked", &in.IsLocked},
		{"is_professional", "Professional", &in.IsProfessional},
	}
	view := usersView{Q: in.Q, RoleOptions: roleOptions(in.Role)}
	for _, f := range filters {
		v := qs.Get(f.name)
		switch v {
		case "":
		case "true", "false":
			b := v == "true"
			*f.into = &b
		default:
			errs = append(errs, f.label+": choose yes, no or any.")
		}
		view.BoolFilters = append(view.BoolFilters, boolFilter{Name: f.name, Label: f.label, Options: []option{
			{Value: "", Label: "any", Selected: v == ""},
			{Value: "true", Label: "yes", Selected: v == "true"},
			{Value: "false", Label: "no", Selected: v == "false"},
		}})
	}
	for _, o := range userSorts {
		o.Selected = o.Value == sort
		view.SortOptions = append(view.SortOptions, o)
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		page, err := c.uc.SearchUsers(r.Context(), s.actor, in)
		if err != nil {
			status, errs = c.describeError(r, err)
		}
		for _, u := range page.Users {
			view.Users = append(view.Users, viewUser(u))
		}
		first := url.Values{}
		for k, vs := range qs {
			if k != "cursor" && len(vs) > 0 && vs[0] != "" {
				first.Set(k, vs[len(vs)-1])
			}
		}
		view.FirstHref = "/admin/users"
		if len(first) > 0 {
			view.FirstHref += "?" + first.Encode()
		}
		view.Paged = in.Cursor != ""
		if page.NextCursor != "" {
			first.Set("cursor", page.NextCursor)
			view.NextHref = "/admin/users?" + first.Encode()
		}
	}
	v := c.view(s, "admin", "/admin/users", "Users", view)
	v.Errors, v.Flash = errs, flash(r)
	c.render(w, r, status, "users", v)
}

// --- a user's page ------------------------------------------------------------

type sessionView struct {
	app.SessionInfo
}

type userPageView struct {
	User        userView
	IsAdmin     bool
	CanAct      bool // the actor may change this account (domain.Actor.CheckActsOn)
	RoleOptions []option
	Sessions    []sessionView
}

func (c *console) handleUser(w http.ResponseWriter, r *http.Request, s consoleSession) {
	c.showUser(w, r, s, pathVars(r)["user_id"], http.StatusOK, nil)
}

// showUser renders the page of user id, with errs of an action that failed.
func (c *console) showUser(w http.ResponseWriter, r *http.Request, s consoleSession, id string, status int, errs []string) {
	u, err := c.uc.GetUser(r.Context(), s.actor, id)
	if err != nil {
		c.fail(w, r, s, "User", err)
		return
	}
	data := userPageView{
		User: viewUser(u), IsAdmin: s.actor.Role == domain.RoleAdmin,
		CanAct: s.actor.CheckActsOn(u) == nil, RoleOptions: roleOptions(u.Role().String()),
	}
	if data.CanAct {
		list, err := c.uc.ListUserSessions(r.Context(), s.actor, u.ID())
		if err != nil {
			c.fail(w, r, s, "User", err)
			return
		}
		for _, si := range list {
			data.Sessions = append(data.Sessions, sessionView{si})
		}
	}
	v := c.view(s, "admin", "/admin/users", u.Email(), data)
	v.Errors = errs
	if errs == nil {
		v.Flash = flash(r)
	}
	c.render(w, r, status, "user", v)
}

func (c *console) handleDeletePage(w http.ResponseWriter, r *http.Request, s consoleSession) {
	u, err := c.uc.GetUser(r.Context(), s.actor, pathVars(r)["user_id"])
	if err != nil {
		c.fail(w, r, s, "Delete a user", err)
		return
	}
	c.render(w, r, http.StatusOK, "delete", c.view(s, "admin", "/admin/users", "Delete a user", userPageView{User: viewUser(u)}))
}

// userActions are the POSTs of a user's page, each one use case.
var userActions = map[string]func(ctx context.Context, uc UseCases, actor domain.Actor, id string, form url.Values) error{
	"profile": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, form url.Values) error {
		// The email as PUT /users/{id} changes it: left as it was, nothing
		// happens; changed, the account is unverified and the links mailed
		// to the old address end.
		in := app.UpdateUserInput{Email: formField(form, "email"), Nickname: formField(form, "nickname"), Profile: domain.ProfilePatch{
			FirstName: formField(form, "first_name"), LastName: formField(form, "last_name"), Bio: formField(form, "bio"),
		}}
		_, err := uc.UpdateUser(ctx, actor, id, in)
		return err
	},
	"role": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, form url.Values) error {
		role, err := domain.ParseRole(form.Get("role"))
		if err != nil {
			return err
		}
		_, err = uc.ChangeRole(ctx, actor, id, role)
		return err
	},
	"upgrade": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, _ url.Values) error {
		_, err := uc.UpgradeToProfessional(ctx, actor, id)
		return err
	},
	"lock": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, _ url.Values) error {
		_, err := uc.Lock(ctx, actor, id)
		return err
	},
	"unlock": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, _ url.Values) error {
		_, err := uc.Unlock(ctx, actor, id)
		return err
	},
	"mfa-reset": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, _ url.Values) error {
		_, err := uc.ResetSecondFactor(ctx, actor, id)
		return err
	},
	"invitation": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, _ url.Values) error {
		return uc.ResendInvitation(ctx, actor, id)
	},
	"end-sessions": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, _ url.Values) error {
		return uc.EndUserSessions(ctx, actor, id)
	},
	"delete": func(ctx context.Context, uc UseCases, actor domain.Actor, id string, _ url.Values) error {
		return uc.DeleteUser(ctx, actor, id)
	},
}

// formField is a form's field, nil when absent.
func formField(form url.Values, name string) *string {
	if _, ok := form[name]; !ok {
		return nil
	}
	v := form.Get(name)
	return &v
}

// handleUserAction runs one of userActions: POST /admin/users/{user_id}/{action}.
func (c *console) handleUserAction(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values) {
	id, name := pathVars(r)["user_id"], pathVars(r)["action"]
	run, ok := userActions[name]
	if !ok {
		c.renderMessage(w, r, s, http.StatusNotFound, "Not found", "There is no such action.", "/admin/users", "Users")
		return
	}
	if err := run(r.Context(), c.uc, s.actor, id, form); err != nil {
		status, msgs := c.describeError(r, err)
		if name == "delete" || status == http.StatusNotFound || status >= 500 {
			c.fail(w, r, s, "User", err)
			return
		}
		c.showUser(w, r, s, id, status, msgs)
		return
	}
	if name == "delete" {
		redirect(w, "/admin/users?done=deleted")
		return
	}
	redirect(w, "/admin/users/"+url.PathEscape(id)+"?done="+name)
}

// --- invitations ----------------------------------------------------------------

type inviteView struct {
	Email, Nickname, FirstName, LastName string
	RoleOptions                          []option // ADMIN only: others invite AUTHENTICATED users
}

func (c *console) inviteView(s consoleSession, form url.Values) inviteView {
	v := inviteView{Email: form.Get("email"), Nickname: form.Get("nickname"), FirstName: form.Get("first_name"), LastName: form.Get("last_name")}
	if s.actor.Role == domain.RoleAdmin {
		role := form.Get("role")
		if role == "" {
			role = domain.RoleAuthenticated.String()
		}
		v.RoleOptions = roleOptions(role)
	}
	return v
}

func (c *console) handleInvitePage(w http.ResponseWriter, r *http.Request, s consoleSession) {
	c.render(w, r, http.StatusOK, "invite", c.view(s, "admin", "/admin/invite", "Invite someone", c.inviteView(s, url.Values{})))
}

func (c *console) handleInvite(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values) {
	in := app.InviteInput{Email: form.Get("email"), Nickname: form.Get("nickname"),
		Profile: domain.Profile{FirstName: form.Get("first_name"), LastName: form.Get("last_name")}}
	if name := form.Get("role"); name != "" {
		role, err := domain.ParseRole(name)
		if err != nil {
			c.inviteFailed(w, r, s, form, err)
			return
		}
		in.Role = &role
	}
	u, err := c.uc.InviteUser(r.Context(), s.actor, in)
	if err != nil {
		c.inviteFailed(w, r, s, form, err)
		return
	}
	redirect(w, "/admin/users/"+u.ID()+"?done=invited")
}

func (c *console) inviteFailed(w http.ResponseWriter, r *http.Request, s consoleSession, form url.Values, err error) {
	status, msgs := c.describeError(r, err)
	v := c.view(s, "admin", "/admin/invite", "Invite someone", c.inviteView(s, form))
	v.Errors = msgs
	c.render(w, r, status, "invite", v)
}

// --- the audit log -----------------------------------------------------------------

type auditEventView struct {
	domain.AuditEvent
	ActorIsUser bool // the actor is an account (not "operator", the command line)
}

type auditView struct {
	EventOptions                []option
	Actor, Target, Since, Until string
	Events                      []auditEventView
	Paged                       bool
	FirstHref, NextHref         string
}

// datetimeLocal is the layout of <input type="datetime-local">, read as UTC.
const datetimeLocal = "2006-01-02T15:04"

func (c *console) handleAudit(w http.ResponseWriter, r *http.Request, s consoleSession) {
	qs := r.URL.Query()
	view := auditView{Actor: qs.Get("actor"), Target: qs.Get("target"), Since: qs.Get("since"), Until: qs.Get("until")}
	q := app.AuditQuery{ActorID: view.Actor, TargetID: view.Target, Type: qs.Get("event"), Cursor: qs.Get("cursor"), Limit: consolePageSize}
	var errs []string
	for _, f := range []struct {
		name, value string
		into        *time.Time
	}{{"Since", view.Since, &q.Since}, {"Until", view.Until, &q.Until}} {
		if f.value == "" {
			continue
		}
		t, err := time.Parse(datetimeLocal, f.value)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, f.value); err != nil {
				errs = append(errs, f.name+": give a date and time, such as 2026-01-31T18:00.")
				continue
			}
		}
		*f.into = t.UTC()
	}
	for _, e := range domain.AuditEvents() {
		view.EventOptions = append(view.EventOptions, option{Value: string(e), Label: strings.ReplaceAll(string(e), "_", " "), Selected: string(e) == q.Type})
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		page, err := c.uc.ListAuditEvents(r.Context(), s.actor, q)
		if err != nil {
			status, errs = c.describeError(r, err)
			if status == http.StatusForbidden {
				c.renderMessage(w, r, s, status, "Audit log", "The audit log is for ADMIN accounts only.", "/admin", "Dashboard")
				return
			}
		}
		for _, e := range page.Events {
			_, isUser := domain.CanonicalUserID(e.ActorID)
			view.Events = append(view.Events, auditEventView{AuditEvent: e, ActorIsUser: isUser})
		}
		first := url.Values{}
		for k, vs := range qs {
			if k != "cursor" && len(vs) > 0 && vs[0] != "" {
				first.Set(k, vs[len(vs)-1])
			}
		}
		view.FirstHref = "/admin/audit"
		if len(first) > 0 {
			view.FirstHref += "?" + first.Encode()
		}
		view.Paged = q.Cursor != ""
		if page.NextCursor != "" {
			first.Set("cursor", page.NextCursor)
			view.NextHref = "/admin/audit?" + first.Encode()
		}
	}
	v := c.view(s, "admin", "/admin/audit", "Audit log", view)
	v.Errors = errs
	c.render(w, r, status, "audit", v)
}
