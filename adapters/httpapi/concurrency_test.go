package httpapi_test

// Section 4's lockout under concurrency, over real HTTP connections.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/usersvc/usersvc/domain"
)

// answer is a status and its detail.
type answer struct {
	status int
	detail string
}

// loginConcurrently sends n logins at once and returns the answers.
func loginConcurrently(t *testing.T, srv *httptest.Server, email, password string, n int) []answer {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	t.Cleanup(client.CloseIdleConnections)
	body := form{"username": {email}, "password": {password}}.Encode()
	answers := make([]answer, n)
	errs := make(chan error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := client.Post(srv.URL+"/login/", "application/x-www-form-urlencoded", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			data, err := io.ReadAll(res.Body)
			if err != nil {
				errs <- err
				return
			}
			var d struct {
				Detail string `json:"detail"`
			}
			_ = json.Unmarshal(data, &d)
			answers[i] = answer{res.StatusCode, d.Detail}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return answers
}

func TestConcurrentWrongPasswords(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := httptest.NewServer(h.srv)
	t.Cleanup(srv.Close)
	a := h.verified("victim")

	const n = 30
	counts := make(map[answer]int)
	for _, ans := range loginConcurrently(t, srv, a.Email, wrongPassword, n) {
		counts[ans]++
	}
	incorrect := answer{http.StatusUnauthorized, "Incorrect email or password."}
	locked := answer{http.StatusBadRequest, "Account locked due to too many failed login attempts."}
	if counts[incorrect] != maxAttempts || counts[locked] != n-maxAttempts || len(counts) != 2 {
		t.Errorf("answers = %v; want %d × %v and %d × %v", counts, maxAttempts, incorrect, n-maxAttempts, locked)
	}
	if got := len(h.mail.sent(a.Email, domain.MessageLocked)); got != 1 {
		t.Errorf("%d lockout emails, want 1", got)
	}

	// Even the right password is refused now.
	for _, ans := range loginConcurrently(t, srv, a.Email, a.Password, 3) {
		if ans != locked {
			t.Errorf("right password on a locked account: %v, want %v", ans, locked)
		}
	}
}

func TestConcurrentRightPasswords(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := httptest.NewServer(h.srv)
	t.Cleanup(srv.Close)
	a := h.verified("popular")

	for i, ans := range loginConcurrently(t, srv, a.Email, a.Password, 20) {
		if ans.status != http.StatusOK {
			t.Errorf("login %d: %v, want 200", i, ans)
		}
	}
	if u := h.getUser(a.ID); u.IsLocked || u.LastLoginAt == nil {
		t.Errorf("after 20 good logins: locked %v, last_login_at %v", u.IsLocked, u.LastLoginAt)
	}
}

// sendConcurrently sends n requests at once (build(i) makes the i-th) and
// returns the statuses.
func sendConcurrently(t *testing.T, h *harness, n int, build func(i int) *http.Request) []int {
	t.Helper()
	reqs := make([]*http.Request, n)
	for i := range n {
		reqs[i] = build(i)
	}
	statuses := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = serve(h.srv, reqs[i]).Code
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

func countStatuses(statuses []int) map[int]int {
	m := make(map[int]int)
	for _, s := range statuses {
		m[s]++
	}
	return m
}

func TestConcurrentUniqueness(t *testing.T) {
	t.Parallel()

	t.Run("a verification link works once", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		path := h.verificationPath(h.register("v").Email)
		got := countStatuses(sendConcurrently(t, h, 10, func(int) *http.Request {
			return newRequest(t, http.MethodGet, path, "", nil)
		}))
		if got[http.StatusOK] != 1 || got[http.StatusBadRequest] != 9 {
			t.Errorf("statuses %v, want one 200 and nine 400", got)
		}
	})

	t.Run("one email, one account", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		got := countStatuses(sendConcurrently(t, h, 10, func(i int) *http.Request {
			return newRequest(t, http.MethodPost, "/register/", "", obj{"email": "race@example.com", "password": testPassword})
		}))
		if got[http.StatusOK] != 1 || got[http.StatusBadRequest] != 9 {
			t.Errorf("statuses %v, want one 200 and nine 400", got)
		}
	})

	t.Run("one nickname, one account", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		got := countStatuses(sendConcurrently(t, h, 10, func(i int) *http.Request {
			return newRequest(t, http.MethodPost, "/register/", "", obj{"email": h.email("n"), "password": testPassword, "nickname": "racer"})
		}))
		if got[http.StatusOK] != 1 || got[http.StatusBadRequest] != 9 {
			t.Errorf("statuses %v, want one 200 and nine 400", got)
		}
	})

	t.Run("ADMINs deleting themselves at once leave one", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		admins := []account{h.admin}
		for range 4 {
			admins = append(admins, h.user(domain.RoleAdmin))
		}
		got := countStatuses(sendConcurrently(t, h, len(admins), func(i int) *http.Request {
			return newRequest(t, http.MethodDelete, "/users/"+admins[i].ID, admins[i].Token, nil)
		}))
		if got[http.StatusNoContent] != len(admins)-1 || got[http.StatusConflict] != 1 {
			t.Errorf("statuses %v, want %d × 204 and one 409", got, len(admins)-1)
		}
	})

	t.Run("ADMINs demoting each other at once leave one", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t)
		a, b := h.admin, h.user(domain.RoleAdmin)
		sendConcurrently(t, h, 2, func(i int) *http.Request {
			actor, target := a, b
			if i == 1 {
				actor, target = b, a
			}
			return newRequest(t, http.MethodPatch, "/users/"+target.ID+"/role", actor.Token, obj{"role": "MANAGER"})
		})
		admins := 0
		for _, acc := range []account{a, b} {
			u, err := h.svc.GetUser(context.Background(), domain.Actor{ID: acc.ID, Role: domain.RoleAdmin}, acc.ID)
			if err != nil {
				t.Fatal(err)
			}
			if u.Role() == domain.RoleAdmin {
				admins++
			}
		}
		if admins != 1 {
			t.Errorf("%d ADMINs left, want 1", admins)
		}
	})
}
