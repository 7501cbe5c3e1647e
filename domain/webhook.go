package domain

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// WebhookEventType names what a webhook tells a subscriber (PRODUCT.md 8.6).
type WebhookEventType string

// The webhook events. Each is the consequence of an audit event recorded on
// a user (webhookEventOf): no use case emits one itself.
const (
	WebhookUserCreated         WebhookEventType = "user.created"
	WebhookUserVerified        WebhookEventType = "user.verified"
	WebhookUserUpdated         WebhookEventType = "user.updated"
	WebhookUserDeleted         WebhookEventType = "user.deleted"
	WebhookUserLocked          WebhookEventType = "user.locked"
	WebhookUserUnlocked        WebhookEventType = "user.unlocked"
	WebhookUserRoleChanged     WebhookEventType = "user.role_changed"
	WebhookUserProfessional    WebhookEventType = "user.professional"
	WebhookUserPasswordChanged WebhookEventType = "user.password_changed"
	WebhookUserEmailChanged    WebhookEventType = "user.email_changed"
	WebhookUserMFAEnabled      WebhookEventType = "user.mfa_enabled"
	WebhookUserMFADisabled     WebhookEventType = "user.mfa_disabled"
)

// WebhookAllEvents subscribes an endpoint to every event type, present and
// future.
const WebhookAllEvents WebhookEventType = "*"

// WebhookEventTypes lists every webhook event type, in PRODUCT.md's order.
func WebhookEventTypes() []WebhookEventType {
	return []WebhookEventType{
		WebhookUserCreated, WebhookUserVerified, WebhookUserUpdated, WebhookUserDeleted,
		WebhookUserLocked, WebhookUserUnlocked, WebhookUserRoleChanged, WebhookUserProfessional,
		WebhookUserPasswordChanged, WebhookUserEmailChanged, WebhookUserMFAEnabled, WebhookUserMFADisabled,
	}
}

// webhookEventOf maps the audit events of a user change to the webhook
// event it owes subscribers. Audit events absent here (logins, logouts,
// requests for links) concern no subscriber.
//
// An invitation creates an account (invitation_pending until accepted),
// and accepting it verifies the address; an ADMIN's reset of a second
// factor turns it off.
var webhookEventOf = map[AuditEventType]WebhookEventType{
	EventUserRegistered:     WebhookUserCreated,
	EventUserCreated:        WebhookUserCreated,
	EventUserInvited:        WebhookUserCreated,
	EventInvitationAccepted: WebhookUserVerified,
	EventEmailVerified:      WebhookUserVerified,
	EventUserUpdated:        WebhookUserUpdated,
	EventUserDeleted:        WebhookUserDeleted,
	EventAccountLocked:      WebhookUserLocked,
	EventAccountUnlocked:    WebhookUserUnlocked,
	EventRoleChanged:        WebhookUserRoleChanged,
	EventProfessionalSet:    WebhookUserProfessional,
	EventPasswordChanged:    WebhookUserPasswordChanged,
	EventPasswordReset:      WebhookUserPasswordChanged,
	EventMFAEnabled:         WebhookUserMFAEnabled,
	EventMFADisabled:        WebhookUserMFADisabled,
	EventMFAReset:           WebhookUserMFADisabled,
	EventEmailChanged:       WebhookUserEmailChanged,
}

// WebhookEventFor returns the webhook event an audit event of type t owes
// subscribers, if any.
func WebhookEventFor(t AuditEventType) (WebhookEventType, bool) {
	w, ok := webhookEventOf[t]
	return w, ok
}

// UserSnapshot is what a webhook shows of a user: the fields of a user in
// API responses, and never a hash, token or secret. It is taken when the
// change is saved, so a subscriber sees the user as the change left it.
type UserSnapshot struct {
	ID                          string
	Email                       string
	Nickname                    string
	Profile                     Profile
	Role                        Role
	IsProfessional              bool
	ProfessionalStatusUpdatedAt time.Time // zero: never
	EmailVerified               bool
	IsLocked                    bool
	MFAEnabled                  bool      // the second factor is on (never its secret)
	InvitationPending           bool      // invited, and the invitation not accepted yet
	LastLoginAt                 time.Time // zero: never
	CreatedAt                   time.Time
	UpdatedAt                   time.Time
}

// Snapshot returns the user's secret-free snapshot.
func (u *User) Snapshot() UserSnapshot {
	s := u.s
	return UserSnapshot{
		ID: s.ID, Email: s.Email, Nickname: s.Nickname, Profile: s.Profile, Role: s.Role,
		IsProfessional: s.IsProfessional, ProfessionalStatusUpdatedAt: s.ProfessionalStatusUpdatedAt,
		EmailVerified: s.EmailVerified, IsLocked: s.IsLocked, MFAEnabled: u.MFAEnabled(),
		InvitationPending: s.InvitationPending, LastLoginAt: s.LastLoginAt,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt,
	}
}

// WebhookEvent is one event owed to webhook subscribers: saved with the
// user change that caused it (the outbox), delivered after the commit.
type WebhookEvent struct {
	ID   string // set by the store (time-ordered); the webhook-id of every delivery
	Type WebhookEventType
	At   time.Time // when it happened
	User UserSnapshot
}

