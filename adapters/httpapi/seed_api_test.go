package httpapi_test

// Section 3 of PRODUCT.md, row by row: the seed's API that every client of
// the original FastAPI service relies on.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/usersvc/usersvc/domain"
)

// multipartForm encodes fields as multipart/form-data, which FastAPI's
// OAuth2PasswordRequestForm also reads.
func multipartForm(tb testing.TB, fields map[string]string) rawBody {
	tb.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return rawBody{w.FormDataContentType(), buf.Bytes()}
}

// userKeys are the fields of a user in a response, and nothing else.
var userKeys = []string{
	"id", "email", "nickname", "first_name", "last_name", "bio",
	"preferred_language", "profile_picture_url", "linkedin_profile_url",
	"github_profile_url", "role", "is_professional", "professional_status_updated_at",
	"email_verified", "is_locked", "last_login_at", "created_at", "updated_at", "links",
	"mfa_enabled",
	"invitation_pending", // PRODUCT.md 8.4
}

// checkUserLinks checks the HATEOAS links of a user served from example.com
// (httptest.NewRequest's host).
func checkUserLinks(tb testing.TB, u userBody) {
	tb.Helper()
	self := "http://example.com/users/" + u.ID
	want := []linkBody{
		{Rel: "self", Href: self, Method: http.MethodGet},
		{Rel: "update", Href: self, Method: http.MethodPut},
		{Rel: "delete", Href: self, Method: http.MethodDelete},
		{Rel: "upgrade", Href: self + "/upgrade", Method: http.MethodPost},
	}
	if diff := cmp.Diff(want, u.Links); diff != "" {
		tb.Errorf("links (-want +got):\n%s", diff)
	}
}

// checkUserKeys checks that a user body has exactly the documented fields.
func checkUserKeys(tb testing.TB, body []byte) {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		tb.Fatalf("user is not a JSON object: %v", err)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(userKeys))
	if diff := cmp.Diff(want, got); diff != "" {
		tb.Errorf("user fields (-want +got):\n%s", diff)
	}
}

