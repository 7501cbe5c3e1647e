package main

import (
	"os"
	"testing"

	"github.com/usersvc/usersvc/adapters/argon2hash"
)

// serve runs its hashes in a copy of the running program: in these tests,
// the test binary, which serves as the worker as main would.
func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == argon2hash.WorkerCommand {
		os.Exit(hashWorker())
	}
	os.Exit(m.Run())
}
