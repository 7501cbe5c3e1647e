package httpapi_test

// Who may call what (sections 3, 4 and 5 of PRODUCT.md): the role matrix,
// the rules about the role field, and tokens that stop working.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// access says who may call a route.
type access int

const (
	public    access = iota // anyone, no token needed
	bearer                  // any valid token
	staff                   // ADMIN, MANAGER
	adminOnly               // ADMIN
)

// route is one route of the API with a request that succeeds for a caller
// who may call it.
type route struct {
	name   string
	access access
	status int // on success
	// build prepares the state the request needs (a target user…) and
	// returns it; the target is an AUTHENTICATED user, whom a MANAGER may act on.
	build func(h *harness) (method, path string, body any)
}

var allRoutes = []route{
	{"POST /register/", public, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodPost, "/register/", obj{"email": h.email("new"), "password": testPassword}
	}},
	{"POST /login/", public, http.StatusOK, func(h *harness) (string, string, any) {
		a := h.verified("login")
		return http.MethodPost, "/login/", form{"username": {a.Email}, "password": {a.Password}}
	}},
	{"GET /verify-email/{id}/{token}", public, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodGet, h.verificationPath(h.register("verify").Email), nil
	}},
	{"GET /users/{id}", staff, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodGet, "/users/" + h.verified("target").ID, nil
	}},
	{"PUT /users/{id}", staff, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodPut, "/users/" + h.verified("target").ID, obj{"first_name": "Zed"}
	}},
	{"DELETE /users/{id}", staff, http.StatusNoContent, func(h *harness) (string, string, any) {
		return http.MethodDelete, "/users/" + h.verified("target").ID, nil
	}},
	{"POST /users/", staff, http.StatusCreated, func(h *harness) (string, string, any) {
		return http.MethodPost, "/users/", obj{"email": h.email("created"), "password": testPassword}
	}},
	{"GET /users/", staff, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodGet, "/users/", nil
	}},
	{"POST /users/{id}/upgrade", staff, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodPost, "/users/" + h.verified("target").ID + "/upgrade", nil
	}},
	{"PATCH /users/{id}/role", adminOnly, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodPatch, "/users/" + h.verified("target").ID + "/role", obj{"role": "MANAGER"}
	}},
	{"POST /users/{id}/unlock", staff, http.StatusOK, func(h *harness) (string, string, any) {
		a := h.verified("target")
		h.failLogins(a.Email, maxAttempts)
		return http.MethodPost, "/users/" + a.ID + "/unlock", nil
	}},
	{"GET /users/me", bearer, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodGet, "/users/me", nil
	}},
	{"PATCH /users/me", bearer, http.StatusOK, func(h *harness) (string, string, any) {
		return http.MethodPatch, "/users/me", obj{"bio": "about me"}
	}},
}

// caller is who sends a request: nobody, a forged token, or a user of a role.
type caller struct {
	name string
	role domain.Role // zero for no token or a bad one
	// token returns the bearer token ("" for none).
	token func(h *harness) string
}

var callers = []caller{
	{"no token", domain.Role{}, func(*harness) string { return "" }},
	{"bad token", domain.Role{}, func(*harness) string { return "not.a.jwt" }},
	{"ANONYMOUS", domain.RoleAnonymous, func(h *harness) string { return h.user(domain.RoleAnonymous).Token }},
	{"AUTHENTICATED", domain.RoleAuthenticated, func(h *harness) string { return h.user(domain.RoleAuthenticated).Token }},
	{"MANAGER", domain.RoleManager, func(h *harness) string { return h.user(domain.RoleManager).Token }},
	{"ADMIN", domain.RoleAdmin, func(h *harness) string { return h.user(domain.RoleAdmin).Token }},
}

func (a access) allows(role domain.Role) bool {
	switch a {
	case public:
		return true
	case bearer:
		return !role.IsZero()
	case staff:
		return role.IsStaff()
	default:
		return role == domain.RoleAdmin
	}
}