func TestRegister(t *testing.T) {
	t.Parallel()

	t.Run("ok, role in the body ignored", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.do(http.MethodPost, "/register/", "", obj{
			"email": "  New.User@Example.COM ", "password": testPassword, "nickname": "new_user-1",
			"first_name": "Ada", "role": "ADMIN",
			"profile_picture_url":  "https://img.example.com/a.png",
			"linkedin_profile_url": "https://www.linkedin.com/in/ada",
			"github_profile_url":   "https://github.com/ada",
		})
		wantStatus(t, rec, http.StatusOK)
		checkUserKeys(t, rec.Body.Bytes())
		u := decodeUser(t, rec)
		if u.Role != "ANONYMOUS" || u.EmailVerified || u.IsLocked || u.IsProfessional {
			t.Errorf("new user = role %s, verified %v, locked %v, professional %v; want ANONYMOUS and all false",
				u.Role, u.EmailVerified, u.IsLocked, u.IsProfessional)
		}
		if u.Email != "new.user@example.com" || u.Nickname != "new_user-1" {
			t.Errorf("email, nickname = %q, %q", u.Email, u.Nickname)
		}
		if u.FirstName == nil || *u.FirstName != "Ada" {
			t.Errorf("first_name = %v, want Ada", u.FirstName)
		}
		if _, ok := domain.CanonicalUserID(u.ID); !ok {
			t.Errorf("id %q is not a UUID", u.ID)
		}
		checkUserLinks(t, u)
		if strings.Contains(rec.Body.String(), testPassword) || strings.Contains(rec.Body.String(), fakeHashPrefix) {
			t.Errorf("the response shows the password or its hash: %s", rec.Body)
		}

		msgs := h.mail.sent("new.user@example.com", domain.MessageVerifyEmail)
		if len(msgs) != 1 {
			t.Fatalf("%d verification emails, want 1", len(msgs))
		}
		link := regexp.MustCompile(`^` + regexp.QuoteMeta(publicBaseURL) + `/verify-email/` + u.ID + `/[^/]{20,}$`)
		if !link.MatchString(msgs[0].Link) {
			t.Errorf("verification link = %q, want %s/verify-email/%s/{token}", msgs[0].Link, publicBaseURL, u.ID)
		}
		if got := h.getUser(u.ID).Role; got != "ANONYMOUS" {
			t.Errorf("stored role = %s, want ANONYMOUS", got)
		}
	})

	t.Run("nickname generated when absent", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, body := range []obj{
			{"email": "a@example.com", "password": testPassword},
			{"email": "b@example.com", "password": testPassword, "nickname": nil},
		} {
			rec := h.do(http.MethodPost, "/register", "", body)
			wantStatus(t, rec, http.StatusOK)
			if u := decodeUser(t, rec); !regexp.MustCompile(`^[a-z]+_[a-z]+_\d{3}$`).MatchString(u.Nickname) {
				t.Errorf("generated nickname %q is not adjective_animal_NNN", u.Nickname)
			}
		}
	})

	t.Run("duplicates", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		wantStatus(t, h.do(http.MethodPost, "/register/", "", obj{
			"email": "taken@example.com", "password": testPassword, "nickname": "taken_nick",
		}), http.StatusOK)
		for _, tc := range []struct {
			name   string
			body   obj
			detail string
		}{
			{"same email", obj{"email": "taken@example.com", "password": testPassword}, "Email already exists"},
			{"email differing in case and spaces", obj{"email": " TAKEN@example.com", "password": testPassword}, "Email already exists"},
			{"same nickname", obj{"email": "other@example.com", "password": testPassword, "nickname": "taken_nick"}, "Nickname already exists"},
			{"nickname differing in case", obj{"email": "other2@example.com", "password": testPassword, "nickname": "TAKEN_NICK"}, "Nickname already exists"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantDetail(t, h.do(http.MethodPost, "/register/", "", tc.body), http.StatusBadRequest, tc.detail)
			})
		}
	})

	t.Run("422", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		ok := func(extra obj) obj {
			b := obj{"email": h.email("v"), "password": testPassword}
			for k, v := range extra {
				b[k] = v
			}
			return b
		}
		for _, tc := range []struct {
			name  string
			body  obj
			field string
		}{
			{"invalid email", ok(obj{"email": "not-an-email"}), "email"},
			{"email without domain dot", ok(obj{"email": "a@localhost"}), "email"},
			{"missing email", obj{"password": testPassword}, "email"},
			{"missing password", obj{"email": "x@example.com"}, "password"},
			{"short password", ok(obj{"password": "Ab1!"}), "password"},
			{"long password", ok(obj{"password": strings.Repeat("x", 129)}), "password"},
			{"common password", ok(obj{"password": "password123"}), "password"},
			{"password equal to the email", obj{"email": "samesame@example.com", "password": "samesame@example.com"}, "password"},
			{"bad URL", ok(obj{"profile_picture_url": "not a url"}), "profile_picture_url"},
			{"picture not an image", ok(obj{"profile_picture_url": "https://example.com/a.txt"}), "profile_picture_url"},
			{"linkedin elsewhere", ok(obj{"linkedin_profile_url": "https://example.com/in/x"}), "linkedin_profile_url"},
			{"github elsewhere", ok(obj{"github_profile_url": "https://gitlab.com/x"}), "github_profile_url"},
			{"relative URL", ok(obj{"github_profile_url": "/x"}), "github_profile_url"},
			{"short nickname", ok(obj{"nickname": "ab"}), "nickname"},
			{"nickname with spaces", ok(obj{"nickname": "a b c"}), "nickname"},
			{"long first_name", ok(obj{"first_name": strings.Repeat("a", 101)}), "first_name"},
			{"long bio", ok(obj{"bio": strings.Repeat("a", 501)}), "bio"},
			{"unknown field", ok(obj{"is_admin": true}), "is_admin"},
			{"mass assignment of email_verified", ok(obj{"email_verified": true}), "email_verified"},
			{"email not a string", ok(obj{"email": 42}), "email"},
			{"password null", ok(obj{"password": nil}), "password"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantValidation(t, h.do(http.MethodPost, "/register/", "", tc.body), "body", tc.field)
			})
		}
	})

	t.Run("422 body in FastAPI's shape", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.do(http.MethodPost, "/register/", "", obj{"email": "nope", "password": testPassword})
		wantStatus(t, rec, http.StatusUnprocessableEntity)
		var body map[string][]map[string]any
		decodeBody(t, rec, &body)
		items := body["detail"]
		if len(items) != 1 {
			t.Fatalf("detail = %v, want one item", items)
		}
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range items[0] {
				if !yield(k) {
					return
				}
			}
		})
		if diff := cmp.Diff([]string{"loc", "msg", "type"}, keys); diff != "" {
			t.Errorf("item keys (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]any{"body", "email"}, items[0]["loc"]); diff != "" {
			t.Errorf("loc (-want +got):\n%s", diff)
		}
		if len(h.mail.sent("nope", domain.MessageVerifyEmail)) != 0 {
			t.Error("an email was sent for an invalid registration")
		}
	})

	// BUG: an explicit empty nickname is not "absent": section 4 says a
	// nickname has 3 to 50 characters (the seed's pydantic min_length=3
	// answers 422), but readNewUser (adapters/httpapi/auth.go) passes "" on
	// and app.createUser treats "" as "generate one": 200 with a generated
	// nickname. POST /users/ shares readNewUser and answers 201.
	t.Run("empty nickname is invalid", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, path := range []string{"/register/", "/users/"} {
			t.Run(path, func(t *testing.T) {
				rec := h.do(http.MethodPost, path, h.admin.Token, obj{"email": h.email("e"), "password": testPassword, "nickname": ""})
				wantValidation(t, rec, "body", "nickname")
			})
		}
	})

	// BUG: a JSON body sent without any Content-Type is refused with 415.
	// The seed's FastAPI parses a body without Content-Type as JSON
	// (fastapi/routing.py: `if not content_type_value: json_body = await
	// request.json()`), so a client such as Python's
	// requests.post(url, data=json.dumps(user)) registered fine against the
	// original and breaks against ours; section 3 says such clients keep
	// working unchanged. (text/plain and other wrong types stay 415.)
	t.Run("JSON without Content-Type, as FastAPI accepted", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.do(http.MethodPost, "/register/", "", rawBody{"", []byte(`{"email":"noct@example.com","password":"` + testPassword + `"}`)})
		wantStatus(t, rec, http.StatusOK)
	})
}

