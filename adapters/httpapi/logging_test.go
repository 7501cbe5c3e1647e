package httpapi_test

// Section 6: passwords, tokens and hashes never reach a log.

import (
	"net/http"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/domain"
)

func TestLogsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const password = "Sup3r-Secret-Passw0rd!"
	email := "careful@example.com"

	rec := h.do(http.MethodPost, "/register/", "", obj{"email": email, "password": password})
	wantStatus(t, rec, http.StatusOK)
	id := decodeUser(t, rec).ID
	_, verifyToken := h.verificationToken(email)

	// A failed verification, an unverified login, a wrong password.
	wantStatus(t, h.do(http.MethodGet, "/verify-email/"+id+"/"+verifyToken+"x", "", nil), http.StatusBadRequest)
	wantStatus(t, h.do(http.MethodPost, "/login/", "", form{"username": {email}, "password": {password}}), http.StatusUnauthorized)
	wantStatus(t, h.do(http.MethodPost, "/login/", "", obj{"email": email, "password": password + "-wrong"}), http.StatusUnauthorized)
	wantStatus(t, h.do(http.MethodGet, "/verify-email/"+id+"/"+verifyToken, "", nil), http.StatusOK)
	access := h.login(email, password)
	wantStatus(t, h.do(http.MethodGet, "/users/me", access, nil), http.StatusOK)
	wantStatus(t, h.do(http.MethodGet, "/users/", access, nil), http.StatusForbidden)
	wantStatus(t, h.do(http.MethodGet, "/users/me", access+"tampered", nil), http.StatusUnauthorized)
	// A validation error that echoes nothing secret, and a lockout.
	wantStatus(t, h.do(http.MethodPost, "/register/", "", obj{"email": "x@example.com", "password": password, "nickname": "!"}), http.StatusUnprocessableEntity)
	h.failLogins(email, maxAttempts)
	if n := len(h.mail.sent(email, domain.MessageLocked)); n != 1 { // delivered, so the dispatcher logged too
		t.Errorf("%d lockout emails, want 1", n)
	}

	logs := h.logs.String()
	if !strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("no access log lines captured:\n%s", logs)
	}
	for name, secret := range map[string]string{
		"password":           password,
		"access token":       access,
		"access token body":  strings.Split(access, ".")[2],
		"verification token": verifyToken,
		"password hash":      fakeHashPrefix,
		"admin token":        h.admin.Token,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds the %s:\n%s", name, logs)
		}
	}
}

// TestNoSecretsInResponses checks that no answer shows a hash or a token.
func TestNoSecretsInResponses(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	a := h.register("shy")
	_, verifyToken := h.verificationToken(a.Email)
	for _, path := range []string{"/users/" + a.ID, "/users/?limit=100", "/users/me"} {
		body := h.do(http.MethodGet, path, h.admin.Token, nil).Body.String()
		for _, secret := range []string{fakeHashPrefix, verifyToken, testPassword, "password", "token"} {
			if strings.Contains(body, secret) {
				t.Errorf("GET %s shows %q: %s", path, secret, body)
			}
		}
	}
}
