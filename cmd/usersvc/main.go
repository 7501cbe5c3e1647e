// Command usersvc is the user-management service. Subcommands: serve (the
// default), migrate up|down|status, admin create --email E --password P.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "usersvc:", err)
		stop()
		os.Exit(1)
	}
}

const usage = `usage: usersvc [command]

commands:
  serve                                  serve the API (default)
  migrate up|down|status                 manage the database schema
  admin create --email E --password P    create a verified ADMIN
  healthcheck                            probe /healthz of the local server (containers)

Configuration comes from environment variables; see README.md.`

// run is the whole program, testable in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, getenv, stderr)
	case "migrate":
		return migrate(ctx, args, getenv, stdout, stderr)
	case "admin":
		return admin(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
