// Command usersvc is the user-management service. Subcommands: serve (the
// default), migrate up|down|status, admin create --email E --password P,
// keys generate|rotate, users list|set-role|unlock|delete|export|import,
// healthcheck; and, internally, hash-worker (see newServingHasher). It
// exits 0 on success, 1 on failure and 2 on bad usage, with one line on
// stderr.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/usersvc/usersvc/adapters/argon2hash"
)

func main() {
	if len(os.Args) == 2 && os.Args[1] == argon2hash.WorkerCommand {
		os.Exit(hashWorker())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "usersvc:", err)
		stop()
		os.Exit(exitCode(err))
	}
}

// hashWorker is the process serve runs its password hashes in (see
// newServingHasher). Its parent decides when it ends, by closing its input:
// the signals a terminal or a process manager sends to the group are the
// parent's to act on, and the worker finishes the hashes it was given.
func hashWorker() int {
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if err := argon2hash.ServeWorker(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "usersvc:", err)
		return 1
	}
	return 0
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
	if err == nil {
		return 0
	}
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
  users list|set-role|unlock|delete|export|import
                                         manage users (usersvc users --help)
  healthcheck                            probe /healthz of the local server (containers)

Configuration comes from environment variables; see README.md.`

// plainHelp is the --help of the commands without arguments.
var plainHelp = map[string]string{
	"serve": "usage: usersvc serve\n\nServes the API on HTTP_ADDR, applying pending migrations first. " +
		"Configuration comes from environment variables; see README.md.",
	"healthcheck": "usage: usersvc healthcheck\n\nExits 0 when GET /healthz of the server on HTTP_ADDR answers 200 (for container health checks).",
}

// run is the whole program, testable in-process.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	if help, ok := plainHelp[cmd]; ok && len(args) > 0 {
		if len(args) == 1 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			fmt.Fprintln(stdout, help)
			return nil
		}
		return usagef("%s takes no arguments (usersvc %s --help)", cmd, cmd)
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
	case "users":
		return users(ctx, args, getenv, stdout, stderr)
	case "healthcheck":
		return healthcheck(ctx, getenv)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return usagef("unknown command %q: want serve, migrate, admin, keys, users or healthcheck (usersvc --help)", cmd)
}
