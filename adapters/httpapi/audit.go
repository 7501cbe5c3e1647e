package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

type auditReader interface {
	ListAuditEvents(ctx context.Context, actor domain.Actor, q app.AuditQuery) (app.AuditPage, error)
}

type auditEventJSON struct {
	ID       string    `json:"id"`
	Event    string    `json:"event"`
	ActorID  *string   `json:"actor"`
	TargetID *string   `json:"target"`
	IP       *string   `json:"ip"`
	At       time.Time `json:"at"`
	Detail   *string   `json:"detail"`
}

type auditPageJSON struct {
	Items      []auditEventJSON `json:"items"`
	NextCursor *string          `json:"next_cursor"`
	Links      []link           `json:"links"`
}

// handleAuditLog lists security events to an ADMIN, newest first.
func handleAuditLog(log *slog.Logger, uc auditReader) actorHandler {
	return func(w http.ResponseWriter, r *http.Request, actor domain.Actor) {
		if err := actor.CheckChangesRoles(); err != nil { // ADMIN only, before reading the query
			writeError(w, r, log, "query", err)
			return
		}
		qs := r.URL.Query()
		qe := &queryErrors{}
		q := app.AuditQuery{
			ActorID: qs.Get("actor"), TargetID: qs.Get("target"), Type: qs.Get("event"),
			Cursor: qs.Get("cursor"),
			Since:  queryTime(qs, qe, "since"), Until: queryTime(qs, qe, "until"),
			Limit: queryInt(r, qe, "limit", 50),
		}
		if _, given := qs["limit"]; given && q.Limit < 1 {
			qe.fail("limit", "greater_than_equal", "Input should be greater than or equal to 1")
		}
		if writeDecodeError(w, qe.err()) {
			return
		}
		page, err := uc.ListAuditEvents(r.Context(), actor, q)
		if err != nil {
			writeError(w, r, log, "query", err)
			return
		}
		out := auditPageJSON{Items: make([]auditEventJSON, 0, len(page.Events))}
		for _, e := range page.Events {
			out.Items = append(out.Items, auditEventJSON{
				ID: e.ID, Event: string(e.Type), ActorID: optional(e.ActorID), TargetID: optional(e.TargetID),
				IP: optional(e.IP), At: e.At.UTC(), Detail: optional(e.Detail),
			})
		}
		self := baseURL(r) + "/audit-log?" + qs.Encode()
		out.Links = []link{{Rel: "self", Href: self, Method: http.MethodGet}}
		if page.NextCursor != "" {
			out.NextCursor = &page.NextCursor
			next := url.Values{}
			for k, vs := range qs {
				next[k] = vs
			}
			next.Set("cursor", page.NextCursor)
			next.Set("limit", strconv.Itoa(q.Limit))
			out.Links = append(out.Links, link{Rel: "next", Href: baseURL(r) + "/audit-log?" + next.Encode(), Method: http.MethodGet})
		}
		writeJSON(w, http.StatusOK, out)
	}
}

// queryTime reads an RFC 3339 time query parameter.
func queryTime(qs url.Values, qe *queryErrors, name string) time.Time {
	s := qs.Get(name)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		qe.fail(name, "datetime_parsing", "Input should be a valid datetime (RFC 3339)")
	}
	return t
}
