// Package logmail is the development mailer: it writes each message to the
// log instead of sending it, so `make run` needs no mail server.
package logmail

import (
	"context"
	"log/slog"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Mailer implements ports.Mailer by logging.
type Mailer struct {
	log      *slog.Logger
	showLink bool
}

var _ ports.Mailer = (*Mailer)(nil)

// New returns a mailer writing to log. showLink logs links, which carry
// secrets: only for development, where the log is the only way to follow them.
func New(log *slog.Logger, showLink bool) *Mailer { return &Mailer{log: log, showLink: showLink} }

// Send implements ports.Mailer.
func (m *Mailer) Send(ctx context.Context, msg domain.Message) error {
	link := "(hidden outside development)"
	if m.showLink {
		link = msg.Link
	}
	m.log.InfoContext(ctx, "email (not sent: no SMTP_URL)",
		"kind", string(msg.Kind), "to", msg.To, "name", msg.Name, "link", link)
	return nil
}
