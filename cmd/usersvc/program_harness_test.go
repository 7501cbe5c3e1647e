package main

// The program harness: the whole program run in-process, by run() as main
// runs it, with an environment the test writes. startServer serves it on
// a free loopback address, waits until /readyz answers 200 and stops it
// (as SIGTERM would, by cancelling run's context) when the test ends or
// at s.stop(), failing the test if run does not return cleanly within 20
// seconds. Its log is in s.stderr. The end-to-end tests of test/ run the
// built binary instead; these reach what only the package can (config,
// the key files, the commands).

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/testsupport"
)

// server is usersvc serving in-process.
type server struct {
	addr   string // host:port
	base   string // http://host:port
	stderr *testsupport.Buffer
	stop   func()
}

// startServer runs `usersvc serve` with env (HTTP_ADDR set to a free
// address) until the test ends or s.stop, and waits until it is ready.
func startServer(t *testing.T, env map[string]string) *server {
	t.Helper()
	addr := testsupport.FreeAddr(t)
	env["HTTP_ADDR"] = addr
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{addr: addr, base: "http://" + addr, stderr: &testsupport.Buffer{}}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, io.Discard, s.stderr)
	}()
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v\n%s", err, s.stderr)
			}
		case <-time.After(20 * time.Second):
			t.Error("run did not return after its context ended")
		}
	}
	t.Cleanup(s.stop)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("serve ended early: %v\n%s", err, s.stderr)
		default:
		}
		// Ready, and the start's log lines written: they go out in
		// batches (logbuf), and "listening" is the last of them.
		if code, _ := httpGet(t, s.base+"/readyz", ""); code == http.StatusOK && strings.Contains(s.stderr.String(), "listening") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", s.stderr)
		}
	}
}

// startServe is startServer for tests that need only its address and log.
func startServe(t *testing.T, env map[string]string) (string, *testsupport.Buffer) {
	t.Helper()
	s := startServer(t, env)
	return s.addr, s.stderr
}

// httpGet sends GET url with an Authorization header (none when auth is
// ""), and returns the status and body; a transport error is status 0
// with the error as the body.
func httpGet(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
