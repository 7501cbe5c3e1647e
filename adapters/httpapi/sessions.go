package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

// The sessions a person can see and end (PRODUCT.md 8.2).

type sessionManager interface {
	ListMySessions(ctx context.Context, actor domain.Actor) ([]app.SessionInfo, error)
	EndMySession(ctx context.Context, actor domain.Actor, sessionID string) error
	EndMyOtherSessions(ctx context.Context, actor domain.Actor) error
	ListUserSessions(ctx context.Context, actor domain.Actor, userID string) ([]app.SessionInfo, error)
	EndUserSessions(ctx context.Context, actor domain.Actor, userID string) error
}

// sessionJSON is a session as its owner (or staff) sees it: never a token.
type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         *string   `json:"ip"`
	UserAgent  *string   `json:"user_agent"`
	Current    bool      `json:"current"`
}

type sessionListJSON struct {
	Items []sessionJSON `json:"items"`
}

func renderSessions(list []app.SessionInfo) sessionListJSON {
	items := make([]sessionJSON, 0, len(list))
	for _, s := range list {
		items = append(items, sessionJSON{
			ID: s.ID, CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(), ExpiresAt: s.ExpiresAt.UTC(),
			IP: optional(s.IP), UserAgent: optional(s.UserAgent), Current: s.Current,
		})
	}
	return sessionListJSON{Items: items}
}

func handleListMySessions(log *slog.Logger, uc sessionManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		list, err := uc.ListMySessions(r.Context(), actor)
		if err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		writeJSON(w, http.StatusOK, renderSessions(list))
	}
}

func handleEndMySession(log *slog.Logger, uc sessionManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := uc.EndMySession(r.Context(), actor, pathVars(r)["session_id"]); err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func handleEndMyOtherSessions(log *slog.Logger, uc sessionManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := uc.EndMyOtherSessions(r.Context(), actor); err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}

func handleListUserSessions(log *slog.Logger, uc sessionManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		list, err := uc.ListUserSessions(r.Context(), actor, pathVars(r)["user_id"])
		if err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		writeJSON(w, http.StatusOK, renderSessions(list))
	}
}

func handleEndUserSessions(log *slog.Logger, uc sessionManager) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := uc.EndUserSessions(r.Context(), actor, pathVars(r)["user_id"]); err != nil {
			writeError(w, r, log, "path", err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
