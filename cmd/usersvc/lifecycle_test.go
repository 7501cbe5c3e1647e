package main

import (
	"strings"
	"testing"
	"time"
)

// TestInvitationTokenTTL: INVITATION_TOKEN_TTL (PRODUCT.md 8.4) defaults to
// 72 hours, next to SESSION_MAX_AGE's 90 days, and refuses what is not a
// positive duration.
func TestInvitationTokenTTL(t *testing.T) {
	c, err := loadConfig(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.InvitationTTL != 72*time.Hour || c.SessionMaxAge != 2160*time.Hour {
		t.Errorf("defaults: INVITATION_TOKEN_TTL %v, SESSION_MAX_AGE %v; want 72h, 2160h", c.InvitationTTL, c.SessionMaxAge)
	}
	c, err = loadConfig(func(k string) string { return map[string]string{"INVITATION_TOKEN_TTL": "168h"}[k] })
	if err != nil || c.InvitationTTL != 168*time.Hour {
		t.Errorf("INVITATION_TOKEN_TTL=168h: %v, %v", c.InvitationTTL, err)
	}
	for _, bad := range []string{"0", "-1h", "a week"} {
		_, err := loadConfig(func(k string) string { return map[string]string{"INVITATION_TOKEN_TTL": bad}[k] })
		if err == nil || !strings.Contains(err.Error(), "INVITATION_TOKEN_TTL") {
			t.Errorf("INVITATION_TOKEN_TTL=%q: error %v, want one naming it", bad, err)
		}
	}
}
