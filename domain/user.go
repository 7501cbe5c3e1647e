package domain

import (
	"crypto/subtle"
	"time"
)

// Profile holds the free-form fields a user may edit about themselves.
// An empty string means "not set".
type Profile struct {
	FirstName          string
	LastName           string
	Bio                string
	PreferredLanguage  string
	ProfilePictureURL  string
	LinkedInProfileURL string
	GitHubProfileURL   string
}

// Validate checks every profile field and reports all failures at once.
func (p Profile) Validate() error {
	v := &ValidationError{}
	p.validateInto(v)
	return v.Err()
}

func (p Profile) validateInto(v *ValidationError) {
	checkText(v, "first_name", p.FirstName, MaxNameLen)
	checkText(v, "last_name", p.LastName, MaxNameLen)
	checkText(v, "bio", p.Bio, MaxBioLen)
	checkText(v, "preferred_language", p.PreferredLanguage, MaxLanguageLen)
	if p.ProfilePictureURL != "" {
		checkURL(v, "profile_picture_url", p.ProfilePictureURL, urlImage)
	}
	if p.LinkedInProfileURL != "" {
		checkURL(v, "linkedin_profile_url", p.LinkedInProfileURL, urlLinkedIn)
	}
	if p.GitHubProfileURL != "" {
		checkURL(v, "github_profile_url", p.GitHubProfileURL, urlGitHub)
	}
}

// ProfilePatch is a partial profile update: nil leaves a field unchanged, a
// pointer to "" clears it.
type ProfilePatch struct {
	FirstName          *string
	LastName           *string
	Bio                *string
	PreferredLanguage  *string
	ProfilePictureURL  *string
	LinkedInProfileURL *string
	GitHubProfileURL   *string
}

// IsEmpty reports whether the patch changes nothing.
func (p ProfilePatch) IsEmpty() bool {
	return p.FirstName == nil && p.LastName == nil && p.Bio == nil && p.PreferredLanguage == nil &&
		p.ProfilePictureURL == nil && p.LinkedInProfileURL == nil && p.GitHubProfileURL == nil
}

// Apply returns base with the patch applied.
func (p ProfilePatch) Apply(base Profile) Profile {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&base.FirstName, p.FirstName)
	set(&base.LastName, p.LastName)
	set(&base.Bio, p.Bio)
	set(&base.PreferredLanguage, p.PreferredLanguage)
	set(&base.ProfilePictureURL, p.ProfilePictureURL)
	set(&base.LinkedInProfileURL, p.LinkedInProfileURL)
	set(&base.GitHubProfileURL, p.GitHubProfileURL)
	return base
}

// UserState is the full stored state of a user. Storage adapters read it with
// User.State and rebuild users with RehydrateUser; nothing else should build one.
type UserState struct {
	ID                          string
	Email                       string
	Nickname                    string
	PasswordHash                string
	Profile                     Profile
	Role                        Role
	IsProfessional              bool
	ProfessionalStatusUpdatedAt time.Time // zero: never
	EmailVerified               bool
	VerificationTokenHash       string // empty: none pending
	VerificationExpiresAt       time.Time
	ResetTokenHash              string // empty: no password reset pending
	ResetExpiresAt              time.Time
	FailedLoginAttempts         int       // wrong passwords since the last success
	LoginsInFlight              int       // attempts admitted and not yet decided
	LoginLeaseUntil             time.Time // in-flight attempts older than this are forgotten
	IsLocked                    bool
	LockReason                  LockReason // empty unless IsLocked
	LockedAt                    time.Time
	UnlockTokenHash             string // empty: no unlock link pending
	UnlockExpiresAt             time.Time
	LastLoginAt                 time.Time // zero: never
	CreatedAt                   time.Time
	UpdatedAt                   time.Time
	// TokenVersion is bumped whenever every session and access token must
	// end (a staff lock, a demotion, a password reset).
	TokenVersion int
	// PasswordVersion is bumped whenever the password itself changes (not
	// when its hash is only upgraded), so a check of an older one is stale.
	PasswordVersion int
	// The second factor (mfa.go). Secrets are sealed by the use cases
	// (ports.SecretBox); the domain keeps them opaque.
	TOTPSecret         string        // sealed; empty: no second factor
	TOTPPendingSecret  string        // sealed; an enrolment not confirmed yet
	TOTPLastStep       int64         // the step of the last TOTP code accepted; it and earlier ones are refused
	RecoveryCodeHashes RecoveryCodes // hashes of the recovery codes; a used one is empty
	MFATokenHash       string        // the second step of a login pending; empty: none
	MFATokenExpiresAt  time.Time
	// PendingEmail is the address a self-service email change moves to
	// once the link sent there (EmailChangeTokenHash) is followed; empty:
	// no change pending (emailchange.go).
	PendingEmail         string
	EmailChangeTokenHash string
	EmailChangeExpiresAt time.Time
	// EmailChangeSessionID is the session that asked for the change: it
	// stays when the confirmed change ends the others.
	EmailChangeSessionID string
	// InvitationPending: staff invited the account and its owner has not
	// accepted yet, so it has no password (invitation.go).
	InvitationPending   bool
	InvitationTokenHash string // empty: no invitation link pending
	InvitationExpiresAt time.Time
}

