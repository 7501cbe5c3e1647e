package app_test

import (
	"log/slog"
	"testing"

	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/domain"
)

func TestNewRefusesMissingSettings(t *testing.T) {
	t.Parallel()
	d := newEnv(t).deps
	log := slog.New(slog.DiscardHandler)
	tests := []struct {
		name  string
		build func() (*app.Service, error)
	}{
		{"no store", func() (*app.Service, error) {
			return app.New(nil, d.hasher, d.issuer, d.verifier, d.clock, d.ids, d.secrets, d.cfg, dummyHash, log)
		}},
		{"no clock", func() (*app.Service, error) {
			return app.New(d.store, d.hasher, d.issuer, d.verifier, nil, d.ids, d.secrets, d.cfg, dummyHash, log)
		}},
		{"no logger", func() (*app.Service, error) {
			return app.New(d.store, d.hasher, d.issuer, d.verifier, d.clock, d.ids, d.secrets, d.cfg, dummyHash, nil)
		}},
		{"MaxAttempts 0", func() (*app.Service, error) {
			cfg := d.cfg
			cfg.Lockout = domain.LockoutPolicy{MaxAttempts: 0}
			return app.New(d.store, d.hasher, d.issuer, d.verifier, d.clock, d.ids, d.secrets, cfg, dummyHash, log)
		}},
		{"VerificationTTL 0", func() (*app.Service, error) {
			cfg := d.cfg
			cfg.VerificationTTL = 0
			return app.New(d.store, d.hasher, d.issuer, d.verifier, d.clock, d.ids, d.secrets, cfg, dummyHash, log)
		}},
		{"no dummy hash", func() (*app.Service, error) {
			return app.New(d.store, d.hasher, d.issuer, d.verifier, d.clock, d.ids, d.secrets, d.cfg, "", log)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if svc, err := tt.build(); err == nil || svc != nil {
				t.Errorf("New = %v, %v; want an error", svc, err)
			}
		})
	}
}