func TestLogin(t *testing.T) {
	t.Parallel()

	t.Run("accepted shapes", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("login")
		for _, tc := range []struct {
			name string
			path string
			body any
		}{
			{"form", "/login/", form{"username": {a.Email}, "password": {a.Password}}},
			{"form with grant_type and scope", "/login", form{"grant_type": {"password"}, "username": {a.Email}, "password": {a.Password}, "scope": {""}}},
			{"form with charset", "/login/", rawBody{"application/x-www-form-urlencoded; charset=UTF-8",
				[]byte(form{"username": {a.Email}, "password": {a.Password}}.Encode())}},
			{"form, email in another case", "/login/", form{"username": {" " + strings.ToUpper(a.Email) + " "}, "password": {a.Password}}},
			{"JSON email", "/login/", obj{"email": a.Email, "password": a.Password}},
			{"JSON username", "/login", obj{"username": a.Email, "password": a.Password}},
			{"multipart form", "/login/", multipartForm(t, map[string]string{"username": a.Email, "password": a.Password, "grant_type": "password"})},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rec := h.do(http.MethodPost, tc.path, "", tc.body)
				wantStatus(t, rec, http.StatusOK)
				var tok struct {
					AccessToken string `json:"access_token"`
					TokenType   string `json:"token_type"`
					ExpiresIn   int    `json:"expires_in"`
				}
				decodeBody(t, rec, &tok)
				if tok.AccessToken == "" || tok.TokenType != "bearer" || tok.ExpiresIn != int(accessTTL.Seconds()) {
					t.Errorf("token = %+v, want an access_token, bearer, %d", tok, int(accessTTL.Seconds()))
				}
				if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control = %q, want no-store", cc)
				}
				wantStatus(t, h.do(http.MethodGet, "/users/me", tok.AccessToken, nil), http.StatusOK)
			})
		}
	})

	t.Run("JWT claims", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.user(domain.RoleManager)
		parts := strings.Split(a.Token, ".")
		if len(parts) != 3 {
			t.Fatalf("token %q is not a JWT", a.Token)
		}
		payload, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		var c map[string]any
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		now := float64(h.clock.Now().Unix())
		if c["sub"] != a.ID || c["role"] != "MANAGER" || c["iss"] != jwtIssuer ||
			c["iat"] != now || c["exp"] != now+accessTTL.Seconds() {
			t.Errorf("claims = %v; want sub %s, role MANAGER, iss %s, iat %v, exp %v",
				c, a.ID, jwtIssuer, now, now+accessTTL.Seconds())
		}
	})

	t.Run("last_login_at set", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("login")
		if u := h.getUser(a.ID); u.LastLoginAt != nil {
			t.Fatalf("last_login_at = %v before any login", u.LastLoginAt)
		}
		h.login(a.Email, a.Password)
		if u := h.getUser(a.ID); u.LastLoginAt == nil || !u.LastLoginAt.Equal(h.clock.Now()) {
			t.Errorf("last_login_at = %v, want %v", u.LastLoginAt, h.clock.Now())
		}
	})

	t.Run("401", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("login")
		un := h.register("unverified")
		for _, tc := range []struct {
			name   string
			body   any
			detail string
		}{
			{"unknown email", form{"username": {"nobody@example.com"}, "password": {testPassword}}, "Incorrect email or password."},
			{"malformed email", form{"username": {"nobody"}, "password": {testPassword}}, "Incorrect email or password."},
			{"wrong password", form{"username": {a.Email}, "password": {wrongPassword}}, "Incorrect email or password."},
			{"wrong password, JSON", obj{"email": a.Email, "password": wrongPassword}, "Incorrect email or password."},
			{"unverified", form{"username": {un.Email}, "password": {un.Password}}, "Email not verified."},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rec := h.do(http.MethodPost, "/login/", "", tc.body)
				wantUnauthorized(t, rec)
				wantDetail(t, rec, http.StatusUnauthorized, tc.detail)
			})
		}
	})

	t.Run("422", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		for _, tc := range []struct {
			name  string
			body  any
			field string
		}{
			{"missing password", form{"username": {"a@example.com"}}, "password"},
			{"missing username", form{"password": {testPassword}}, "username"},
			{"other grant type", form{"grant_type": {"client_credentials"}, "username": {"a@example.com"}, "password": {testPassword}}, "grant_type"},
			{"unknown JSON field", obj{"email": "a@example.com", "password": testPassword, "role": "ADMIN"}, "role"},
			{"field sent twice", form{"username": {"a@example.com"}, "password": {"x", "y"}}, "password"},
			{"unparsable form", rawBody{"application/x-www-form-urlencoded", []byte("username=a%zz&password=b")}, ""},
			{"empty form", rawBody{"application/x-www-form-urlencoded", nil}, "username"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.field == "" {
					wantValidation(t, h.do(http.MethodPost, "/login/", "", tc.body), "body")
					return
				}
				wantValidation(t, h.do(http.MethodPost, "/login/", "", tc.body), "body", tc.field)
			})
		}
	})

	t.Run("lockout", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("victim")
		wrong := form{"username": {a.Email}, "password": {wrongPassword}}
		right := form{"username": {a.Email}, "password": {a.Password}}
		for i := 1; i <= maxAttempts; i++ {
			// The failure that reaches the limit is still answered 401.
			rec := h.do(http.MethodPost, "/login/", "", wrong)
			wantDetail(t, rec, http.StatusUnauthorized, "Incorrect email or password.")
		}
		if n := len(h.mail.sent(a.Email, domain.MessageLocked)); n != 1 {
			t.Errorf("%d lockout emails, want 1", n)
		}
		if u := h.getUser(a.ID); !u.IsLocked {
			t.Error("is_locked = false after the limit")
		}
		const locked = "Account locked due to too many failed login attempts."
		wantDetail(t, h.do(http.MethodPost, "/login/", "", right), http.StatusBadRequest, locked)
		wantDetail(t, h.do(http.MethodPost, "/login/", "", wrong), http.StatusBadRequest, locked)
		wantDetail(t, h.do(http.MethodPost, "/login/", "", obj{"email": a.Email, "password": a.Password}), http.StatusBadRequest, locked)

		// Staff unlock; the count starts again.
		rec := h.do(http.MethodPost, "/users/"+a.ID+"/unlock", h.admin.Token, nil)
		wantStatus(t, rec, http.StatusOK)
		if decodeUser(t, rec).IsLocked {
			t.Error("unlock answered a locked user")
		}
		wantStatus(t, h.do(http.MethodPost, "/login/", "", right), http.StatusOK)
	})

	t.Run("success resets the count", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("user")
		wrong := form{"username": {a.Email}, "password": {wrongPassword}}
		for range maxAttempts - 1 {
			wantStatus(t, h.do(http.MethodPost, "/login/", "", wrong), http.StatusUnauthorized)
		}
		h.login(a.Email, a.Password)
		for range maxAttempts - 1 {
			wantStatus(t, h.do(http.MethodPost, "/login/", "", wrong), http.StatusUnauthorized)
		}
		h.login(a.Email, a.Password)
	})

	// BUG: an account deleted while its login is being checked answers
	// /login/ with 404 {"detail":"User not found"}, a status /login/ never
	// has (section 3: 401 or 400). app.login's second UpdateUser (deciding
	// the attempt, app/login.go) fails with domain.ErrUserNotFound and the
	// error is returned as is; the account is gone, so the answer owed is the
	// unknown-email one, 401 "Incorrect email or password.".
	t.Run("account deleted during the password check", func(t *testing.T) {
		t.Parallel()
		for name, password := range map[string]string{"right password": testPassword, "wrong password": wrongPassword} {
			t.Run(name, func(t *testing.T) {
				h := newHarness(t)
				a := h.verified("gone")
				var once sync.Once
				hook := func(string) {
					once.Do(func() {
						if err := h.svc.DeleteUser(context.Background(), h.admin.actor(domain.RoleAdmin), a.ID); err != nil {
							t.Error(err)
						}
					})
				}
				h.hasher.beforeVerify.Store(&hook)
				rec := h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {password}})
				wantUnauthorized(t, rec)
				wantDetail(t, rec, http.StatusUnauthorized, "Incorrect email or password.")
			})
		}
	})

	t.Run("lockout ends after LOCKOUT_DURATION", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("user")
		h.failLogins(a.Email, maxAttempts)
		right := form{"username": {a.Email}, "password": {a.Password}}
		h.clock.Advance(lockoutFor - time.Second)
		wantStatus(t, h.do(http.MethodPost, "/login/", "", right), http.StatusBadRequest)
		h.clock.Advance(2 * time.Second)
		wantStatus(t, h.do(http.MethodPost, "/login/", "", right), http.StatusOK)
	})
}