// pendingHook is a webhook event recorded by the change in progress,
// before the change is saved.
type pendingHook struct {
	typ WebhookEventType
	at  time.Time
}

// recordWebhook notes the webhook event audit event e owes, if any. Record
// calls it, so every change that records its audit event owes its webhook
// event too.
func (u *User) recordWebhook(e AuditEvent) {
	if t, ok := webhookEventOf[e.Type]; ok {
		u.hooks = append(u.hooks, pendingHook{typ: t, at: e.At})
	}
}

// TakeWebhookEvents returns the webhook events the change recorded, each
// with the user as it is now (the change's result), and forgets them;
// stores call it when they save (or delete) the user. An event recorded
// without a time gets the user's UpdatedAt, the time of its last change.
func (u *User) TakeWebhookEvents() []WebhookEvent {
	if len(u.hooks) == 0 {
		return nil
	}
	snap := u.Snapshot()
	out := make([]WebhookEvent, 0, len(u.hooks))
	for _, h := range u.hooks {
		at := h.at
		if at.IsZero() {
			at = u.s.UpdatedAt
		}
		out = append(out, WebhookEvent{Type: h.typ, At: at.UTC(), User: snap})
	}
	u.hooks = nil
	return out
}

// ErrWebhookNotFound: no webhook endpoint has that id.
var ErrWebhookNotFound = fmt.Errorf("webhook not found: %w", ErrNotFound)

// Webhook is an endpoint that receives the events it subscribed to. Its
// signing secret is kept sealed (SecretBox); the domain never sees it in
// the clear.
type Webhook struct {
	ID           string
	URL          string
	Events       []WebhookEventType // []{WebhookAllEvents}: every event
	SealedSecret string
	CreatedAt    time.Time
}

// Subscribes reports whether the endpoint wants events of type t.
func (w Webhook) Subscribes(t WebhookEventType) bool {
	return slices.Contains(w.Events, WebhookAllEvents) || slices.Contains(w.Events, t)
}

// WebhookSecretLabel binds a webhook's sealed secret to the webhook: a
// sealed value moved to another row fails to open.
func WebhookSecretLabel(webhookID string) string { return "webhook-secret:" + webhookID }

// MaxWebhookURLLen bounds a webhook URL, in characters.
const MaxWebhookURLLen = 2048

// Why a webhook URL or its events are refused.
const (
	CodeURLNotHTTPS  Code = "url_not_https"  // production accepts https URLs only
	CodeURLNotPublic Code = "url_not_public" // the host is, or resolves to, an address that is not public
)

// CheckWebhookURL validates a webhook URL: an absolute http(s) URL with a
// host, no user information, at most MaxWebhookURLLen characters; with
// publicOnly, https only and a host that is not a non-public address
// literal nor localhost (names are resolved, and resolved again at each
// connection, outside the domain). It returns the URL trimmed.
func CheckWebhookURL(raw string, publicOnly bool) (string, error) {
	const field = "url"
	raw = strings.TrimSpace(raw)
	switch {
	case !utf8.ValidString(raw):
		return "", FieldInvalid(FieldError{Field: field, Code: CodeURLInvalidUTF8})
	case raw == "":
		return "", FieldInvalid(FieldError{Field: field, Code: CodeRequired})
	case utf8.RuneCountInString(raw) > MaxWebhookURLLen:
		return "", FieldInvalid(FieldError{Field: field, Code: CodeTooLong, Max: MaxWebhookURLLen})
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.User != nil || u.Hostname() == "" || strings.ContainsAny(raw, " \t\r\n") {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeURLNotAbsolute})
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeURLNotAbsolute})
	}
	if !publicOnly {
		return raw, nil
	}
	if scheme != "https" {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeURLNotHTTPS})
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeURLNotPublic})
	}
	if a, err := netip.ParseAddr(host); err == nil && !IsPublicAddress(a) {
		return "", FieldInvalid(FieldError{Field: field, Code: CodeURLNotPublic})
	}
	return raw, nil
}

// nonPublic are the ranges, beyond what netip classifies, that are not
// reachable on the public internet or that reach a private one: "this
// network", CGNAT, IETF and documentation ranges, benchmarking, the
// reserved class E and broadcast; and in IPv6 the v4-compatible,
// NAT64 and 6to4 forms (which embed an IPv4 address), discard, Teredo and
// the other IETF assignments, documentation and the old site-local range.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "100.64.0.0/10", "192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "240.0.0.0/4",
		"::/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
		"2002::/16", "3fff::/20", "fec0::/10",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// IsPublicAddress reports whether a webhook may connect to a: not
// loopback, private (RFC 1918, unique-local fc00::/7), link-local,
// multicast, unspecified, CGNAT nor any other range in nonPublic, in any
// IPv4-mapped IPv6 form either.
func IsPublicAddress(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	if a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsInterfaceLocalMulticast() || a.IsMulticast() || a.IsUnspecified() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// CheckManagesWebhooks fails unless the actor may manage webhooks and read
// their deliveries (ADMIN only).
func (a Actor) CheckManagesWebhooks() error {
	if a.Role != RoleAdmin {
		return ErrNotPermitted
	}
	return nil
}
