package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

type authenticator interface {
	Authenticate(ctx context.Context, token string) (domain.Actor, error)
}

// actorHandler is a handler that runs for an authenticated caller.
type actorHandler func(w http.ResponseWriter, r *http.Request, actor domain.Actor)

// staffOnly refuses callers who may not administer users before their
// request is read, so they learn nothing from validation errors (403 comes
// first, as in the seed). The use cases check the same domain rule again.
func staffOnly(log *slog.Logger, next actorHandler) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := actor.CheckAdministers(); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		next(w, r, actor)
	}
}

// withActor authenticates the bearer token and hands the actor on. A missing
// or bad token is a 401 with WWW-Authenticate: Bearer.
func withActor(log *slog.Logger, auth authenticator, next actorHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := bearerToken(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", "Bearer")
			writeDetail(w, http.StatusUnauthorized, detailNotAuthenticated)
			return
		}
		actor, err := auth.Authenticate(r.Context(), token)
		if err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		next(w, r, actor)
	})
}

// bearerToken extracts the token of an "Authorization: Bearer …" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

type registerer interface {
	Register(ctx context.Context, in app.NewUserInput) (*domain.User, error)
}

// newUserFields are the fields of the seed's UserCreate.
var newUserFields = append([]string{"email", "nickname", "password", "role"}, profileFields...)

func handleRegister(log *slog.Logger, lim *limits, uc registerer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow(newUserFields...)
		in := readNewUser(o)
		o.str("role", false, true) // accepted for the seed's clients, never used
		if writeDecodeError(w, o.err()) {
			return
		}
		if !lim.allowAccount(w, r, limitRegister, in.Email) {
			return
		}
		u, err := uc.Register(r.Context(), in)
		if err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		writeJSON(w, http.StatusOK, renderUser(baseURL(r), u))
	})
}

// readNewUser reads the UserCreate fields other than role.
func readNewUser(o *object) app.NewUserInput {
	in := app.NewUserInput{Profile: readProfile(o)}
	if s := o.str("email", true, false); s != nil {
		in.Email = *s
	}
	if s := o.str("password", true, false); s != nil {
		in.Password = *s
	}
	if s := o.str("nickname", false, true); s != nil {
		if *s == "" { // absent means "generate one"; empty is a mistake
			o.fail("nickname", "string_too_short", "String should have at least 3 characters")
		}
		in.Nickname = *s
	}
	return in
}

var profileFields = []string{
	"first_name", "last_name", "bio", "preferred_language",
	"profile_picture_url", "linkedin_profile_url", "github_profile_url",
}

func readProfile(o *object) domain.Profile {
	return readProfilePatch(o).Apply(domain.Profile{})
}

// readProfilePatch reads the profile fields; null clears a field.
func readProfilePatch(o *object) domain.ProfilePatch {
	return domain.ProfilePatch{
		FirstName:          o.nullableStr("first_name"),
		LastName:           o.nullableStr("last_name"),
		Bio:                o.nullableStr("bio"),
		PreferredLanguage:  o.nullableStr("preferred_language"),
		ProfilePictureURL:  o.nullableStr("profile_picture_url"),
		LinkedInProfileURL: o.nullableStr("linkedin_profile_url"),
		GitHubProfileURL:   o.nullableStr("github_profile_url"),
	}
}

type emailVerifier interface {
	VerifyEmail(ctx context.Context, userID, token string) error
}

func handleVerifyEmail(log *slog.Logger, uc emailVerifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := pathVars(r)
		err := uc.VerifyEmail(r.Context(), v["user_id"], v["token"])
		var malformed *domain.ValidationError
		if wantsHTML(r) && (err == nil || errors.Is(err, domain.ErrInvalidVerification) || errors.As(err, &malformed)) {
			// A person following the link from the email.
			if err != nil {
				writePage(w, http.StatusBadRequest, pageData{Title: "Email not verified", Message: detailInvalidVerify + ".", IsError: true})
				return
			}
			writePage(w, http.StatusOK, pageData{Title: "Email verified", Message: "Thank you: your email is verified and you can log in."})
			return
		}
		if err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"message": "Email verified successfully"})
	})
}