func TestVerifyEmail(t *testing.T) {
	t.Parallel()

	t.Run("ok", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.register("v")
		rec := h.do(http.MethodGet, h.verificationPath(a.Email), "", nil)
		wantStatus(t, rec, http.StatusOK)
		var body map[string]string
		decodeBody(t, rec, &body)
		if diff := cmp.Diff(map[string]string{"message": "Email verified successfully"}, body); diff != "" {
			t.Errorf("body (-want +got):\n%s", diff)
		}
		u := h.getUser(a.ID)
		if u.Role != "AUTHENTICATED" || !u.EmailVerified {
			t.Errorf("after verification: role %s, email_verified %v; want AUTHENTICATED, true", u.Role, u.EmailVerified)
		}
		wantStatus(t, h.do(http.MethodGet, "/users/me", h.login(a.Email, a.Password), nil), http.StatusOK)
	})

	t.Run("trailing slash and upper-case id", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.register("v")
		id, token := h.verificationToken(a.Email)
		wantStatus(t, h.do(http.MethodGet, "/verify-email/"+strings.ToUpper(id)+"/"+token+"/", "", nil), http.StatusOK)
	})

	t.Run("keeps a staff role", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.do(http.MethodPost, "/users/", h.admin.Token, obj{"email": "m@example.com", "password": testPassword, "role": "MANAGER"})
		wantStatus(t, rec, http.StatusCreated)
		wantStatus(t, h.do(http.MethodGet, h.verificationPath("m@example.com"), "", nil), http.StatusOK)
		if u := h.getUser(decodeUser(t, rec).ID); u.Role != "MANAGER" || !u.EmailVerified {
			t.Errorf("role %s, verified %v; want MANAGER, true", u.Role, u.EmailVerified)
		}
	})

	const invalid = "Invalid or expired verification token"
	for _, tc := range []struct {
		name string
		path func(h *harness, a account) string
	}{
		{"wrong token", func(h *harness, a account) string {
			return "/verify-email/" + a.ID + "/" + strings.Repeat("A", 52)
		}},
		{"another user's token", func(h *harness, a account) string {
			b := h.register("other")
			_, token := h.verificationToken(b.Email)
			return "/verify-email/" + a.ID + "/" + token
		}},
		{"reused token", func(h *harness, a account) string {
			p := h.verificationPath(a.Email)
			wantStatus(h.tb, h.do(http.MethodGet, p, "", nil), http.StatusOK)
			return p
		}},
		{"unknown id", func(h *harness, a account) string {
			_, token := h.verificationToken(a.Email)
			return "/verify-email/" + unknownID + "/" + token
		}},
		{"expired", func(h *harness, a account) string {
			h.clock.Advance(verificationIn + time.Second)
			return h.verificationPath(a.Email)
		}},
		{"exactly at expiry", func(h *harness, a account) string {
			h.clock.Advance(verificationIn)
			return h.verificationPath(a.Email)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			a := h.register("v")
			rec := h.do(http.MethodGet, tc.path(h, a), "", nil)
			wantDetail(t, rec, http.StatusBadRequest, invalid)
		})
	}

	// A user_id that is no UUID is refused as the seed's typed path
	// parameter was: 422 at ["path", "user_id"] (PRODUCT.md 6: 404 or 422).
	t.Run("non-UUID id", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.register("v")
		_, token := h.verificationToken(a.Email)
		items := wantValidation(t, h.do(http.MethodGet, "/verify-email/not-a-uuid/"+token, "", nil), "path", "user_id")
		if items[0].Type != "uuid_parsing" {
			t.Errorf("type %q, want uuid_parsing", items[0].Type)
		}
	})

	t.Run("still valid just before expiry", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.register("v")
		h.clock.Advance(verificationIn - time.Second)
		wantStatus(t, h.do(http.MethodGet, h.verificationPath(a.Email), "", nil), http.StatusOK)
	})
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("target")

	rec := h.do(http.MethodGet, "/users/"+a.ID, h.admin.Token, nil)
	wantStatus(t, rec, http.StatusOK)
	checkUserKeys(t, rec.Body.Bytes())
	u := decodeUser(t, rec)
	if u.ID != a.ID || u.Email != a.Email || u.Role != "AUTHENTICATED" {
		t.Errorf("got %+v, want %s", u, a.Email)
	}
	checkUserLinks(t, u)
	wantStatus(t, h.do(http.MethodGet, "/users/"+strings.ToUpper(a.ID)+"/", h.admin.Token, nil), http.StatusOK)

	for _, id := range []string{unknownID, "not-a-uuid", "12345", strings.Repeat("a", 300)} {
		wantDetail(t, h.do(http.MethodGet, "/users/"+id, h.admin.Token, nil), http.StatusNotFound, "User not found")
	}
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()

	t.Run("partial update", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		rec := h.do(http.MethodPost, "/register/", "", obj{
			"email": "p@example.com", "password": testPassword, "nickname": "partial", "first_name": "Ann", "bio": "hello",
		})
		wantStatus(t, rec, http.StatusOK)
		id := decodeUser(t, rec).ID

		rec = h.do(http.MethodPut, "/users/"+id, h.admin.Token, obj{"last_name": "Lee"})
		wantStatus(t, rec, http.StatusOK)
		checkUserKeys(t, rec.Body.Bytes())
		u := decodeUser(t, rec)
		if u.LastName == nil || *u.LastName != "Lee" || u.FirstName == nil || *u.FirstName != "Ann" ||
			u.Bio == nil || *u.Bio != "hello" || u.Nickname != "partial" || u.Email != "p@example.com" {
			t.Errorf("after a last_name update: %+v", u)
		}
		checkUserLinks(t, u)

		rec = h.do(http.MethodPut, "/users/"+id+"/", h.admin.Token, obj{"email": " P2@Example.com", "nickname": "partial2", "bio": nil})
		wantStatus(t, rec, http.StatusOK)
		u = decodeUser(t, rec)
		if u.Email != "p2@example.com" || u.Nickname != "partial2" || u.Bio != nil || u.LastName == nil {
			t.Errorf("after an email/nickname update and clearing bio: %+v", u)
		}
		if got := h.getUser(id); got.Email != "p2@example.com" {
			t.Errorf("stored email = %s", got.Email)
		}
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a := h.verified("a")
		rec := h.do(http.MethodPost, "/register/", "", obj{"email": "b@example.com", "password": testPassword, "nickname": "bee_nick"})
		wantStatus(t, rec, http.StatusOK)

		for _, tc := range []struct {
			name   string
			id     string
			body   any
			status int
			detail string // for non-422
			field  string // for 422; "" means loc ["body"]
		}{
			{"empty body object", a.ID, obj{}, 422, "", ""},
			{"duplicate email", a.ID, obj{"email": "B@example.com"}, 400, "Email already exists", ""},
			{"duplicate nickname", a.ID, obj{"nickname": "Bee_Nick"}, 400, "Nickname already exists", ""},
			{"unknown id", unknownID, obj{"first_name": "X"}, 404, "User not found", ""},
			{"non-UUID id", "not-a-uuid", obj{"first_name": "X"}, 404, "User not found", ""},
			{"invalid email", a.ID, obj{"email": "nope"}, 422, "", "email"},
			{"only null fields", a.ID, obj{"email": nil, "nickname": nil}, 422, "", ""},
			{"invalid nickname", a.ID, obj{"nickname": "no spaces allowed"}, 422, "", "nickname"},
			{"empty nickname", a.ID, obj{"nickname": ""}, 422, "", "nickname"},
			{"bad URL", a.ID, obj{"github_profile_url": "ftp://github.com/x"}, 422, "", "github_profile_url"},
			{"unknown field", a.ID, obj{"password": testPassword}, 422, "", "password"},
			{"mass assignment", a.ID, obj{"is_professional": true}, 422, "", "is_professional"},
			{"invalid role", a.ID, obj{"role": "ROOT"}, 422, "", "role"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rec := h.do(http.MethodPut, "/users/"+tc.id, h.admin.Token, tc.body)
				switch {
				case tc.status != 422:
					wantDetail(t, rec, tc.status, tc.detail)
				case tc.field == "":
					wantValidation(t, rec)
				default:
					wantValidation(t, rec, "body", tc.field)
				}
			})
		}
		if u := h.getUser(a.ID); u.Email != a.Email || u.IsProfessional {
			t.Errorf("a refused update changed the user: %+v", u)
		}
	})
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("doomed")
	b := h.verified("doomed")

	rec := h.do(http.MethodDelete, "/users/"+a.ID, h.admin.Token, nil)
	wantStatus(t, rec, http.StatusNoContent)
	if rec.Body.Len() != 0 {
		t.Errorf("204 with a body: %s", rec.Body)
	}
	h.wantUserMissing(a.ID)
	wantDetail(t, h.do(http.MethodDelete, "/users/"+a.ID, h.admin.Token, nil), http.StatusNotFound, "User not found")
	wantStatus(t, h.do(http.MethodDelete, "/users/"+b.ID+"/", h.admin.Token, nil), http.StatusNoContent)
	for _, id := range []string{unknownID, "not-a-uuid"} {
		wantDetail(t, h.do(http.MethodDelete, "/users/"+id, h.admin.Token, nil), http.StatusNotFound, "User not found")
	}
	// The deleted user can no longer log in.
	wantDetail(t, h.do(http.MethodPost, "/login/", "", form{"username": {a.Email}, "password": {a.Password}}),
		http.StatusUnauthorized, "Incorrect email or password.")
}