func TestRoleMatrix(t *testing.T) {
	t.Parallel()
	for _, rt := range allRoutes {
		for _, c := range callers {
			t.Run(rt.name+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				token := c.token(h)
				method, path, body := rt.build(h)
				rec := h.do(method, path, token, body)
				switch {
				case rt.access.allows(c.role):
					wantStatus(t, rec, rt.status)
				case c.role.IsZero():
					wantUnauthorized(t, rec)
				default:
					wantForbidden(t, rec)
				}
			})
		}
	}
}

func TestRoleFieldRules(t *testing.T) {
	t.Parallel()

	t.Run("only an ADMIN sets role on POST /users/", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		manager := h.user(domain.RoleManager)
		for _, role := range []string{"ANONYMOUS", "AUTHENTICATED", "MANAGER", "ADMIN"} {
			wantForbidden(t, h.do(http.MethodPost, "/users/", manager.Token, obj{"email": h.email("m"), "password": testPassword, "role": role}))
			rec := h.do(http.MethodPost, "/users/", h.admin.Token, obj{"email": h.email("a"), "password": testPassword, "role": role})
			wantStatus(t, rec, http.StatusCreated)
			if got := decodeUser(t, rec).Role; got != role {
				t.Errorf("ADMIN created a %s, want %s", got, role)
			}
		}
	})

	t.Run("only an ADMIN sets role on PUT /users/{id}", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		manager := h.user(domain.RoleManager)
		target := h.verified("target")
		wantForbidden(t, h.do(http.MethodPut, "/users/"+target.ID, manager.Token, obj{"role": "MANAGER"}))
		wantForbidden(t, h.do(http.MethodPut, "/users/"+target.ID, manager.Token, obj{"role": "AUTHENTICATED", "first_name": "X"}))
		if u := h.getUser(target.ID); u.Role != "AUTHENTICATED" || u.FirstName != nil {
			t.Errorf("a refused update changed the user: %+v", u)
		}
		rec := h.do(http.MethodPut, "/users/"+target.ID, h.admin.Token, obj{"role": "MANAGER"})
		wantStatus(t, rec, http.StatusOK)
		if got := decodeUser(t, rec).Role; got != "MANAGER" {
			t.Errorf("role = %s after an ADMIN's PUT, want MANAGER", got)
		}
	})

	t.Run("a MANAGER cannot act on an ADMIN", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		manager := h.user(domain.RoleManager)
		admin := h.user(domain.RoleAdmin)
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPut, "/users/" + admin.ID, obj{"first_name": "Hacked"}},
			{http.MethodDelete, "/users/" + admin.ID, nil},
			{http.MethodPost, "/users/" + admin.ID + "/unlock", nil},
			{http.MethodPost, "/users/" + admin.ID + "/upgrade", nil},
			{http.MethodPatch, "/users/" + admin.ID + "/role", obj{"role": "AUTHENTICATED"}},
		} {
			t.Run(tc.method+" "+tc.path, func(t *testing.T) {
				wantForbidden(t, h.do(tc.method, tc.path, manager.Token, tc.body))
			})
		}
		u := h.getUser(admin.ID)
		if u.Role != "ADMIN" || u.FirstName != nil || u.IsProfessional {
			t.Errorf("the ADMIN was changed by a MANAGER: %+v", u)
		}
		// A MANAGER may read an ADMIN, but acts only on ANONYMOUS and
		// AUTHENTICATED accounts: never on another MANAGER (PRODUCT.md
		// section 4: a peer's email set to one's own mailbox, then a reset,
		// took the peer's account over).
		wantStatus(t, h.do(http.MethodGet, "/users/"+admin.ID, manager.Token, nil), http.StatusOK)
		other := h.user(domain.RoleManager)
		for _, tc := range []struct {
			method, path string
			body         any
		}{
			{http.MethodPut, "/users/" + other.ID, obj{"email": "mine@example.com"}},
			{http.MethodDelete, "/users/" + other.ID, nil},
			{http.MethodPost, "/users/" + other.ID + "/lock", nil},
			{http.MethodPost, "/users/" + other.ID + "/unlock", nil},
			{http.MethodPost, "/users/" + other.ID + "/upgrade", nil},
			{http.MethodPut, "/users/" + manager.ID, obj{"bio": "self"}},
		} {
			wantForbidden(t, h.do(tc.method, tc.path, manager.Token, tc.body))
		}
		if u := h.getUser(other.ID); u.Email != other.Email {
			t.Errorf("a MANAGER changed a peer's email to %q", u.Email)
		}
		plain := h.user(domain.RoleAuthenticated)
		wantStatus(t, h.do(http.MethodPut, "/users/"+plain.ID, manager.Token, obj{"bio": "x"}), http.StatusOK)
	})

	t.Run("PATCH /users/me cannot set privileged fields", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, role := range []domain.Role{domain.RoleAnonymous, domain.RoleAuthenticated, domain.RoleManager, domain.RoleAdmin} {
			a := h.user(role)
			for _, body := range []obj{
				{"role": "ADMIN"},
				{"role": role.String()},
				{"is_professional": true},
				{"email_verified": true},
				{"is_locked": false},
				{"bio": "ok", "role": "ADMIN"},
			} {
				wantForbidden(t, h.do(http.MethodPatch, "/users/me", a.Token, body))
			}
			if u := h.getUser(a.ID); u.Role != role.String() || u.IsProfessional || u.Bio != nil {
				t.Errorf("%s: a refused PATCH /users/me changed the user: %+v", role, u)
			}
		}
	})

	t.Run("PATCH /users/me edits the profile", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		rec := h.do(http.MethodPatch, "/users/me/", a.Token, obj{"nickname": "me_myself", "bio": "hi"})
		wantStatus(t, rec, http.StatusOK)
		if u := decodeUser(t, rec); u.Nickname != "me_myself" || u.Bio == nil || *u.Bio != "hi" || u.ID != a.ID {
			t.Errorf("after PATCH /users/me: %+v", u)
		}
		wantValidation(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{}))
		wantValidation(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{"email": "x@example.com"}), "body", "email")
		wantValidation(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{"nickname": "a"}), "body", "nickname")
		wantValidation(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{"nickname": ""}), "body", "nickname")
		wantValidation(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{"bio": strings.Repeat("b", 501)}), "body", "bio")
		other := h.user(domain.RoleAuthenticated)
		wantStatus(t, h.do(http.MethodPatch, "/users/me", other.Token, obj{"nickname": "taken_one"}), http.StatusOK)
		// A taken nickname is 400 on every route, as on the seed's.
		wantDetail(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{"nickname": "TAKEN_ONE"}), http.StatusBadRequest, "Nickname already exists")
	})

	t.Run("the last ADMIN stays", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		const detail = "The last admin cannot be deleted or demoted"
		id := h.admin.ID
		wantDetail(t, h.do(http.MethodDelete, "/users/"+id, h.admin.Token, nil), http.StatusConflict, detail)
		wantDetail(t, h.do(http.MethodPatch, "/users/"+id+"/role", h.admin.Token, obj{"role": "MANAGER"}), http.StatusConflict, detail)
		wantDetail(t, h.do(http.MethodPut, "/users/"+id, h.admin.Token, obj{"role": "AUTHENTICATED"}), http.StatusConflict, detail)
		if u := h.getUser(id); u.Role != "ADMIN" {
			t.Fatalf("the last ADMIN is now %s", u.Role)
		}
		// Keeping the role is not a demotion.
		wantStatus(t, h.do(http.MethodPatch, "/users/"+id+"/role", h.admin.Token, obj{"role": "ADMIN"}), http.StatusOK)

		// With a second ADMIN, the first may go.
		second := h.user(domain.RoleAdmin)
		wantStatus(t, h.do(http.MethodPatch, "/users/"+id+"/role", second.Token, obj{"role": "MANAGER"}), http.StatusOK)
		wantDetail(t, h.do(http.MethodDelete, "/users/"+second.ID, second.Token, nil), http.StatusConflict, detail)
		wantDetail(t, h.do(http.MethodPatch, "/users/"+second.ID+"/role", second.Token, obj{"role": "AUTHENTICATED"}), http.StatusConflict, detail)
	})

	t.Run("PATCH /users/{id}/role", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		target := h.verified("target")
		rec := h.do(http.MethodPatch, "/users/"+target.ID+"/role", h.admin.Token, obj{"role": "MANAGER"})
		wantStatus(t, rec, http.StatusOK)
		if u := decodeUser(t, rec); u.Role != "MANAGER" {
			t.Errorf("role = %s, want MANAGER", u.Role)
		}
		wantDetail(t, h.do(http.MethodPatch, "/users/"+unknownID+"/role", h.admin.Token, obj{"role": "MANAGER"}), http.StatusNotFound, "User not found")
		wantDetail(t, h.do(http.MethodPatch, "/users/nope/role", h.admin.Token, obj{"role": "MANAGER"}), http.StatusNotFound, "User not found")
		wantValidation(t, h.do(http.MethodPatch, "/users/"+target.ID+"/role", h.admin.Token, obj{"role": "GOD"}), "body", "role")
		wantValidation(t, h.do(http.MethodPatch, "/users/"+target.ID+"/role", h.admin.Token, obj{}), "body", "role")
		wantValidation(t, h.do(http.MethodPatch, "/users/"+target.ID+"/role", h.admin.Token, obj{"role": nil}), "body", "role")
		wantValidation(t, h.do(http.MethodPatch, "/users/"+target.ID+"/role", h.admin.Token, obj{"role": "ADMIN", "x": 1}), "body", "x")
	})

	t.Run("POST /users/{id}/unlock", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		manager := h.user(domain.RoleManager)
		wantDetail(t, h.do(http.MethodPost, "/users/"+unknownID+"/unlock", manager.Token, nil), http.StatusNotFound, "User not found")
		wantDetail(t, h.do(http.MethodPost, "/users/nope/unlock", manager.Token, nil), http.StatusNotFound, "User not found")
	})
}

