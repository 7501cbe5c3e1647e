// Command usersvc is the user-management service. Subcommands: serve (the
// default), migrate up|down|status, admin create --email E --password P,
// keys generate|rotate.
package main

import (
	"context"
	"errors"
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
		os.Exit(exitCode(err))
	}
}

// usageError is a command line that does not parse: main exits 2 on it,
// and 1 on any other error.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode is the status main exits with after err.
func exitCode(err error) int {
	if _, ok := errors.AsType[*usageError](err); ok {
		return 2
	}
	return 1
}

const usage = `usage: usersvc [command]

commands:
  serve                                  serve the API (default)
  migrate up|down|status                 manage the database schema
  admin create --email E --password P    create a verified ADMIN
  keys generate|rotate                   signing keys for access tokens (usersvc keys --help)
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
	case "keys":
		return keysCommand(args, getenv, stdout)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
