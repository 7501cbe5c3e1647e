// Package testsupport holds the helpers every layer's tests share, one of
// each: a settable fake clock (Clock), a goroutine-safe buffer for logs
// (Buffer), a free port or address (FreePort, FreeAddr), a counter of the
// statements and transactions a database pool sends (QueryCounter), and a
// loopback receiver that checks webhooks as the Standard Webhooks
// specification does (WebhookReceiver). Only tests import it.
//
// The harnesses themselves stay with the layer they drive, one each:
//
//   - app/usecases_harness_test.go: the use cases on the memory store and
//     moq ports (env, newEnv);
//   - adapters/httpapi/http_harness_test.go: HTTP over the real use cases,
//     httpapi.NewServer on the memory store (harness, newHarness);
//   - cmd/usersvc/program_harness_test.go: the whole program run in-process
//     by run(), as main does (startServer);
//   - test/binary_harness_test.go: the built binary, run as a process
//     (startService), with the typed client of test/client_test.go.
package testsupport