func TestCreateUser(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	manager := h.user(domain.RoleManager)

	rec := h.do(http.MethodPost, "/users/", manager.Token, obj{
		"email": "Created@Example.com", "password": testPassword, "nickname": "created", "bio": "made by staff",
	})
	wantStatus(t, rec, http.StatusCreated)
	checkUserKeys(t, rec.Body.Bytes())
	u := decodeUser(t, rec)
	if u.Email != "created@example.com" || u.Role != "ANONYMOUS" || u.EmailVerified {
		t.Errorf("created %+v, want an unverified ANONYMOUS created@example.com", u)
	}
	checkUserLinks(t, u)
	if n := len(h.mail.sent("created@example.com", domain.MessageVerifyEmail)); n != 1 {
		t.Errorf("%d verification emails, want 1", n)
	}
	wantStatus(t, h.do(http.MethodGet, h.verificationPath("created@example.com"), "", nil), http.StatusOK)

	rec = h.do(http.MethodPost, "/users", h.admin.Token, obj{"email": "boss@example.com", "password": testPassword, "role": "ADMIN"})
	wantStatus(t, rec, http.StatusCreated)
	if u := decodeUser(t, rec); u.Role != "ADMIN" {
		t.Errorf("role = %s, want the ADMIN the ADMIN asked for", u.Role)
	}

	wantDetail(t, h.do(http.MethodPost, "/users/", manager.Token, obj{"email": "CREATED@example.com", "password": testPassword}),
		http.StatusBadRequest, "Email already exists")
	wantDetail(t, h.do(http.MethodPost, "/users/", manager.Token, obj{"email": "c2@example.com", "password": testPassword, "nickname": "CREATED"}),
		http.StatusBadRequest, "Nickname already exists")
	wantValidation(t, h.do(http.MethodPost, "/users/", manager.Token, obj{"email": "bad", "password": testPassword}), "body", "email")
	wantValidation(t, h.do(http.MethodPost, "/users/", manager.Token, obj{"email": "c3@example.com", "password": "short"}), "body", "password")
	wantValidation(t, h.do(http.MethodPost, "/users/", manager.Token, obj{"email": "c4@example.com", "password": testPassword, "is_locked": false}), "body", "is_locked")
	wantValidation(t, h.do(http.MethodPost, "/users/", h.admin.Token, obj{"email": "c5@example.com", "password": testPassword, "role": "ROOT"}), "body", "role")
}

