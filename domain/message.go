package domain

// MessageKind names an email the service owes a user.
type MessageKind string

// The messages usersvc sends.
const (
	MessageVerifyEmail  MessageKind = "verify_email"
	MessageProfessional MessageKind = "professional_upgrade"
	MessageLocked       MessageKind = "account_locked"
)

// Message is an email owed to a user; adapters render it.
type Message struct {
	ID   string // stable per message (the outbox row), for Message-ID
	Kind MessageKind
	To   string // address
	Name string // how to greet the recipient
	Link string // absolute URL the message points to, if any
}
