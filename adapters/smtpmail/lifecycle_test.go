package smtpmail_test

import (
	"strings"
	"testing"

	"github.com/usersvc/usersvc/adapters/smtpmail"
	"github.com/usersvc/usersvc/domain"
)

// TestLifecycleMessages: the links of an email change and an invitation
// are in both parts; the notices to an old address carry none.
func TestLifecycleMessages(t *testing.T) {
	r, err := smtpmail.NewRenderer("https://users.example.com")
	if err != nil {
		t.Fatal(err)
	}
	const link = "https://users.example.com/x?token=abc"
	for kind, subject := range map[domain.MessageKind]string{
		domain.MessageEmailChange:          "Confirm your new email address",
		domain.MessageInvitation:           "You are invited",
		domain.MessageEmailChangeRequested: "A change of your account's email was requested",
		domain.MessageEmailChanged:         "Your account's email address was changed",
	} {
		t.Run(string(kind), func(t *testing.T) {
			withLink := kind == domain.MessageEmailChange || kind == domain.MessageInvitation
			m := domain.Message{Kind: kind, To: "a@example.com", Name: "Ada"}
			if withLink {
				m.Link = link
			}
			out, err := r.Render(m)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.Subject, subject) {
				t.Errorf("subject %q, want %q", out.Subject, subject)
			}
			for part, body := range map[string]string{"text": out.Text, "HTML": out.HTML} {
				if withLink != strings.Contains(body, link) {
					t.Errorf("the %s part holds the link: %v, want %v:\n%s", part, !withLink, withLink, body)
				}
			}
		})
	}
}