// pageBody is the seed's UserListResponse.
type pageBody struct {
	Items []userBody `json:"items"`
	Total int        `json:"total"`
	Page  int        `json:"page"`
	Size  int        `json:"size"`
	Links []linkBody `json:"links"`
}

// pageLinks maps rel to the skip and limit of its absolute href.
func pageLinks(tb testing.TB, p pageBody) map[string][2]string {
	tb.Helper()
	out := make(map[string][2]string)
	for _, l := range p.Links {
		u, err := url.Parse(l.Href)
		if err != nil || !u.IsAbs() || u.Host != "example.com" || u.Path != "/users/" || l.Method != http.MethodGet {
			tb.Errorf("link %+v is not an absolute GET of http://example.com/users/", l)
			continue
		}
		out[l.Rel] = [2]string{u.Query().Get("skip"), u.Query().Get("limit")}
	}
	return out
}

func TestListUsers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	// 1 admin + 24 users = 25, created a second apart so the order is known.
	emails := []string{h.admin.Email}
	for range 24 {
		h.clock.Advance(time.Second)
		emails = append(emails, h.register("listed").Email)
	}

	for _, tc := range []struct {
		query      string
		page, size int
		first      string
		links      map[string][2]string
	}{
		{"", 1, 10, emails[0], map[string][2]string{
			"self": {"0", "10"}, "first": {"0", "10"}, "last": {"20", "10"}, "next": {"10", "10"}}},
		{"?skip=0&limit=10", 1, 10, emails[0], map[string][2]string{
			"self": {"0", "10"}, "first": {"0", "10"}, "last": {"20", "10"}, "next": {"10", "10"}}},
		{"?skip=10&limit=10", 2, 10, emails[10], map[string][2]string{
			"self": {"10", "10"}, "first": {"0", "10"}, "last": {"20", "10"}, "next": {"20", "10"}, "prev": {"0", "10"}}},
		{"?skip=20&limit=10", 3, 5, emails[20], map[string][2]string{
			"self": {"20", "10"}, "first": {"0", "10"}, "last": {"20", "10"}, "prev": {"10", "10"}}},
		{"?skip=0&limit=100", 1, 25, emails[0], map[string][2]string{
			"self": {"0", "100"}, "first": {"0", "100"}, "last": {"0", "100"}}},
		{"?skip=24&limit=1", 25, 1, emails[24], map[string][2]string{
			"self": {"24", "1"}, "first": {"0", "1"}, "last": {"24", "1"}, "prev": {"23", "1"}}},
		{"?limit=5", 1, 5, emails[0], map[string][2]string{
			"self": {"0", "5"}, "first": {"0", "5"}, "last": {"20", "5"}, "next": {"5", "5"}}},
	} {
		t.Run(tc.query, func(t *testing.T) {
			for _, path := range []string{"/users/", "/users"} {
				rec := h.do(http.MethodGet, path+tc.query, h.admin.Token, nil)
				wantStatus(t, rec, http.StatusOK)
				var raw map[string]json.RawMessage
				decodeBody(t, rec, &raw)
				for _, k := range []string{"items", "total", "page", "size", "links"} {
					if _, ok := raw[k]; !ok {
						t.Errorf("list without %q: %s", k, rec.Body)
					}
				}
				var p pageBody
				decodeBody(t, rec, &p)
				if p.Total != 25 || p.Page != tc.page || p.Size != tc.size || len(p.Items) != tc.size {
					t.Errorf("total %d, page %d, size %d, %d items; want 25, %d, %d", p.Total, p.Page, p.Size, len(p.Items), tc.page, tc.size)
				}
				if len(p.Items) > 0 {
					if p.Items[0].Email != tc.first {
						t.Errorf("first item %s, want %s", p.Items[0].Email, tc.first)
					}
					checkUserLinks(t, p.Items[0])
				}
				if diff := cmp.Diff(tc.links, pageLinks(t, p)); diff != "" {
					t.Errorf("links (-want +got):\n%s", diff)
				}
			}
		})
	}

	for _, tc := range []struct{ query, field string }{
		{"?limit=0", "limit"},
		{"?limit=101", "limit"},
		{"?limit=-1", "limit"},
		{"?skip=-1", "skip"},
		{"?skip=abc", "skip"},
		{"?limit=abc", "limit"},
		{"?limit=", "limit"},
		{"?limit=1.5", "limit"},
		{"?skip=99999999999999999999999", "skip"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			wantValidation(t, h.do(http.MethodGet, "/users/"+tc.query, h.admin.Token, nil), "query", tc.field)
		})
	}
}

