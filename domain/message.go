package domain

// MessageKind names an email the service owes a user.
type MessageKind string

// The messages usersvc sends.
const (
	MessageVerifyEmail   MessageKind = "verify_email"
	MessageProfessional  MessageKind = "professional_upgrade"
	MessageLocked        MessageKind = "account_locked"
	MessagePasswordReset MessageKind = "password_reset"
	// The second factor was turned on, off, or reset by an ADMIN.
	MessageMFAEnabled  MessageKind = "mfa_enabled"
	MessageMFADisabled MessageKind = "mfa_disabled"
	MessageMFAReset    MessageKind = "mfa_reset"
	// MessageEmailChange carries the link that confirms an email change,
	// to the new address.
	MessageEmailChange MessageKind = "email_change"
	// MessageEmailChangeRequested tells the old address that a change
	// away from it was asked for (no link).
	MessageEmailChangeRequested MessageKind = "email_change_requested"
	// MessageEmailChanged tells the old address that the account's email
	// changed: confirmed by its owner, or set by staff (no link).
	MessageEmailChanged MessageKind = "email_changed"
	// MessageInvitation carries the link with which an invited person sets
	// a password.
	MessageInvitation MessageKind = "invitation"
)

// Message is an email owed to a user; adapters render it.
type Message struct {
	ID   string // stable per message (the outbox row), for Message-ID
	Kind MessageKind
	To   string // address
	Name string // how to greet the recipient
	Link string // absolute URL the message points to, if any
}

// Queue records a message the change being made owes the user. The store
// saves queued messages in the same transaction as the user (an outbox), and
// they are sent after the commit, so a message exists if and only if its
// change does.
func (u *User) Queue(m Message) { u.outbox = append(u.outbox, m) }

// TakeMessages returns the queued messages and forgets them; stores call it
// when they save the user.
func (u *User) TakeMessages() []Message {
	m := u.outbox
	u.outbox = nil
	return m
}
