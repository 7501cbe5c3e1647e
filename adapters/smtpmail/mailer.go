// Package smtpmail sends the service's email over SMTP, on
// github.com/wneessen/go-mail (maintained, STARTTLS and AUTH built in).
package smtpmail

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

// Mailer implements ports.Mailer over SMTP.
type Mailer struct {
	opts     []mail.Option
	host     string
	from     string
	domain   string
	renderer *Renderer
}

var _ ports.Mailer = (*Mailer)(nil)

// New parses smtpURL: smtp://[user:pass@]host:port uses STARTTLS when the
// server offers it (development servers such as MailHog offer none);
// smtp+starttls:// requires it, so an attacker on the path cannot strip it;
// smtps:// is implicit TLS (port 465).
func New(smtpURL, from, baseURL string) (*Mailer, error) {
	u, err := url.Parse(smtpURL)
	if err != nil || u.Hostname() == "" {
		return nil, errors.New("SMTP_URL must look like smtp://[user:pass@]host:port")
	}
	opts := []mail.Option{mail.WithTimeout(15 * time.Second)}
	port := 25
	switch u.Scheme {
	case "smtp":
		opts = append(opts, mail.WithTLSPortPolicy(mail.TLSOpportunistic))
	case "smtp+starttls":
		opts = append(opts, mail.WithTLSPortPolicy(mail.TLSMandatory))
	case "smtps":
		port = 465
		opts = append(opts, mail.WithSSL())
	default:
		return nil, fmt.Errorf("SMTP_URL scheme must be smtp, smtp+starttls or smtps, got %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil || port < 1 || port > 65535 {
			return nil, fmt.Errorf("SMTP_URL has a bad port %q", p)
		}
	}
	opts = append(opts, mail.WithPort(port))
	if u.User != nil {
		pass, _ := u.User.Password()
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(u.User.Username()), mail.WithPassword(pass))
	}
	r, err := NewRenderer(baseURL)
	if err != nil {
		return nil, err
	}
	// Message-IDs are built on the sender's domain.
	probe := mail.NewMsg()
	if err := probe.From(from); err != nil {
		return nil, fmt.Errorf("MAIL_FROM is not a valid address: %q", from)
	}
	addr := probe.GetFrom()[0].Address
	msgDomain := addr[strings.LastIndexByte(addr, '@')+1:]
	return &Mailer{opts: opts, host: u.Hostname(), from: from, domain: msgDomain, renderer: r}, nil
}

// Send implements ports.Mailer. A message with an ID keeps a stable
// Message-ID, so a retried send can be recognised as the same message.
func (m *Mailer) Send(ctx context.Context, msg domain.Message) error {
	r, err := m.renderer.Render(msg)
	if err != nil {
		return err
	}
	em := mail.NewMsg()
	if err := em.From(m.from); err != nil {
		return fmt.Errorf("from: %w", err)
	}
	if err := em.To(msg.To); err != nil {
		return fmt.Errorf("to: %w", err)
	}
	em.Subject(r.Subject)
	if msg.ID != "" {
		em.SetMessageIDWithValue(msg.ID + "@" + m.domain)
	} else {
		em.SetMessageID()
	}
	em.SetDate()
	em.SetBodyString(mail.TypeTextPlain, r.Text)
	em.AddAlternativeString(mail.TypeTextHTML, r.HTML)
	c, err := mail.NewClient(m.host, m.opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, em); err != nil {
		return fmt.Errorf("smtp send: %w", err)
	}
	return nil
}
