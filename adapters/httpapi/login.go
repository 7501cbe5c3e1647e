package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"unicode/utf8"

	"github.com/usersvc/usersvc/app"
)

type loginer interface {
	Login(ctx context.Context, email, password string) (app.LoginResult, error)
}

// tokenJSON is the OAuth2 token response (RFC 6749 section 5.1).
type tokenJSON struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// loginFields are what /login/ reads; OAuth2 clients may also send a client
// id and secret, which a public client's password grant ignores.
var loginFields = []string{"username", "email", "password", "grant_type", "scope", "client_id", "client_secret"}

// handleLogin takes the OAuth2 password form (RFC 6749 section 4.3) or JSON.
func handleLogin(log *slog.Logger, uc loginer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		email, password, err := readLogin(w, r)
		if writeDecodeError(w, err) {
			return
		}
		res, err := uc.Login(r.Context(), email, password)
		if err != nil {
			writeError(w, r, log, seedRoute, "body", err)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		writeJSON(w, http.StatusOK, tokenJSON{
			AccessToken: res.AccessToken,
			TokenType:   "bearer",
			ExpiresIn:   int(res.ExpiresIn.Seconds()),
		})
	})
}

func readLogin(w http.ResponseWriter, r *http.Request) (email, password string, err error) {
	var o *object
	switch mediaType(r) {
	case "application/x-www-form-urlencoded":
		o, err = readForm(func() (url.Values, error) {
			body, err := readBody(w, r)
			if err != nil {
				return nil, err
			}
			return url.ParseQuery(string(body))
		})
	case "multipart/form-data":
		o, err = readForm(func() (url.Values, error) {
			r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
			if err := r.ParseMultipartForm(maxBodyBytes); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					return nil, errBodyTooLarge
				}
				return nil, err
			}
			return r.MultipartForm.Value, nil
		})
	default:
		o, err = decodeJSONObject(w, r)
	}
	if err != nil {
		return "", "", err
	}
	o.allow(loginFields...)
	if gt := o.str("grant_type", false, true); gt != nil && *gt != "password" {
		o.fail("grant_type", "string_pattern_mismatch", "String should match pattern '^password$'")
	}
	if o.has("email") {
		if s := o.str("email", true, false); s != nil {
			email = *s
		}
	} else if s := o.str("username", true, false); s != nil {
		email = *s
	}
	if s := o.str("password", true, false); s != nil {
		password = *s
	}
	return email, password, o.err()
}

// readForm turns form values into an object, so forms and JSON are checked
// by the same code. A field sent twice is refused.
func readForm(parse func() (url.Values, error)) (*object, error) {
	vals, err := parse()
	if errors.Is(err, errBodyTooLarge) {
		return nil, err
	}
	if err != nil {
		return nil, &requestError{items: []validationItem{{Loc: []any{"body"}, Msg: "Could not parse the form", Type: "form_invalid"}}}
	}
	o := &object{fields: make(map[string]json.RawMessage, len(vals))}
	for k, v := range vals {
		if len(v) != 1 {
			o.fail(k, "form_invalid", "Field sent more than once")
			continue
		}
		if !utf8.ValidString(v[0]) {
			o.fail(k, "string_unicode", "Input should be a valid string")
			continue
		}
		b, _ := json.Marshal(v[0])
		o.fields[k] = b
	}
	return o, nil
}
