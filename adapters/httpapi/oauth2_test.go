package httpapi_test

// /login/ works with a stock OAuth2 client (section 3).

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

func TestOAuth2PasswordCredentials(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	srv := httptest.NewServer(h.srv)
	t.Cleanup(srv.Close)
	a := h.verified("oauth")

	for _, tc := range []struct {
		name string
		conf *oauth2.Config
	}{
		{"credentials in params", &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/login/", AuthStyle: oauth2.AuthStyleInParams}}},
		{"without the trailing slash", &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/login", AuthStyle: oauth2.AuthStyleInParams}}},
		{"client id and scopes, as Swagger UI sends", &oauth2.Config{
			ClientID: "swagger-ui", Scopes: []string{"read", "write"},
			Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/login/", AuthStyle: oauth2.AuthStyleInParams},
		}},
		{"client in a Basic header", &oauth2.Config{
			ClientID: "app", ClientSecret: "s3cret",
			Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/login/", AuthStyle: oauth2.AuthStyleInHeader},
		}},
		{"auto-detected style", &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/login/"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
			tok, err := tc.conf.PasswordCredentialsToken(ctx, a.Email, a.Password)
			if err != nil {
				t.Fatalf("PasswordCredentialsToken: %v", err)
			}
			if tok.AccessToken == "" || tok.Type() != "Bearer" {
				t.Errorf("token %+v, type %q", tok, tok.Type())
			}
			if ttl := time.Until(tok.Expiry); ttl < accessTTL-time.Minute || ttl > accessTTL+time.Minute {
				t.Errorf("expiry in %v, want about %v", ttl, accessTTL)
			}

			res, err := tc.conf.Client(ctx, tok).Get(srv.URL + "/users/me")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /users/me with the OAuth2 token: %d", res.StatusCode)
			}
			var me userBody
			if err := json.NewDecoder(res.Body).Decode(&me); err != nil {
				t.Fatal(err)
			}
			if me.ID != a.ID || me.Email != a.Email {
				t.Errorf("/users/me = %s %s, want %s %s", me.ID, me.Email, a.ID, a.Email)
			}
		})
	}

	t.Run("wrong password is an OAuth2 error", func(t *testing.T) {
		conf := &oauth2.Config{Endpoint: oauth2.Endpoint{TokenURL: srv.URL + "/login/", AuthStyle: oauth2.AuthStyleInParams}}
		ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
		_, err := conf.PasswordCredentialsToken(ctx, a.Email, wrongPassword)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.Response.StatusCode != http.StatusUnauthorized {
			t.Errorf("err = %v, want a 401 RetrieveError", err)
		}
	})
}
