// Package testsupport holds the helpers every layer's tests share: a fake
// clock, a goroutine-safe buffer, a free port, and a counter of the
// statements and transactions a database pool sends. Only tests import it.
package testsupport
