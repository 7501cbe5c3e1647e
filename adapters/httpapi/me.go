package httpapi

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

type meReader interface {
	Me(ctx context.Context, actor domain.Actor) (*domain.User, error)
}

func handleMe(log *slog.Logger, uc meReader) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		u, err := uc.Me(r.Context(), actor)
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}

type meUpdater interface {
	UpdateMe(ctx context.Context, actor domain.Actor, in app.UpdateMeInput) (*domain.User, error)
}

// privilegedFields are never the caller's to set on themselves.
var privilegedFields = []string{"role", "is_professional", "email_verified", "is_locked"}

func handleUpdateMe(log *slog.Logger, uc meUpdater) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		o, err := decodeJSONObject(w, r)
		if writeDecodeError(w, err) {
			return
		}
		for _, f := range privilegedFields {
			if o.has(f) {
				writeError(w, r, log, "body", domain.ErrNotPermitted)
				return
			}
		}
		o.allow(append([]string{"nickname"}, profileFields...)...)
		// null means "unchanged", as on PUT /users/{id}.
		in := app.UpdateMeInput{Nickname: o.str("nickname", false, true), Profile: readProfilePatch(o)}
		if writeDecodeError(w, o.err()) {
			return
		}
		u, err := uc.UpdateMe(r.Context(), actor, in)
		respondUser(w, r, log, http.StatusOK, u, err)
	}
}
