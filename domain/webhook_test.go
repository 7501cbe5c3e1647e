package domain_test

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/usersvc/usersvc/domain"
)

// TestWebhookEventForEveryAuditEvent pins which audit events owe which
// webhook event: every event type of PRODUCT.md 8.6 has a cause, and the
// events that concern no subscriber owe none.
func TestWebhookEventForEveryAuditEvent(t *testing.T) {
	t.Parallel()
	want := map[domain.AuditEventType]domain.WebhookEventType{
		domain.EventUserRegistered:     domain.WebhookUserCreated,
		domain.EventUserCreated:        domain.WebhookUserCreated,
		domain.EventEmailVerified:      domain.WebhookUserVerified,
		domain.EventUserUpdated:        domain.WebhookUserUpdated,
		domain.EventUserDeleted:        domain.WebhookUserDeleted,
		domain.EventAccountLocked:      domain.WebhookUserLocked,
		domain.EventAccountUnlocked:    domain.WebhookUserUnlocked,
		domain.EventRoleChanged:        domain.WebhookUserRoleChanged,
		domain.EventProfessionalSet:    domain.WebhookUserProfessional,
		domain.EventPasswordChanged:    domain.WebhookUserPasswordChanged,
		domain.EventPasswordReset:      domain.WebhookUserPasswordChanged,
		domain.EventMFAEnabled:         domain.WebhookUserMFAEnabled,
		domain.EventMFADisabled:        domain.WebhookUserMFADisabled,
		domain.EventMFAReset:           domain.WebhookUserMFADisabled, // an ADMIN turned it off
		domain.EventEmailChanged:       domain.WebhookUserEmailChanged,
		domain.EventUserInvited:        domain.WebhookUserCreated,  // an account, pending its invitation
		domain.EventInvitationAccepted: domain.WebhookUserVerified, // the address proved, a password set
	}
	types := domain.AuditEvents()
	for _, a := range types {
		got, ok := domain.WebhookEventFor(a)
		w, wantOK := want[a]
		if ok != wantOK || got != w {
			t.Errorf("WebhookEventFor(%q) = %q, %v; want %q, %v", a, got, ok, w, wantOK)
		}
	}
	caused := map[domain.WebhookEventType]bool{}
	for _, w := range want {
		caused[w] = true
	}
	for _, w := range domain.WebhookEventTypes() {
		if !caused[w] {
			t.Errorf("no audit event causes %q", w)
		}
		if !strings.HasPrefix(string(w), "user.") {
			t.Errorf("event type %q is not a user event", w)
		}
	}
	if n := len(domain.WebhookEventTypes()); n != 12 {
		t.Errorf("%d webhook event types, want the 12 of PRODUCT.md 8.6", n)
	}
}

func TestRecordOwesWebhookEvents(t *testing.T) {
	t.Parallel()
	u := newTestUser(t)
	at := t0.Add(time.Minute)
	u.Record(domain.AuditEvent{Type: domain.EventRoleChanged, At: at.In(time.FixedZone("x", 3600))})
	u.Record(domain.AuditEvent{Type: domain.EventLoginSucceeded, At: at}) // owes none
	u.SetRole(domain.RoleManager, t0.Add(2*time.Minute))
	u.Record(domain.AuditEvent{Type: domain.EventUserUpdated}) // no time: the change's
	got := u.TakeWebhookEvents()
	snap := u.Snapshot()
	want := []domain.WebhookEvent{
		{Type: domain.WebhookUserRoleChanged, At: at, User: snap},
		{Type: domain.WebhookUserUpdated, At: t0.Add(2 * time.Minute), User: snap},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b domain.Role) bool { return a == b })); diff != "" {
		t.Errorf("webhook events (-want +got):\n%s", diff)
	}
	if snap.Role != domain.RoleManager {
		t.Errorf("snapshot role %v, want the change's result MANAGER", snap.Role)
	}
	for _, e := range got {
		if e.At.Location() != time.UTC {
			t.Errorf("event time %v is not in UTC", e.At)
		}
	}
	if again := u.TakeWebhookEvents(); len(again) != 0 {
		t.Errorf("TakeWebhookEvents twice returned %d events the second time", len(again))
	}
	if n := len(u.TakeEvents()); n != 3 {
		t.Errorf("%d audit events recorded, want all 3", n)
	}
}

