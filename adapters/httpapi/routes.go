package httpapi

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// addRoutes registers the whole API surface. Every path answers with and
// without its trailing slash, as the seed's did.
func addRoutes(r *mux.Router, d deps) {
	route := func(path string, h http.Handler, methods ...string) {
		trimmed := strings.TrimSuffix(path, "/")
		r.Handle(trimmed, h).Methods(methods...).Name(trimmed)
		r.Handle(trimmed+"/", h).Methods(methods...).Name(trimmed)
	}
	actor := func(h actorHandler) http.Handler { return withActor(d.log, d.uc, h) }
	staff := func(h actorHandler) http.Handler { return actor(staffOnly(d.log, h)) }

	// The reads that carry the load first: gorilla/mux tries the routes in
	// order, each with a regular expression (GET /users/me was the 42nd). Where
	// routes overlap, the order is kept: GET /users/me before GET
	// /users/{user_id}, which no other GET route overlaps.
	route("/users/me", actor(handleMe(d.log, d.uc)), http.MethodGet)
	route("/users/{user_id}", staff(handleGetUser(d.log, d.uc)), http.MethodGet)

	route("/healthz", handleHealth(), http.MethodGet, http.MethodHead)
	route("/readyz", handleReady(d.log, d.ready), http.MethodGet, http.MethodHead)
	route("/openapi.json", handleOpenAPI(), http.MethodGet, http.MethodHead)
	route("/docs", handleDocs(), http.MethodGet, http.MethodHead)
	r.Handle("/docs/{file}", handleDocsAsset()).Methods(http.MethodGet, http.MethodHead).Name("/docs/{file}")
	route("/metrics", handleMetrics(d.met, d.protectMetrics, d.metricsToken), http.MethodGet)
	route("/.well-known/jwks.json", handleJWKS(d.keys), http.MethodGet)
	route("/.well-known/oauth-authorization-server", handleAuthServerMetadata(d.keys), http.MethodGet)

	route("/register", d.lim.IP(limitRegister)(handleRegister(d.log, d.lim, d.uc)), http.MethodPost)
	route("/login", d.lim.IP(limitLogin)(handleLogin(d.log, d.lim, d.uc)), http.MethodPost)
	route("/login/mfa", d.lim.IP(limitLoginMFA)(handleLoginSecondFactor(d.log, d.uc)), http.MethodPost)
	route("/verify-email/{user_id}/{token}", handleVerifyEmail(d.log, d.uc), http.MethodGet)

	route("/token/refresh", d.lim.IP(limitRefresh)(handleRefresh(d.log, d.uc)), http.MethodPost)
	route("/logout", actor(handleLogout(d.log, d.uc)), http.MethodPost)
	route("/password-reset/request", d.lim.IP(limitResetRequest)(handleEmailRequest(d.log, d.lim, limitResetRequest,
		"If an account with that email exists, a password reset link has been sent.", d.uc.RequestPasswordReset)), http.MethodPost)
	route("/password-reset/confirm", d.lim.IP(limitResetConfirm)(handleResetConfirm(d.log, d.uc)), http.MethodPost)
	route("/password-reset", handleResetPage(), http.MethodGet)
	route("/password-reset", d.lim.IP(limitResetConfirm)(handleResetForm(d.log, d.uc)), http.MethodPost)
	route("/unlock", handleUnlockPage(), http.MethodGet)
	route("/unlock", d.lim.IP(limitUnlock)(handleUnlockWithToken(d.log, d.uc)), http.MethodPost)
	route("/verify-email/resend", d.lim.IP(limitResendVerification)(handleEmailRequest(d.log, d.lim, limitResendVerification,
		"If an unverified account with that email exists, a verification link has been sent.", d.uc.ResendVerification)), http.MethodPost)

	route("/users/me", actor(handleUpdateMe(d.log, d.uc)), http.MethodPatch)
	route("/users/me", actor(handleDeleteMe(d.log, d.uc)), http.MethodDelete)
	route("/users/me/password", actor(handleChangePassword(d.log, d.uc)), http.MethodPut)
	route("/users/me/mfa/totp", actor(handleEnrolTOTP(d.log, d.uc)), http.MethodPost)
	route("/users/me/mfa/totp", actor(handleDisableTOTP(d.log, d.uc)), http.MethodDelete)
	route("/users/me/mfa/totp/confirm", actor(handleConfirmTOTP(d.log, d.uc)), http.MethodPost)
	route("/users/me/mfa/recovery-codes", actor(handleRegenerateRecoveryCodes(d.log, d.uc)), http.MethodPost)
	// The /users/me/… routes come before /users/{user_id}/…, which would
	// take "me" for an id.
	route("/users/me/sessions", actor(handleListMySessions(d.log, d.uc)), http.MethodGet)
	route("/users/me/sessions", actor(handleEndMyOtherSessions(d.log, d.uc)), http.MethodDelete)
	route("/users/me/sessions/{session_id}", actor(handleEndMySession(d.log, d.uc)), http.MethodDelete)
	route("/users/me/email", d.lim.IP(limitEmailChange)(actor(handleRequestEmailChange(d.log, d.lim, d.uc))), http.MethodPost)
	route("/email-change", handleEmailChangePage(), http.MethodGet)
	route("/email-change/confirm", d.lim.IP(limitEmailConfirm)(handleConfirmEmailChange(d.log, d.uc)), http.MethodPost)
	route("/invitation", handleInvitationPage(), http.MethodGet)
	route("/invitations/accept", d.lim.IP(limitInvitationAccept)(handleAcceptInvitation(d.log, d.uc)), http.MethodPost)
	route("/audit-log", actor(handleAuditLog(d.log, d.uc)), http.MethodGet)

	route("/users", staff(handleListUsers(d.log, d.uc)), http.MethodGet)
	route("/users", staff(handleCreateUser(d.log, d.uc)), http.MethodPost)
	route("/users/invite", staff(handleInviteUser(d.log, d.uc)), http.MethodPost)
	route("/users/{user_id}", staff(handleUpdateUser(d.log, d.uc)), http.MethodPut)
	route("/users/{user_id}", staff(handleDeleteUser(d.log, d.uc)), http.MethodDelete)
	route("/users/{user_id}/upgrade", staff(handleUpgrade(d.log, d.uc)), http.MethodPost)
	route("/users/{user_id}/unlock", staff(handleUnlock(d.log, d.uc)), http.MethodPost)
	route("/users/{user_id}/lock", staff(handleLock(d.log, d.uc)), http.MethodPost)
	route("/users/{user_id}/role", actor(handleChangeRole(d.log, d.uc)), http.MethodPatch)
	route("/users/{user_id}/mfa/reset", actor(handleResetSecondFactor(d.log, d.uc)), http.MethodPost)
	route("/users/{user_id}/invitation", staff(handleResendInvitation(d.log, d.uc)), http.MethodPost)
	route("/users/{user_id}/sessions", staff(handleListUserSessions(d.log, d.uc)), http.MethodGet)
	route("/users/{user_id}/sessions", staff(handleEndUserSessions(d.log, d.uc)), http.MethodDelete)

	addWebhookRoutes(route, actor, d)
}
