package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// This file extends the typed client with the session and recovery
// endpoints (PRODUCT.md section 5) and a raw request for tests that need
// the status, headers and body whatever they are.

// tokenPair is the token answer of /login/ and /token/refresh.
type tokenPair struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
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
