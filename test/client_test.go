package e2e_test

// The typed client of the API, written as its first user: the end-to-end
// tests reach the binary only through it. do sends JSON and fails on any
// non-2xx answer (an *apiError); raw returns any answer whole (status,
// headers, body) for tests that check refusals. One method an endpoint
// the tests use, named after what it does.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// client talks to one service, as one user once logged in (token).
type client struct {
	base  string
	token string
	http  *http.Client
}

// newClient is an anonymous client of the service at base (its URL).
func newClient(base string) *client { return &client{base: base, http: &http.Client{}} }

// apiError is a non-2xx answer.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

// do sends in (JSON, or a form if it is url.Values; nothing if nil) and
// decodes a 2xx answer into out; any other status is an *apiError.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	a, err := c.raw(ctx, method, path, in, nil)
	if err != nil {
		return err
	}
	if a.Status/100 != 2 {
		return &apiError{Status: a.Status, Body: a.Body}
	}
	if out != nil && len(a.Body) > 0 {
		return json.Unmarshal([]byte(a.Body), out)
	}
	return nil
}

// answer is a raw HTTP answer.
type answer struct {
	Status int
	Header http.Header
	Body   string
}

// detail is the body's "detail" when it is a string.
func (a answer) detail() string {
	var p struct {
		Detail any `json:"detail"`
	}
	if json.Unmarshal([]byte(a.Body), &p) != nil {
		return ""
	}
	s, _ := p.Detail.(string)
	return s
}

// patientHTTP is the client of concurrent bursts: every request is
// answered or fails within a generous bound.
var patientHTTP = &http.Client{Timeout: 60 * time.Second}

// raw sends one request and returns the answer whatever its status. body
// is JSON-encoded unless it is url.Values (a form) or nil.
func (c *client) raw(ctx context.Context, method, path string, body any, header http.Header) (answer, error) {
	var rd io.Reader
	contentType := ""
	switch b := body.(type) {
	case nil:
	case url.Values:
		rd, contentType = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return answer{}, err
		}
		rd, contentType = bytes.NewReader(j), "application/json"
	}
	target := path
	if !strings.HasPrefix(path, "http://") && !strings.HasPrefix(path, "https://") {
		target = c.base + path
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return answer{}, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}

// mustRaw is raw failing the test on a transport error.
func (c *client) mustRaw(tb testing.TB, ctx context.Context, method, path string, body any, header http.Header) answer {
	tb.Helper()
	a, err := c.raw(ctx, method, path, body, header)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	return a
}

// The API's bodies, as the tests read them.

type user struct {
	ID             string `json:"id"`
	Email          string `json:"email"`
	Nickname       string `json:"nickname"`
	Role           string `json:"role"`
	EmailVerified  bool   `json:"email_verified"`
	IsProfessional bool   `json:"is_professional"`
	IsLocked       bool   `json:"is_locked"`
	Links          []struct {
		Rel, Href, Method string
	} `json:"links"`
}

type userPage struct {
	Items []user `json:"items"`
	Total int    `json:"total"`
	Page  int    `json:"page"`
	Size  int    `json:"size"`
}

// tokenPair is the token answer of /login/ and /token/refresh.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// Endpoints.

func (c *client) register(ctx context.Context, email, password string) (user, error) {
	var u user
	err := c.do(ctx, http.MethodPost, "/register/", map[string]string{"email": email, "password": password}, &u)
	return u, err
}

// get follows an absolute link (such as one from an email).
func (c *client) get(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// login uses a stock OAuth2 client's password grant, as the contract requires.
func (c *client) login(ctx context.Context, email, password string) error {
	conf := &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: c.base + "/login/", AuthStyle: oauth2.AuthStyleInParams}}
	tok, err := conf.PasswordCredentialsToken(ctx, email, password)
	if err != nil {
		return err
	}
	c.token = tok.AccessToken
	return nil
}

func (c *client) me(ctx context.Context) (user, error) {
	var u user
	err := c.do(ctx, http.MethodGet, "/users/me", nil, &u)
	return u, err
}

func (c *client) listUsers(ctx context.Context, skip, limit int) (userPage, error) {
	var p userPage
	err := c.do(ctx, http.MethodGet, fmt.Sprintf("/users/?skip=%d&limit=%d", skip, limit), nil, &p)
	return p, err
}

func (c *client) upgrade(ctx context.Context, id string) (user, error) {
	var u user
	err := c.do(ctx, http.MethodPost, "/users/"+id+"/upgrade", nil, &u)
	return u, err
}

// passwordLogin posts the OAuth2 password form and returns the answer and,
// on 200, its tokens; the client keeps the access token.
func (c *client) passwordLogin(ctx context.Context, email, password string) (tokenPair, answer, error) {
	a, err := c.raw(ctx, http.MethodPost, "/login/", url.Values{
		"grant_type": {"password"}, "username": {email}, "password": {password},
	}, nil)
	if err != nil || a.Status != http.StatusOK {
		return tokenPair{}, a, err
	}
	var tp tokenPair
	if err := json.Unmarshal([]byte(a.Body), &tp); err != nil {
		return tokenPair{}, a, err
	}
	c.token = tp.AccessToken
	return tp, a, nil
}

// mustLogin logs in with the password grant and wants 200 and a refresh token.
func (c *client) mustLogin(tb testing.TB, ctx context.Context, email, password string) tokenPair {
	tb.Helper()
	tp, a, err := c.passwordLogin(ctx, email, password)
	if err != nil {
		tb.Fatalf("login %s: %v", email, err)
	}
	if a.Status != http.StatusOK || tp.AccessToken == "" || tp.RefreshToken == "" {
		tb.Fatalf("login %s: %d %s, want 200 with access and refresh tokens", email, a.Status, a.Body)
	}
	return tp
}

// refresh posts {"refresh_token"} to /token/refresh.
func (c *client) refresh(ctx context.Context, refreshToken string) (tokenPair, answer, error) {
	a, err := c.raw(ctx, http.MethodPost, "/token/refresh", map[string]string{"refresh_token": refreshToken}, nil)
	if err != nil || a.Status != http.StatusOK {
		return tokenPair{}, a, err
	}
	var tp tokenPair
	err = json.Unmarshal([]byte(a.Body), &tp)
	return tp, a, err
}

// requestReset posts /password-reset/request.
func (c *client) requestReset(ctx context.Context, email string) (answer, error) {
	return c.raw(ctx, http.MethodPost, "/password-reset/request", map[string]string{"email": email}, nil)
}

// confirmReset posts /password-reset/confirm.
func (c *client) confirmReset(ctx context.Context, token, newPassword string) (answer, error) {
	return c.raw(ctx, http.MethodPost, "/password-reset/confirm", map[string]string{"token": token, "new_password": newPassword}, nil)
}

// changePassword puts /users/me/password as the client's user.
func (c *client) changePassword(ctx context.Context, current, next string) (answer, error) {
	return c.raw(ctx, http.MethodPut, "/users/me/password", map[string]string{"current_password": current, "new_password": next}, nil)
}

// logout posts /logout with the session's refresh token.
func (c *client) logout(ctx context.Context, refreshToken string) (answer, error) {
	return c.raw(ctx, http.MethodPost, "/logout", map[string]string{"refresh_token": refreshToken}, nil)
}

// withToken is a copy of the client that sends token.
func (c *client) withToken(token string) *client {
	cp := *c
	cp.token = token
	return &cp
}

func mustOK(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