func TestTokenRevocation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		role domain.Role
		// revoke changes the user so that its token must stop working.
		revoke func(h *harness, a account)
	}{
		{"deleted", domain.RoleAuthenticated, func(h *harness, a account) {
			wantStatus(h.tb, h.do(http.MethodDelete, "/users/"+a.ID, h.admin.Token, nil), http.StatusNoContent)
		}},
		{"locked by staff", domain.RoleAuthenticated, func(h *harness, a account) {
			wantStatus(h.tb, h.do(http.MethodPost, "/users/"+a.ID+"/lock", h.admin.Token, nil), http.StatusOK)
		}},
		{"locked MANAGER", domain.RoleManager, func(h *harness, a account) {
			wantStatus(h.tb, h.do(http.MethodPost, "/users/"+a.ID+"/lock", h.admin.Token, nil), http.StatusOK)
		}},
		{"demoted by PATCH role", domain.RoleManager, func(h *harness, a account) {
			wantStatus(h.tb, h.do(http.MethodPatch, "/users/"+a.ID+"/role", h.admin.Token, obj{"role": "AUTHENTICATED"}), http.StatusOK)
		}},
		{"demoted by PUT", domain.RoleAdmin, func(h *harness, a account) {
			wantStatus(h.tb, h.do(http.MethodPut, "/users/"+a.ID, h.admin.Token, obj{"role": "MANAGER"}), http.StatusOK)
		}},
		{"demoted to ANONYMOUS", domain.RoleAuthenticated, func(h *harness, a account) {
			wantStatus(h.tb, h.do(http.MethodPatch, "/users/"+a.ID+"/role", h.admin.Token, obj{"role": "ANONYMOUS"}), http.StatusOK)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			a := h.user(tc.role)
			wantStatus(t, h.do(http.MethodGet, "/users/me", a.Token, nil), http.StatusOK)
			tc.revoke(h, a)
			wantUnauthorized(t, h.do(http.MethodGet, "/users/me", a.Token, nil))
			wantUnauthorized(t, h.do(http.MethodPatch, "/users/me", a.Token, obj{"bio": "still here?"}))
			if tc.role.IsStaff() {
				wantUnauthorized(t, h.do(http.MethodGet, "/users/", a.Token, nil))
			}
		})
	}

	t.Run("a lock by wrong passwords ends no session", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		h.failLogins(a.Email, maxAttempts)
		wantStatus(t, h.do(http.MethodGet, "/users/me", a.Token, nil), http.StatusOK)
		wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}),
			http.StatusBadRequest, "Account locked due to too many failed login attempts.")
	})

	t.Run("unlock does not revive old tokens", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		wantStatus(t, h.do(http.MethodPost, "/users/"+a.ID+"/lock", h.admin.Token, nil), http.StatusOK)
		wantStatus(t, h.do(http.MethodPost, "/users/"+a.ID+"/unlock", h.admin.Token, nil), http.StatusOK)
		wantUnauthorized(t, h.do(http.MethodGet, "/users/me", a.Token, nil))
		wantStatus(t, h.do(http.MethodGet, "/users/me", h.login(a.Email, a.Password), nil), http.StatusOK)
	})

	t.Run("a demoted user's new token carries the new role", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleManager)
		h.setRole(a.ID, domain.RoleAuthenticated)
		wantForbidden(t, h.do(http.MethodGet, "/users/", h.login(a.Email, a.Password), nil))
	})

	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleAuthenticated)
		h.clock.Advance(accessTTL + 2*jwtLeeway)
		wantUnauthorized(t, h.do(http.MethodGet, "/users/me", a.Token, nil))
	})
}

