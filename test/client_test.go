package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"golang.org/x/oauth2"
)

// client is a small typed client of the API, written as its first user.
type client struct {
	base  string
	token string
	http  *http.Client
}

func newClient(base string) *client { return &client{base: base, http: &http.Client{}} }

// apiError is a non-2xx answer.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body) }

func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &apiError{Status: resp.StatusCode, Body: string(b)}
	}
	if out != nil && len(b) > 0 {
		return json.Unmarshal(b, out)
	}
	return nil
}

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

func mustOK(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}
