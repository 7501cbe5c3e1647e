package smtpmail_test

import (
	"strings"
	"testing"

	"github.com/usersvc/usersvc/adapters/smtpmail"
	"github.com/usersvc/usersvc/domain"
)

func TestEveryMessageKindRenders(t *testing.T) {
	r, err := smtpmail.NewRenderer("https://users.example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []domain.MessageKind{domain.MessageVerifyEmail, domain.MessageProfessional, domain.MessageLocked, domain.MessagePasswordReset,
		domain.MessageMFAEnabled, domain.MessageMFADisabled, domain.MessageMFAReset,
		domain.MessageEmailChange, domain.MessageEmailChangeRequested, domain.MessageEmailChanged, domain.MessageInvitation} {
		t.Run(string(kind), func(t *testing.T) {
			out, err := r.Render(domain.Message{Kind: kind, To: "a@example.com", Name: "Ada", Link: "https://users.example.com/x?token=abc"})
			if err != nil {
				t.Fatal(err)
			}
			if out.Subject == "" || !strings.Contains(out.Text, "Hello Ada") || !strings.Contains(out.HTML, "Hello Ada") {
				t.Errorf("rendered %+v", out)
			}
			if strings.Contains(out.Subject, "\n") {
				t.Error("the subject spans lines")
			}
		})
	}
	if _, err := r.Render(domain.Message{Kind: "nope"}); err == nil {
		t.Error("an unknown kind rendered")
	}
}

func TestHTMLPartEscapesNamesAndLinks(t *testing.T) {
	r, err := smtpmail.NewRenderer("https://users.example.com")
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Render(domain.Message{Kind: domain.MessageVerifyEmail, Name: `<script>x</script>`, Link: `javascript:alert(1)`})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.HTML, "<script>x") || strings.Contains(out.HTML, `href="javascript:`) {
		t.Errorf("the HTML part carries markup or a script link:\n%s", out.HTML)
	}
}

func TestNewParsesSMTPURL(t *testing.T) {
	for _, ok := range []string{"smtp://127.0.0.1:1025", "smtp://user:pass@mail.example.com:587", "smtp+starttls://mail.example.com:587", "smtps://mail.example.com"} {
		if _, err := smtpmail.New(ok, "usersvc <no-reply@example.com>", "https://x"); err != nil {
			t.Errorf("New(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"http://mail.example.com", "smtp://", "smtp://host:99999", "not a url"} {
		if _, err := smtpmail.New(bad, "usersvc <no-reply@example.com>", "https://x"); err == nil {
			t.Errorf("New(%q) accepted a bad URL", bad)
		}
	}
	if _, err := smtpmail.New("smtp://127.0.0.1:1025", "not an address", "https://x"); err == nil {
		t.Error("accepted a bad MAIL_FROM")
	}
}
