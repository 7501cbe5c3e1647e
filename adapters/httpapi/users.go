package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

type userGetter interface {
	GetUser(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error)
}

func handleGetUser(log *slog.Logger, uc userGetter) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		u, err := uc.GetUser(r.Context(), actor, pathVars(r)["user_id"])
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}

type userCreator interface {
	CreateUser(ctx context.Context, actor domain.Actor, in app.NewUserInput) (*domain.User, error)
}

func handleCreateUser(log *slog.Logger, uc userCreator) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow(newUserFields...)
		in := readNewUser(o)
		in.Role = readRole(o, false)
		if writeDecodeError(w, o.err()) {
			return
		}
		u, err := uc.CreateUser(r.Context(), actor, in)
		respondUser(w, r, log, http.StatusCreated, u, err)
	}
}

// readRole reads an optional (or required) role field.
func readRole(o *object, required bool) *domain.Role {
	s := o.str("role", required, !required)
	if s == nil {
		return nil
	}
	role, err := domain.ParseRole(*s)
	if err != nil {
		o.fail("role", "enum", "Input should be 'ANONYMOUS', 'AUTHENTICATED', 'MANAGER' or 'ADMIN'")
		return nil
	}
	return &role
}

type userUpdater interface {
	UpdateUser(ctx context.Context, actor domain.Actor, userID string, in app.UpdateUserInput) (*domain.User, error)
}

var updateUserFields = append([]string{"email", "nickname", "role"}, profileFields...)

func handleUpdateUser(log *slog.Logger, uc userUpdater) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow(updateUserFields...)
		in := app.UpdateUserInput{
			// null means "unchanged", as the seed's Optional fields did.
			Email:    o.str("email", false, true),
			Nickname: o.str("nickname", false, true),
			Profile:  readProfilePatch(o),
			Role:     readRole(o, false),
		}
		if writeDecodeError(w, o.err()) {
			return
		}
		u, err := uc.UpdateUser(r.Context(), actor, pathVars(r)["user_id"], in)
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}

type userDeleter interface {
	DeleteUser(ctx context.Context, actor domain.Actor, userID string) error
}

func handleDeleteUser(log *slog.Logger, uc userDeleter) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := uc.DeleteUser(r.Context(), actor, pathVars(r)["user_id"]); err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

type userLister interface {
	ListUsers(ctx context.Context, actor domain.Actor, skip, limit int) (app.UserPage, error)
	SearchUsers(ctx context.Context, actor domain.Actor, in app.UserSearch) (app.UserSearchPage, error)
}

// handleListUsers answers the seed's GET /users/?skip&limit as it always
// did; any search parameter makes it a search (search.go).
func handleListUsers(log *slog.Logger, uc userLister) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		qe := &queryErrors{}
		// A query Go cannot parse whole (bad escapes, over 10,000
		// parameters) would be read in part: refuse it instead.
		if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
			qe.fail("", "query_invalid", "The query string could not be parsed")
			writeDecodeError(w, qe.err())
			return
		}
		skip := queryInt(r, qe, "skip", 0)
		limit := queryInt(r, qe, "limit", 10)
		if isSearch(r) {
			searchUsers(w, r, log, uc, actor, qe, skip, limit)
			return
		}
		if writeDecodeError(w, qe.err()) {
			return
		}
		page, err := uc.ListUsers(r.Context(), actor, skip, limit)
		if err != nil {
			writeError(w, r, log, "query", err)
			return
		}
		writeJSON(w, http.StatusOK, renderPage(baseURL(r), "/users/", page.Users, page.Total, page.Skip, page.Limit, nil))
	}
}

// queryInt reads an integer query parameter.
func queryInt(r *http.Request, qe *queryErrors, name string, def int) int {
	vals, ok := r.URL.Query()[name]
	if !ok {
		return def
	}
	n, err := strconv.Atoi(vals[len(vals)-1])
	if err != nil || len(vals[len(vals)-1]) > 12 {
		qe.fail(name, "int_parsing", "Input should be a valid integer, unable to parse string as an integer")
		return def
	}
	return n
}

type professionalUpgrader interface {
	UpgradeToProfessional(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error)
}

func handleUpgrade(log *slog.Logger, uc professionalUpgrader) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		u, err := uc.UpgradeToProfessional(r.Context(), actor, pathVars(r)["user_id"])
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}

type unlocker interface {
	Unlock(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error)
}

func handleUnlock(log *slog.Logger, uc unlocker) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		u, err := uc.Unlock(r.Context(), actor, pathVars(r)["user_id"])
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}

type locker interface {
	Lock(ctx context.Context, actor domain.Actor, userID string) (*domain.User, error)
}

func handleLock(log *slog.Logger, uc locker) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		u, err := uc.Lock(r.Context(), actor, pathVars(r)["user_id"])
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}

type roleChanger interface {
	ChangeRole(ctx context.Context, actor domain.Actor, userID string, role domain.Role) (*domain.User, error)
}

func handleChangeRole(log *slog.Logger, uc roleChanger) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		// Only an ADMIN may change roles: refuse others before reading the body.
		if err := actor.CheckChangesRoles(); err != nil {
			writeError(w, r, log, "body", err)
			return
		}
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		o.allow("role")
		role := readRole(o, true)
		if writeDecodeError(w, o.err()) {
			return
		}
		u, err := uc.ChangeRole(r.Context(), actor, pathVars(r)["user_id"], *role)
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}

// respondUser writes a user, or the error of the use case that produced it.
func respondUser(w http.ResponseWriter, r *http.Request, log *slog.Logger, status int, u *domain.User, err error) {
	if err != nil {
		writeError(w, r, log, "body", err)
		return
	}
	writeJSON(w, status, renderUser(baseURL(r), u))
}
