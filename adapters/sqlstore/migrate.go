package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"

	"github.com/pressly/goose/v3"

	"github.com/usersvc/usersvc/migrations"
)

// provider builds a goose provider for this store's dialect. It uses no
// goose global state (registry, logger, dialect).
func (s *Store) provider() (*goose.Provider, error) {
	dialect, dir, opts, err := s.d.migrations()
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	sub, err := fs.Sub(migrations.FS, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	opts = append(opts, goose.WithDisableGlobalRegistry(true), goose.WithLogger(goose.NopLogger()))
	p, err := goose.NewProvider(dialect, s.db.DB, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return p, nil
}

// Migrate applies every pending migration. On PostgreSQL it holds an
// advisory lock meanwhile, so instances starting together take turns.
func (s *Store) Migrate(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	if _, err := p.Up(ctx); err != nil {
		return s.wrap("migrate up", err)
	}
	return nil
}

// MigrateDown rolls back the most recently applied migration. With none
// applied it does nothing.
func (s *Store) MigrateDown(ctx context.Context) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	if _, err := p.Down(ctx); err != nil && !errors.Is(err, goose.ErrNoNextVersion) {
		return s.wrap("migrate down", err)
	}
	return nil
}

// MigrationStatus writes one line per known migration to w: its state,
// when it was applied, and its file.
func (s *Store) MigrationStatus(ctx context.Context, w io.Writer) error {
	p, err := s.provider()
	if err != nil {
		return err
	}
	statuses, err := p.Status(ctx)
	if err != nil {
		return s.wrap("migration status", err)
	}
	for _, st := range statuses {
		applied := "-"
		if st.State == goose.StateApplied {
			applied = st.AppliedAt.UTC().Format("2006-01-02 15:04:05 MST")
		}
		if _, err := fmt.Fprintf(w, "%-8s %-23s %s\n", st.State, applied, path.Base(st.Source.Path)); err != nil {
			return err
		}
	}
	return nil
}
