package domain_test

import (
	"strings"
	"testing"

	"github.com/usersvc/usersvc/domain"
)

func TestValidatePassword(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                      string
		password, email, nickname string
		typ                       string // "" = valid
	}{
		{"eight characters", "xK9#mQ2!", "", "", ""},
		{"128 characters", strings.Repeat("ab1", 42) + "zw", "", "", ""},
		{"eight runes, sixteen bytes", "éàüöçñåø", "", "", ""},
		{"contains the email", "alice@example.com!", "alice@example.com", "alice", ""},
		{"contains the nickname", "alice-rocks-2025", "a@example.com", "alice", ""},
		{"seven characters", "xK9#mQ2", "", "", "string_too_short"},
		{"empty", "", "", "", "string_too_short"},
		{"seven runes, fourteen bytes", "éàüöçñå", "", "", "string_too_short"},
		{"129 characters", strings.Repeat("ab1", 43), "", "", "string_too_long"},
		{"129 runes", strings.Repeat("é", 129), "", "", "string_too_long"},
		{"invalid UTF-8", "abcdefgh\xff", "", "", "string_unicode"},
		{"password123", "password123", "", "", "value_error"},
		{"12345678", "12345678", "", "", "value_error"},
		{"qwertyuiop", "qwertyuiop", "", "", "value_error"},
		{"common, other case", "PassWord123", "", "", "value_error"},
		{"equal to the email", "alice@example.com", "alice@example.com", "", "value_error"},
		{"equal to the email, other case", "ALICE@Example.com", "alice@example.com", "", "value_error"},
		{"equal to the local part", "AliceSmith", "alicesmith@example.com", "", "value_error"},
		{"equal to the nickname", "SuperNick99", "a@example.com", "supernick99", "value_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidatePassword("password", tt.password, tt.email, tt.nickname)
			if tt.typ == "" {
				if err != nil {
					t.Fatalf("ValidatePassword(%q): %v", tt.password, err)
				}
				return
			}
			wantType(t, err, "password", tt.typ)
		})
	}
}

func TestValidatePasswordNamesTheField(t *testing.T) {
	t.Parallel()
	wantInvalid(t, domain.ValidatePassword("new_password", "short", "", ""), "new_password")
}
