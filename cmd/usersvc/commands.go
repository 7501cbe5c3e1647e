package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"time"

	"github.com/usersvc/usersvc/adapters/sqlstore"
)

func migrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if slices.ContainsFunc(args, func(a string) bool { return a == "--help" || a == "-h" || a == "help" }) {
		fmt.Fprintln(stdout, "usage: usersvc migrate up|down|status\n\nApplies (up), rolls back one (down) or lists (status) the migrations of DATABASE_URL.")
		return nil
	}
	if len(args) != 1 || (args[0] != "up" && args[0] != "down" && args[0] != "status") {
		return usagef("usage: usersvc migrate up|down|status")
	}
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	store, err := sqlstore.Open(ctx, c.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	switch args[0] {
	case "up":
		if err := store.Migrate(ctx); err != nil {
			return err
		}
		fmt.Fprintln(stdout, "migrations applied")
		return nil
	case "down":
		return store.MigrateDown(ctx)
	case "status":
		return store.MigrationStatus(ctx, stdout)
	}
	return fmt.Errorf("unknown migrate command %q: want up, down or status", args[0])
}

func admin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	const adminUsage = "usage: usersvc admin create --email E --password P"
	if len(args) == 1 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
		fmt.Fprintln(stdout, adminUsage+"\n\nCreates a verified ADMIN (ADMIN_EMAIL and ADMIN_PASSWORD are the defaults).")
		return nil
	}
	if len(args) == 0 || args[0] != "create" {
		return usagef(adminUsage)
	}
	fs := flag.NewFlagSet("admin create", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	email := fs.String("email", getenv("ADMIN_EMAIL"), "the admin's `email`")
	password := fs.String("password", getenv("ADMIN_PASSWORD"), "the admin's `password` (or ADMIN_PASSWORD)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, adminUsage+"\n\nCreates a verified ADMIN.\n\nflags:")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return nil
		}
		return usagef("admin create: %v (%s)", err, adminUsage)
	}
	if *email == "" || *password == "" {
		return usagef("admin create needs --email and --password")
	}
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	// Errors only: a failure is the one line run prints (PRODUCT.md 8.7),
	// not preceded by the development keys' warnings, which serve gives.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	store, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	svc, err := newService(ctx, c, store, nil, log)
	if err != nil {
		return err
	}
	u, err := svc.CreateAdmin(ctx, *email, *password)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created admin %s (%s)\n", u.Email(), u.ID())
	return nil
}

// healthcheck probes the local server, for container health checks on
// images without a shell or curl.
func healthcheck(ctx context.Context, getenv func(string) string) error {
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("HTTP_ADDR: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1:"+port+"/healthz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthz answered %d", resp.StatusCode)
	}
	return nil
}