// jwtLeeway is the clock skew jwttoken tolerates.
const jwtLeeway = 60 * time.Second

// BUG: a caller whose role may not use a route at all gets 422, not 403,
// when the body or query has a schema error the handler catches before the
// use case checks the role: an unknown field, a wrong type, an unknown role
// name, a non-integer skip/limit. Section 3: "a role that may not do the
// operation is 403"; the seed agreed, since FastAPI runs the role
// dependency (require_role) before validating the endpoint's body and
// query. Errors the use case finds (bad email, `{}`, limit=0) are already
// 403; handleChangeRole already checks the role before reading the body.
func TestForbiddenBeforeValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	user := h.user(domain.RoleAuthenticated)
	target := h.verified("target")
	for _, tc := range []struct {
		name         string
		method, path string
		body         any
	}{
		{"PUT, invalid email", http.MethodPut, "/users/" + target.ID, obj{"email": "bad"}},
		{"PUT, empty", http.MethodPut, "/users/" + target.ID, obj{}},
		{"POST, invalid email", http.MethodPost, "/users/", obj{"email": "bad", "password": "x"}},
		{"GET, limit=0", http.MethodGet, "/users/?limit=0", nil},
		{"PATCH role, bad body", http.MethodPatch, "/users/" + target.ID + "/role", obj{"role": "ROOT", "x": 1}},
		{"PUT, unknown field", http.MethodPut, "/users/" + target.ID, obj{"is_admin": true}},
		{"PUT, wrong type", http.MethodPut, "/users/" + target.ID, obj{"email": 5}},
		{"PUT, unknown role", http.MethodPut, "/users/" + target.ID, obj{"role": "ROOT"}},
		{"POST, unknown field", http.MethodPost, "/users/", obj{"email": "a@example.com", "password": testPassword, "is_admin": true}},
		{"POST, missing fields", http.MethodPost, "/users/", obj{"bio": "x"}},
		{"GET, limit=abc", http.MethodGet, "/users/?limit=abc", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantForbidden(t, h.do(tc.method, tc.path, user.Token, tc.body))
			wantUnauthorized(t, h.do(tc.method, tc.path, "", tc.body))
		})
	}
}
