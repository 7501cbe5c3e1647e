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
			return app.New(app.Deps{Users: nil, Sessions: d.mem, Audit: d.mem, Stats: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: d.clock, IDs: d.ids, Secrets: d.secrets, SecretBox: testBox(t), Log: log, DummyHash: dummyHash}, d.cfg)
		}},
		{"no stats", func() (*app.Service, error) {
			return app.New(app.Deps{Users: d.store, Sessions: d.mem, Audit: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: d.clock, IDs: d.ids, Secrets: d.secrets, SecretBox: testBox(t), Log: log, DummyHash: dummyHash}, d.cfg)
		}},
		{"no clock", func() (*app.Service, error) {
			return app.New(app.Deps{Users: d.store, Sessions: d.mem, Audit: d.mem, Stats: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: nil, IDs: d.ids, Secrets: d.secrets, SecretBox: testBox(t), Log: log, DummyHash: dummyHash}, d.cfg)
		}},
		{"no secret box", func() (*app.Service, error) {
			return app.New(app.Deps{Users: d.store, Sessions: d.mem, Audit: d.mem, Stats: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: d.clock, IDs: d.ids, Secrets: d.secrets, Log: log, DummyHash: dummyHash}, d.cfg)
		}},
		{"no logger", func() (*app.Service, error) {
			return app.New(app.Deps{Users: d.store, Sessions: d.mem, Audit: d.mem, Stats: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: d.clock, IDs: d.ids, Secrets: d.secrets, SecretBox: testBox(t), Log: nil, DummyHash: dummyHash}, d.cfg)
		}},
		{"MaxAttempts 0", func() (*app.Service, error) {
			cfg := d.cfg
			cfg.Lockout = domain.LockoutPolicy{MaxAttempts: 0}
			return app.New(app.Deps{Users: d.store, Sessions: d.mem, Audit: d.mem, Stats: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: d.clock, IDs: d.ids, Secrets: d.secrets, SecretBox: testBox(t), Log: log, DummyHash: dummyHash}, cfg)
		}},
		{"VerificationTTL 0", func() (*app.Service, error) {
			cfg := d.cfg
			cfg.VerificationTTL = 0
			return app.New(app.Deps{Users: d.store, Sessions: d.mem, Audit: d.mem, Stats: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: d.clock, IDs: d.ids, Secrets: d.secrets, SecretBox: testBox(t), Log: log, DummyHash: dummyHash}, cfg)
		}},
		{"no dummy hash", func() (*app.Service, error) {
			return app.New(app.Deps{Users: d.store, Sessions: d.mem, Audit: d.mem, Stats: d.mem, Hasher: d.hasher, Issuer: d.issuer, Verifier: d.verifier, Clock: d.clock, IDs: d.ids, Secrets: d.secrets, SecretBox: testBox(t), Log: log, DummyHash: ""}, d.cfg)
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
