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
		code                      domain.Code // "" = valid
	}{
		{"eight characters", "xK9#mQ2!", "", "", ""},
		{"128 characters", strings.Repeat("ab1", 42) + "zw", "", "", ""},
		{"eight runes, sixteen bytes", "éàüöçñåø", "", "", ""},
		{"contains the email", "alice@example.com!", "alice@example.com", "alice", ""},
		{"contains the nickname", "alice-rocks-2025", "a@example.com", "alice", ""},
		{"seven characters", "xK9#mQ2", "", "", domain.CodeTooShort},
		{"empty", "", "", "", domain.CodeTooShort},
		{"seven runes, fourteen bytes", "éàüöçñå", "", "", domain.CodeTooShort},
		{"129 characters", strings.Repeat("ab1", 43), "", "", domain.CodeTooLong},
		{"129 runes", strings.Repeat("é", 129), "", "", domain.CodeTooLong},
		{"invalid UTF-8", "abcdefgh\xff", "", "", domain.CodeInvalidUTF8},
		{"password123", "password123", "", "", domain.CodePasswordCommon},
		{"12345678", "12345678", "", "", domain.CodePasswordCommon},
		{"qwertyuiop", "qwertyuiop", "", "", domain.CodePasswordCommon},
		{"common, other case", "PassWord123", "", "", domain.CodePasswordCommon},
		{"equal to the email", "alice@example.com", "alice@example.com", "", domain.CodePasswordIsEmail},
		{"equal to the email, other case", "ALICE@Example.com", "alice@example.com", "", domain.CodePasswordIsEmail},
		{"equal to the local part", "AliceSmith", "alicesmith@example.com", "", domain.CodePasswordIsEmail},
		{"equal to the nickname", "SuperNick99", "a@example.com", "supernick99", domain.CodePasswordIsNickname},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := domain.ValidatePassword("password", tt.password, tt.email, tt.nickname)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("ValidatePassword(%q): %v", tt.password, err)
				}
				return
			}
			wantCode(t, err, "password", tt.code)
		})
	}
}

func TestValidatePasswordNamesTheField(t *testing.T) {
	t.Parallel()
	wantInvalid(t, domain.ValidatePassword("new_password", "short", "", ""), "new_password")
}