// User is the aggregate that holds every user rule.
type User struct {
	s        UserState
	outbox   []Message       // queued by the change in progress; see Queue
	events   []AuditEvent    // recorded by the change in progress; see Record
	sessions []SessionChange // made by the change in progress; see OpenSession
	hooks    []pendingHook   // owed by the events recorded; see TakeWebhookEvents
}

// NewUserParams are the inputs of NewUser.
type NewUserParams struct {
	ID           string
	Email        string // raw; normalised here
	Nickname     string
	PasswordHash string
	Profile      Profile
	Role         Role
	Now          time.Time
}

// NewUser validates and builds a new, unverified user.
func NewUser(p NewUserParams) (*User, error) {
	v := &ValidationError{}
	email, err := NormalizeEmail(p.Email)
	v.Merge(err)
	v.Merge(ValidateNickname(p.Nickname))
	p.Profile.validateInto(v)
	if p.Role.IsZero() {
		v.Add(FieldError{Field: "role", Code: CodeRequired})
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	now := p.Now.UTC()
	return &User{s: UserState{
		ID:           p.ID,
		Email:        email,
		Nickname:     p.Nickname,
		PasswordHash: p.PasswordHash,
		Profile:      p.Profile,
		Role:         p.Role,
		CreatedAt:    now,
		UpdatedAt:    now,
	}}, nil
}

// RehydrateUser rebuilds a user from storage without validation.
func RehydrateUser(s UserState) *User { return &User{s: s} }

// State returns a copy of the user's state.
func (u *User) State() UserState { return u.s }

// ID returns the user's id.
func (u *User) ID() string { return u.s.ID }

// Email returns the normalised email.
func (u *User) Email() string { return u.s.Email }

// Nickname returns the nickname.
func (u *User) Nickname() string { return u.s.Nickname }

// Role returns the role.
func (u *User) Role() Role { return u.s.Role }

// PasswordHash returns the stored password hash.
func (u *User) PasswordHash() string { return u.s.PasswordHash }

// TokenVersion returns the current token version.
func (u *User) TokenVersion() int { return u.s.TokenVersion }

// DisplayName is how emails address the user. Until the address is
// verified, its owner may not be the one who typed the names, so an
// unverified account is greeted by its nickname, which cannot carry a link.
func (u *User) DisplayName() string {
	switch {
	case !u.s.EmailVerified:
		return u.s.Nickname
	case u.s.Profile.FirstName != "" && u.s.Profile.LastName != "":
		return u.s.Profile.FirstName + " " + u.s.Profile.LastName
	case u.s.Profile.FirstName != "":
		return u.s.Profile.FirstName
	}
	return u.s.Nickname
}

func (u *User) touch(now time.Time) { u.s.UpdatedAt = now.UTC() }

// ChangeEmail sets a new (raw) email on behalf of staff. A new address
// is not verified, and every link sent to the old one dies: the reset,
// unlock, verification and invitation links and a pending email change.
// Otherwise a link mailed before the change (to an address the owner may
// have lost) would still open the account afterwards. Whoever changes the
// email sends what the new address needs (a verification link, or a new
// invitation) and a notice to the old one.
func (u *User) ChangeEmail(raw string, now time.Time) error {
	email, err := NormalizeEmail(raw)
	if err != nil {
		return err
	}
	if email != u.s.Email {
		u.s.Email = email
		u.s.EmailVerified = false
		u.clearLinks()
		u.touch(now)
	}
	return nil
}

// clearLinks ends every link token mailed to the account's address.
func (u *User) clearLinks() {
	u.s.ResetTokenHash, u.s.ResetExpiresAt = "", time.Time{}
	u.s.VerificationTokenHash, u.s.VerificationExpiresAt = "", time.Time{}
	u.s.InvitationTokenHash, u.s.InvitationExpiresAt = "", time.Time{}
	u.clearUnlockToken()
	u.CancelEmailChange()
}

// ChangeNickname sets a new nickname.
func (u *User) ChangeNickname(n string, now time.Time) error {
	if err := ValidateNickname(n); err != nil {
		return err
	}
	u.s.Nickname = n
	u.touch(now)
	return nil
}

// EditProfile changes the nickname, when given, and applies the profile patch.
func (u *User) EditProfile(nickname *string, p ProfilePatch, now time.Time) error {
	if nickname != nil {
		if err := u.ChangeNickname(*nickname, now); err != nil {
			return err
		}
	}
	if p.IsEmpty() {
		return nil
	}
	return u.UpdateProfile(p, now)
}

// UpdateProfile applies a patch after validating the result.
func (u *User) UpdateProfile(p ProfilePatch, now time.Time) error {
	next := p.Apply(u.s.Profile)
	if err := next.Validate(); err != nil {
		return err
	}
	u.s.Profile = next
	u.touch(now)
	return nil
}

// ChangePassword replaces the password after the owner proved the old one:
// the session keep (the owner's) goes on, every other one ends, in the same
// change.
func (u *User) ChangePassword(hash, keep string, now time.Time) {
	u.s.PasswordHash = hash
	u.s.PasswordVersion++
	u.s.ResetTokenHash = ""
	u.s.ResetExpiresAt = time.Time{}
	u.clearMFAToken() // a pending second step proved the old password
	// The notice of an email change tells an owner who did not ask for it
	// to change the password: that cancels the change.
	u.CancelEmailChange()
	u.EndOtherSessions(keep, now)
	u.touch(now)
}

// SetResetToken stores the hash of a new password-reset token; it replaces
// any earlier one.
func (u *User) SetResetToken(hash string, expiresAt time.Time) {
	u.s.ResetTokenHash = hash
	u.s.ResetExpiresAt = expiresAt.UTC()
}

// ResetPassword consumes a reset token: the password is replaced, the
// account unlocked and every access token ended. The second factor stays
// on: a reset proves only the mailbox, and the next login asks for a code.
func (u *User) ResetPassword(tokenHash, newHash string, now time.Time) error {
	if u.s.ResetTokenHash == "" ||
		subtle.ConstantTimeCompare([]byte(u.s.ResetTokenHash), []byte(tokenHash)) != 1 ||
		!now.Before(u.s.ResetExpiresAt) {
		return ErrInvalidResetToken
	}
	u.s.ResetTokenHash = ""
	u.s.ResetExpiresAt = time.Time{}
	u.s.PasswordHash = newHash
	u.s.PasswordVersion++
	u.clearMFAToken()
	u.CancelEmailChange()
	u.unlock(now)
	// Attempts in flight keep their slots: each releases its own when it
	// ends, so the count stays exact across the reset.
	u.endAllSessions()
	u.touch(now)
	return nil
}

// IsEmailVerified reports whether the email was verified.
func (u *User) IsEmailVerified() bool { return u.s.EmailVerified }

// SetVerificationToken stores the hash of a new email verification token.
func (u *User) SetVerificationToken(hash string, expiresAt time.Time) {
	u.s.VerificationTokenHash = hash
	u.s.VerificationExpiresAt = expiresAt.UTC()
}

// VerifyEmail consumes the verification token whose hash is given. An
// ANONYMOUS user becomes AUTHENTICATED; other roles are kept.
func (u *User) VerifyEmail(tokenHash string, now time.Time) error {
	if u.s.VerificationTokenHash == "" ||
		subtle.ConstantTimeCompare([]byte(u.s.VerificationTokenHash), []byte(tokenHash)) != 1 ||
		!now.Before(u.s.VerificationExpiresAt) {
		return ErrInvalidVerification
	}
	u.s.VerificationTokenHash = ""
	u.s.VerificationExpiresAt = time.Time{}
	u.s.EmailVerified = true
	if u.s.Role == RoleAnonymous {
		u.s.Role = RoleAuthenticated
	}
	u.touch(now)
	return nil
}

// MarkEmailVerified verifies the email without a token (bootstrap admins).
func (u *User) MarkEmailVerified(now time.Time) {
	u.s.EmailVerified = true
	u.s.VerificationTokenHash = ""
	u.s.VerificationExpiresAt = time.Time{}
	if u.s.Role == RoleAnonymous {
		u.s.Role = RoleAuthenticated
	}
	u.touch(now)
}

// SetRole changes the role; a change ends every session of the user.
func (u *User) SetRole(r Role, now time.Time) {
	if r == u.s.Role {
		return
	}
	u.s.Role = r
	u.endAllSessions()
	u.touch(now)
}

// UpgradeToProfessional sets professional status. It reports whether the
// status changed: a second upgrade keeps the first timestamp and changes nothing.
func (u *User) UpgradeToProfessional(now time.Time) bool {
	if u.s.IsProfessional {
		return false
	}
	u.s.IsProfessional = true
	u.s.ProfessionalStatusUpdatedAt = now.UTC()
	u.touch(now)
	return true
}

// UpgradePasswordHash replaces the hash of the same password made with old
// parameters (or another algorithm). Sessions stay and PasswordVersion too:
// the password did not change. It does nothing if the hash changed meanwhile.
func (u *User) UpgradePasswordHash(oldHash, newHash string) {
	if u.s.PasswordHash == oldHash {
		u.s.PasswordHash = newHash
	}
}
