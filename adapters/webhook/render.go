package webhook

import (
	"encoding/json"
	"time"

	"github.com/usersvc/usersvc/domain"
)

// userJSON is a user as the API's responses show it (adapters/httpapi),
// without links: the same fields, names and null for what is not set. An
// end-to-end test compares the two.
type userJSON struct {
	ID                          string     `json:"id"`
	Email                       string     `json:"email"`
	Nickname                    string     `json:"nickname"`
	FirstName                   *string    `json:"first_name"`
	LastName                    *string    `json:"last_name"`
	Bio                         *string    `json:"bio"`
	PreferredLanguage           *string    `json:"preferred_language"`
	ProfilePictureURL           *string    `json:"profile_picture_url"`
	LinkedInProfileURL          *string    `json:"linkedin_profile_url"`
	GitHubProfileURL            *string    `json:"github_profile_url"`
	Role                        string     `json:"role"`
	IsProfessional              bool       `json:"is_professional"`
	ProfessionalStatusUpdatedAt *time.Time `json:"professional_status_updated_at"`
	EmailVerified               bool       `json:"email_verified"`
	IsLocked                    bool       `json:"is_locked"`
	MFAEnabled                  bool       `json:"mfa_enabled"`
	InvitationPending           bool       `json:"invitation_pending"`
	LastLoginAt                 *time.Time `json:"last_login_at"`
	CreatedAt                   time.Time  `json:"created_at"`
	UpdatedAt                   time.Time  `json:"updated_at"`
}

// payloadJSON is the Standard Webhooks payload: the event's type, when it
// happened (RFC 3339, UTC) and its data, the user.
type payloadJSON struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      dataJSON  `json:"data"`
}

type dataJSON struct {
	User userJSON `json:"user"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// Payload is the body of every attempt to deliver e; it is the same at
// every attempt.
func Payload(e domain.WebhookEvent) ([]byte, error) {
	u := e.User
	p := u.Profile
	return json.Marshal(payloadJSON{
		Type:      string(e.Type),
		Timestamp: e.At.UTC(),
		Data: dataJSON{User: userJSON{
			ID:                          u.ID,
			Email:                       u.Email,
			Nickname:                    u.Nickname,
			FirstName:                   optional(p.FirstName),
			LastName:                    optional(p.LastName),
			Bio:                         optional(p.Bio),
			PreferredLanguage:           optional(p.PreferredLanguage),
			ProfilePictureURL:           optional(p.ProfilePictureURL),
			LinkedInProfileURL:          optional(p.LinkedInProfileURL),
			GitHubProfileURL:            optional(p.GitHubProfileURL),
			Role:                        u.Role.String(),
			IsProfessional:              u.IsProfessional,
			ProfessionalStatusUpdatedAt: optionalTime(u.ProfessionalStatusUpdatedAt),
			EmailVerified:               u.EmailVerified,
			IsLocked:                    u.IsLocked,
			MFAEnabled:                  u.MFAEnabled,
			InvitationPending:           u.InvitationPending,
			LastLoginAt:                 optionalTime(u.LastLoginAt),
			CreatedAt:                   u.CreatedAt.UTC(),
			UpdatedAt:                   u.UpdatedAt.UTC(),
		}},
	})
}
