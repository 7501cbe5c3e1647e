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
	// LoginWithCode is Login with the code of a second factor (mfa_code).
	LoginWithCode(ctx context.Context, email, password, code string) (app.LoginResult, error)
	Refresh(ctx context.Context, refreshToken string) (app.LoginResult, error)
}

// tokenJSON is the OAuth2 token response (RFC 6749 section 5.1).
type tokenJSON struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// loginFields are what /login/ reads; OAuth2 clients may also send a client
// id and secret, which a public client's grants ignore.
var loginFields = []string{"username", "email", "password", "grant_type", "scope", "client_id", "client_secret", "refresh_token", "mfa_code"}

// loginRequest is a password grant or a refresh-token grant.
type loginRequest struct {
	grantType    string
	email        string
	password     string
	refreshToken string
	mfaCode      string // the second factor's code, for a login in one step
}

// handleLogin takes the OAuth2 password grant (RFC 6749 section 4.3) and
// refresh grant (section 6), as a form or as JSON.
func handleLogin(log *slog.Logger, lim *limits, uc loginer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := readLogin(w, r)
		if writeDecodeError(w, err) {
			return
		}
		var res app.LoginResult
		if req.grantType == "refresh_token" {
			res, err = uc.Refresh(r.Context(), req.refreshToken)
		} else {
			if !lim.allowAccount(w, r, limitLogin, req.email) {
				return
			}
			if req.mfaCode != "" {
				res, err = uc.LoginWithCode(r.Context(), req.email, req.password, req.mfaCode)
			} else {
				res, err = uc.Login(r.Context(), req.email, req.password)
			}
		}
		if err != nil {
			writeLoginError(w, r, log, err)
			return
		}
		writeToken(w, res)
	})
}

// handleRefresh takes {"refresh_token"} and rotates it.
func handleRefresh(log *slog.Logger, uc loginer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("refresh_token")
		token := o.str("refresh_token", true, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		res, err := uc.Refresh(r.Context(), *token)
		if err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeToken(w, res)
	})
}

func writeToken(w http.ResponseWriter, res app.LoginResult) {
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, tokenJSON{
		AccessToken:  res.AccessToken,
		TokenType:    "bearer",
		ExpiresIn:    int(res.ExpiresIn.Seconds()),
		RefreshToken: res.RefreshToken,
	})
}

func readLogin(w http.ResponseWriter, r *http.Request) (loginRequest, error) {
	var o *object
	var err error
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
			if err := r.ParseMultipartForm(maxBodyBytes); err != nil { //nolint:gosec // the body is capped just above
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
		return loginRequest{}, err
	}
	o.allow(loginFields...)
	req := loginRequest{grantType: "password"}
	if gt := o.str("grant_type", false, true); gt != nil {
		req.grantType = *gt
	}
	switch req.grantType {
	case "refresh_token":
		if s := o.str("refresh_token", true, false); s != nil {
			req.refreshToken = *s
		}
		return req, o.err()
	case "password":
	default:
		o.fail("grant_type", "string_pattern_mismatch", "String should match pattern '^(password|refresh_token)$'")
	}
	if o.has("email") {
		if s := o.str("email", true, false); s != nil {
			req.email = *s
		}
	} else if s := o.str("username", true, false); s != nil {
		req.email = *s
	}
	if s := o.str("password", true, false); s != nil {
		req.password = *s
	}
	if s := o.str("mfa_code", false, true); s != nil {
		req.mfaCode = *s
	}
	return req, o.err()
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
