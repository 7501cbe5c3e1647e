package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"time"

	"github.com/usersvc/usersvc/adapters/jwttoken"
)

const keysUsage = `usage: usersvc keys generate [--alg EdDSA|ES256|RS256]
       usersvc keys rotate [--file F] [--alg EdDSA|ES256|RS256]

Signing keys for access tokens (JWT_SIGNING_KEYS; see README.md).

  generate   print a new private signing key on stdout: a JWK with a fresh
             kid, which starts with its creation time
  rotate     append a new key to the JWK Set file F (default: the file
             JWT_SIGNING_KEYS names; created if missing, written atomically,
             mode 0600). It signs once usersvc restarts; the older keys keep
             verifying the tokens they signed. Keys retired (followed by a
             newer key) for longer than ACCESS_TOKEN_TTL are dropped; the
             signing key never is.

flags:
  --alg A    EdDSA (Ed25519, the default), ES256 (P-256) or RS256 (RSA 3072)
  --file F   rotate only: the JWK Set file`

// keysCommand runs `usersvc keys …`.
func keysCommand(args []string, getenv func(string) string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("keys needs a command: generate or rotate (usersvc keys --help)")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, keysUsage)
		return nil
	case "generate":
		return keysGenerate(args[1:], stdout)
	case "rotate":
		return keysRotate(args[1:], getenv, stdout)
	}
	return usagef("unknown keys command %q: want generate or rotate (usersvc keys --help)", args[0])
}

// keysFlags parses the flags of keys cmd; help is true after --help, which
// printed the usage.
func keysFlags(cmd string, args []string, stdout io.Writer, define func(flags *flag.FlagSet)) (alg string, help bool, err error) {
	flags := flag.NewFlagSet("keys "+cmd, flag.ContinueOnError)
	flags.SetOutput(io.Discard) // errors are reported once, by main
	algName := flags.String("alg", jwttoken.EdDSA, "EdDSA, ES256 or RS256")
	if define != nil {
		define(flags)
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stdout, keysUsage)
			return "", true, nil
		}
		return "", false, usagef("keys %s: %v (usersvc keys --help)", cmd, err)
	}
	if flags.NArg() > 0 {
		return "", false, usagef("keys %s takes no argument, got %q (usersvc keys --help)", cmd, flags.Arg(0))
	}
	for _, a := range jwttoken.Algorithms {
		if strings.EqualFold(*algName, a) {
			return a, false, nil
		}
	}
	return "", false, usagef("keys %s: --alg must be %s, got %q", cmd, strings.Join(jwttoken.Algorithms, ", "), *algName)
}

func keysGenerate(args []string, stdout io.Writer) error {
	alg, help, err := keysFlags("generate", args, stdout, nil)
	if err != nil || help {
		return err
	}
	key, err := jwttoken.GenerateKey(alg, time.Now())
	if err != nil {
		return err
	}
	out, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s\n", out)
	return err
}

func keysRotate(args []string, getenv func(string) string, stdout io.Writer) error {
	var file *string
	alg, help, err := keysFlags("rotate", args, stdout, func(flags *flag.FlagSet) {
		file = flags.String("file", strings.TrimSpace(getenv("JWT_SIGNING_KEYS")), "the JWK Set file")
	})
	if err != nil || help {
		return err
	}
	if *file == "" {
		return usagef("keys rotate needs --file F (or JWT_SIGNING_KEYS)")
	}
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	set, err := jwttoken.ReadKeySetFile(*file)
	if errors.Is(err, fs.ErrNotExist) {
		set, err = jwttoken.NewKeySet()
	}
	if err != nil {
		return err
	}
	next, added, dropped, err := set.Rotate(alg, time.Now(), c.AccessTokenTTL)
	if err != nil {
		return err
	}
	if err := jwttoken.WriteKeySetFile(*file, next); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "added key %s (%s) to %s: it signs once usersvc restarts\n", added.ID(), added.Algorithm(), *file)
	for _, k := range dropped {
		fmt.Fprintf(stdout, "dropped key %s: retired for longer than ACCESS_TOKEN_TTL (%s)\n", k.ID(), c.AccessTokenTTL)
	}
	return nil
}