// TestUserSnapshotHoldsNoSecret: the snapshot is what responses show, and
// nothing a response never shows.
func TestUserSnapshotHoldsNoSecret(t *testing.T) {
	t.Parallel()
	u := domain.RehydrateUser(domain.UserState{
		ID: "id", Email: "a@example.com", Nickname: "nick", PasswordHash: "SECRET-hash",
		Profile: domain.Profile{FirstName: "Ada", Bio: "bio"}, Role: domain.RoleAdmin,
		VerificationTokenHash: "SECRET-verify", ResetTokenHash: "SECRET-reset", UnlockTokenHash: "SECRET-unlock",
		TOTPSecret: "SECRET-totp", TOTPPendingSecret: "SECRET-pending", MFATokenHash: "SECRET-mfa-token",
		IsLocked: true, LockReason: domain.LockByStaff, CreatedAt: t0, UpdatedAt: t0,
	})
	s := u.Snapshot()
	if strings.Contains(fmt.Sprintf("%+v", s), "SECRET") {
		t.Errorf("the snapshot holds a secret: %+v", s)
	}
	if s.ID != "id" || s.Email != "a@example.com" || s.Profile.FirstName != "Ada" || !s.IsLocked || s.Role != domain.RoleAdmin || !s.MFAEnabled {
		t.Errorf("snapshot %+v lacks the user's fields", s)
	}
}

func TestWebhookSubscribes(t *testing.T) {
	t.Parallel()
	all := domain.Webhook{Events: []domain.WebhookEventType{domain.WebhookAllEvents}}
	some := domain.Webhook{Events: []domain.WebhookEventType{domain.WebhookUserCreated, domain.WebhookUserDeleted}}
	for _, typ := range domain.WebhookEventTypes() {
		if !all.Subscribes(typ) {
			t.Errorf("[*] does not subscribe to %s", typ)
		}
		if want := typ == domain.WebhookUserCreated || typ == domain.WebhookUserDeleted; some.Subscribes(typ) != want {
			t.Errorf("%v subscribes to %s: %v, want %v", some.Events, typ, !want, want)
		}
	}
}

func TestCheckWebhookURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw        string
		publicOnly bool
		code       domain.Code // empty: accepted
	}{
		{"https://hooks.example.com/usersvc?x=1", true, ""},
		{"  https://hooks.example.com/  ", true, ""},
		{"https://93.184.216.34:8443/h", true, ""},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/h", true, ""},
		{"http://127.0.0.1:9000/hook", false, ""},
		{"http://localhost/hook", false, ""},
		{"HTTPS://Hooks.Example.com/", true, ""},
		{"http://hooks.example.com/", true, domain.CodeURLNotHTTPS},
		{"https://127.0.0.1/hook", true, domain.CodeURLNotPublic},
		{"https://10.1.2.3/hook", true, domain.CodeURLNotPublic},
		{"https://169.254.169.254/latest/meta-data", true, domain.CodeURLNotPublic},
		{"https://[::1]/hook", true, domain.CodeURLNotPublic},
		{"https://[::ffff:127.0.0.1]/hook", true, domain.CodeURLNotPublic},
		{"https://[fd00::1]/hook", true, domain.CodeURLNotPublic},
		{"https://100.64.0.1/hook", true, domain.CodeURLNotPublic},
		{"https://0.0.0.0/hook", true, domain.CodeURLNotPublic},
		{"https://localhost/hook", true, domain.CodeURLNotPublic},
		{"https://LOCALHOST./hook", true, domain.CodeURLNotPublic},
		{"https://api.localhost/hook", true, domain.CodeURLNotPublic},
		{"", false, domain.CodeRequired},
		{"not a url", false, domain.CodeURLNotAbsolute},
		{"/relative/path", false, domain.CodeURLNotAbsolute},
		{"ftp://example.com/x", false, domain.CodeURLNotAbsolute},
		{"https://user:pass@example.com/", false, domain.CodeURLNotAbsolute},
		{"mailto:someone@example.com", false, domain.CodeURLNotAbsolute},
		{"https:///no-host", false, domain.CodeURLNotAbsolute},
		{"https://example.com/\xff", false, domain.CodeURLInvalidUTF8},
		{"https://example.com/" + strings.Repeat("a", domain.MaxWebhookURLLen), false, domain.CodeTooLong},
	} {
		got, err := domain.CheckWebhookURL(tc.raw, tc.publicOnly)
		if tc.code == "" {
			if err != nil {
				t.Errorf("CheckWebhookURL(%q, %v): %v, want it accepted", tc.raw, tc.publicOnly, err)
			} else if got != strings.TrimSpace(tc.raw) {
				t.Errorf("CheckWebhookURL(%q) = %q, want it trimmed", tc.raw, got)
			}
			continue
		}
		var ve *domain.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Field != "url" || ve.Fields[0].Code != tc.code {
			t.Errorf("CheckWebhookURL(%q, %v) error = %v, want url: %s", tc.raw, tc.publicOnly, err, tc.code)
		}
	}
}

