package domain

import "time"

// AuditEventType names a security event.
type AuditEventType string

// The security events usersvc records.
const (
	EventUserRegistered     AuditEventType = "user_registered"
	EventUserCreated        AuditEventType = "user_created"
	EventEmailVerified      AuditEventType = "email_verified"
	EventLoginSucceeded     AuditEventType = "login_succeeded"
	EventLoginFailed        AuditEventType = "login_failed"
	EventAccountLocked      AuditEventType = "account_locked"
	EventAccountUnlocked    AuditEventType = "account_unlocked"
	EventRoleChanged        AuditEventType = "role_changed"
	EventProfessionalSet    AuditEventType = "professional_status_changed"
	EventUserUpdated        AuditEventType = "user_updated"
	EventPasswordChanged    AuditEventType = "password_changed"
	EventPasswordReset      AuditEventType = "password_reset"
	EventResetRequested     AuditEventType = "password_reset_requested"
	EventVerificationResent AuditEventType = "verification_resent"
	EventUserDeleted        AuditEventType = "user_deleted"
	EventLogout             AuditEventType = "logout"
	EventRefreshTokenReuse  AuditEventType = "refresh_token_reused"

	// The second factor (PRODUCT.md 8.1).
	EventMFAEnabled               AuditEventType = "mfa_enabled"
	EventMFADisabled              AuditEventType = "mfa_disabled"
	EventMFAReset                 AuditEventType = "mfa_reset"
	EventMFACodeFailed            AuditEventType = "mfa_code_failed"
	EventRecoveryCodeUsed         AuditEventType = "recovery_code_used"
	EventRecoveryCodesRegenerated AuditEventType = "recovery_codes_regenerated"
	EventSessionEnded             AuditEventType = "session_ended"
	EventEmailChangeAsked         AuditEventType = "email_change_requested"
	EventEmailChanged             AuditEventType = "email_changed"
	EventUserInvited              AuditEventType = "user_invited"
	EventInvitationResent         AuditEventType = "invitation_resent"
	EventInvitationAccepted       AuditEventType = "invitation_accepted"
)

// AuditEvents lists every event type, for validating filters.
func AuditEvents() []AuditEventType {
	return []AuditEventType{
		EventUserRegistered, EventUserCreated, EventEmailVerified, EventLoginSucceeded,
		EventLoginFailed, EventAccountLocked, EventAccountUnlocked, EventRoleChanged,
		EventProfessionalSet, EventUserUpdated, EventPasswordChanged, EventPasswordReset,
		EventResetRequested, EventVerificationResent, EventUserDeleted, EventLogout, EventRefreshTokenReuse,
		EventMFAEnabled, EventMFADisabled, EventMFAReset, EventMFACodeFailed, EventRecoveryCodeUsed,
		EventRecoveryCodesRegenerated,
		EventSessionEnded, EventEmailChangeAsked, EventEmailChanged, EventUserInvited, EventInvitationResent,
		EventInvitationAccepted,
	}
}

// AuditEvent is one security event. It never holds a secret.
type AuditEvent struct {
	ID       string // set by the store (time-ordered)
	Type     AuditEventType
	ActorID  string // who did it; empty for anonymous callers
	TargetID string // whom it concerns; empty when unknown (a login for an unknown email)
	IP       string // client address
	At       time.Time
	Detail   string // short, human-readable, no secrets (e.g. "role ANONYMOUS -> ADMIN")
}

// Record attaches a security event to the change in progress, and the
// webhook event it owes subscribers, if any (WebhookEventFor); the store
// saves both in the same transaction as the user.
func (u *User) Record(e AuditEvent) {
	u.events = append(u.events, e)
	u.recordWebhook(e)
}

// TakeEvents returns the recorded events and forgets them; stores call it
// when they save (or delete) the user.
func (u *User) TakeEvents() []AuditEvent {
	e := u.events
	u.events = nil
	return e
}