func TestUpgradeToProfessional(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.verified("pro")
	manager := h.user(domain.RoleManager)

	rec := h.do(http.MethodPost, "/users/"+a.ID+"/upgrade", manager.Token, nil)
	wantStatus(t, rec, http.StatusOK)
	checkUserKeys(t, rec.Body.Bytes())
	u := decodeUser(t, rec)
	if !u.IsProfessional || u.ProfessionalStatusUpdatedAt == nil || !u.ProfessionalStatusUpdatedAt.Equal(h.clock.Now()) {
		t.Errorf("is_professional %v, professional_status_updated_at %v; want true, %v",
			u.IsProfessional, u.ProfessionalStatusUpdatedAt, h.clock.Now())
	}
	checkUserLinks(t, u)
	if n := len(h.mail.sent(a.Email, domain.MessageProfessional)); n != 1 {
		t.Errorf("%d professional emails, want 1", n)
	}

	// Twice is harmless: same answer, first timestamp kept, no second email.
	first := *u.ProfessionalStatusUpdatedAt
	h.clock.Advance(time.Hour)
	rec = h.do(http.MethodPost, "/users/"+a.ID+"/upgrade/", h.login(h.admin.Email, h.admin.Password), nil)
	wantStatus(t, rec, http.StatusOK)
	if u := decodeUser(t, rec); !u.IsProfessional || u.ProfessionalStatusUpdatedAt == nil || !u.ProfessionalStatusUpdatedAt.Equal(first) {
		t.Errorf("second upgrade: is_professional %v, timestamp %v; want true, %v", u.IsProfessional, u.ProfessionalStatusUpdatedAt, first)
	}
	if n := len(h.mail.sent(a.Email, domain.MessageProfessional)); n != 1 {
		t.Errorf("%d professional emails after a second upgrade, want 1", n)
	}

	for _, id := range []string{unknownID, "not-a-uuid"} {
		wantDetail(t, h.do(http.MethodPost, "/users/"+id+"/upgrade", h.login(h.admin.Email, h.admin.Password), nil), http.StatusNotFound, "User not found")
	}
}

// TestTrailingSlash sends every route with and without its trailing slash.
func TestTrailingSlash(t *testing.T) {
	t.Parallel()
	for _, rt := range allRoutes {
		for _, slash := range []string{"", "/"} {
			t.Run(rt.name+" "+slash, func(t *testing.T) {
				t.Parallel()
				h := newHarness(t)
				method, path, body := rt.build(h)
				rec := h.do(method, strings.TrimSuffix(path, "/")+slash, h.admin.Token, body)
				wantStatus(t, rec, rt.status)
			})
		}
	}
}
