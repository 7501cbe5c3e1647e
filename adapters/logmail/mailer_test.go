package logmail_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/usersvc/usersvc/adapters/logmail"
	"github.com/usersvc/usersvc/domain"
)

func TestLinksAreLoggedOnlyInDevelopment(t *testing.T) {
	msg := domain.Message{Kind: domain.MessageVerifyEmail, To: "a@example.com", Link: "https://x/verify-email/id/SECRET"}
	for _, dev := range []bool{true, false} {
		var buf bytes.Buffer
		m := logmail.New(slog.New(slog.NewJSONHandler(&buf, nil)), dev)
		if err := m.Send(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(buf.String(), "SECRET"); got != dev {
			t.Errorf("development=%v: link in the log = %v\n%s", dev, got, buf.String())
		}
	}
}