func TestIsPublicAddress(t *testing.T) {
	t.Parallel()
	public := []string{"93.184.216.34", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.63.255.255", "100.128.0.0"}
	private := []string{
		"127.0.0.1", "127.1.2.3", "::1", // loopback
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1", // RFC 1918
		"fc00::1", "fd12:3456::1", // unique-local
		"169.254.169.254", "fe80::1", "fe80::1%eth0", // link-local
		"224.0.0.1", "239.255.255.250", "ff02::1", "ff05::1:3", // multicast
		"0.0.0.0", "::", "0.1.2.3", // unspecified, this network
		"100.64.0.1", "100.127.255.255", // CGNAT
		"255.255.255.255", "240.0.0.1", // reserved, broadcast
		"192.0.2.1", "198.51.100.1", "203.0.113.1", "2001:db8::1", // documentation
		"198.18.0.1", "192.0.0.8",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:100.64.0.1", // IPv4-mapped
		"::127.0.0.1", "64:ff9b::7f00:1", "2002:7f00:1::1", "2001::1", // v4-compatible, NAT64, 6to4, Teredo
	}
	for _, s := range public {
		if !domain.IsPublicAddress(netip.MustParseAddr(s)) {
			t.Errorf("IsPublicAddress(%s) = false, want true", s)
		}
	}
	for _, s := range private {
		if domain.IsPublicAddress(netip.MustParseAddr(s)) {
			t.Errorf("IsPublicAddress(%s) = true, want false", s)
		}
	}
	if domain.IsPublicAddress(netip.Addr{}) {
		t.Error("the zero address is public")
	}
}

func TestCheckManagesWebhooks(t *testing.T) {
	t.Parallel()
	for _, r := range domain.Roles() {
		err := domain.Actor{ID: "a", Role: r}.CheckManagesWebhooks()
		if want := r == domain.RoleAdmin; (err == nil) != want {
			t.Errorf("%s manages webhooks: %v", r, err)
		} else if err != nil && !errors.Is(err, domain.ErrForbidden) {
			t.Errorf("%s: error %v does not wrap ErrForbidden", r, err)
		}
	}
	if !slices.Contains(domain.WebhookEventTypes(), domain.WebhookUserMFADisabled) {
		t.Error("user.mfa_disabled is not a webhook event type")
	}
}

func newTestUser(tb testing.TB) *domain.User {
	tb.Helper()
	u, err := domain.NewUser(domain.NewUserParams{
		ID: "00000000-0000-4000-8000-000000000001", Email: "hooked@example.com", Nickname: "hooked",
		PasswordHash: "hash", Role: domain.RoleAuthenticated, Now: t0,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}
