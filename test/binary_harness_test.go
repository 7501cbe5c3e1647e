package e2e_test

// The binary harness: the end-to-end tests drive usersvc as it ships.
// TestMain builds the binary once (and Mailpit, for the SMTP tests);
// startService runs it as a process with an environment (baseEnv: SQLite
// or PostgreSQL, cheap hashing, no rate limits, JSON logs), waits for
// /healthz, and stops it with SIGTERM when the test ends, failing the
// test unless it exits cleanly. Tests talk to it over real HTTP through
// the typed client of client_test.go, and read its log (s.logs) for the
// mail the log mailer writes.

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/testsupport"
)

// binary is the usersvc binary built once for the whole package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "usersvc-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "usersvc")
	mailpitBuilt := make(chan error, 1)
	go func() { mailpitBuilt <- buildMailpit() }()
	build := exec.Command("go", "build", "-o", binary, "./cmd/usersvc")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building usersvc:", err)
		os.Exit(1)
	}
	if err := <-mailpitBuilt; err != nil {
		fmt.Fprintln(os.Stderr, "building mailpit:", err)
		os.Exit(1)
	}
	code := m.Run()
	stopBrowser()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// service is a running usersvc binary.
type service struct {
	t    testing.TB
	cmd  *exec.Cmd
	logs *testsupport.Buffer // its stdout and stderr
	URL  string
	done chan error
	env  map[string]string // what it was started with
}

// freePort is testsupport.FreePort, under the name these tests call.
var freePort = testsupport.FreePort

// baseEnv is what every test service runs with: cheap hashing, no rate
// limits, a fixed key so tokens survive restarts.
func baseEnv(tb testing.TB, databaseURL string) map[string]string {
	port := freePort(tb)
	return map[string]string{
		"HTTP_ADDR":        fmt.Sprintf("127.0.0.1:%d", port),
		"PUBLIC_BASE_URL":  fmt.Sprintf("http://127.0.0.1:%d", port),
		"DATABASE_URL":     databaseURL,
		"JWT_SECRET":       "e2e-secret-e2e-secret-e2e-secret-0123",
		"HASH_MEMORY_KIB":  "8192",
		"HASH_ITERATIONS":  "1",
		"RATE_LIMITS":      "off",
		"LOG_FORMAT":       "json",
		"LOG_LEVEL":        "info",
		"ADMIN_EMAIL":      "admin@example.com",
		"ADMIN_PASSWORD":   "admin-password-for-e2e",
		"APP_ENV":          "development",
		"LOCKOUT_DURATION": "15m",
	}
}

// startService runs the binary with env in dir and waits for /healthz.
func startService(tb testing.TB, dir string, env map[string]string) *service {
	tb.Helper()
	cmd := exec.Command(binary, "serve")
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logs := &testsupport.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s := &service{t: tb, cmd: cmd, logs: logs, URL: "http://" + env["HTTP_ADDR"], done: make(chan error, 1), env: env}
	go func() { s.done <- cmd.Wait() }()
	tb.Cleanup(func() { s.stop() })

	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-s.done:
			s.done <- err
			tb.Fatalf("usersvc exited before it was healthy: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("usersvc not healthy after 60s\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (s *service) stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
		if err != nil {
			s.t.Errorf("usersvc did not exit cleanly on SIGTERM: %v\n%s", err, s.logs.String())
		}
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		s.t.Errorf("usersvc did not stop within 20s of SIGTERM")
	}
}

// kill ends the process at once, as a crash would.
func (s *service) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
	s.done <- nil
}

var linkPattern = regexp.MustCompile(`"link":"(http[^"]+/verify-email/[^"]+)"`)

// verificationLink waits for the log mailer's line for email and returns its link.
func (s *service) verificationLink(tb testing.TB, email string) string {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, `"to":"`+email+`"`) && strings.Contains(line, `"kind":"verify_email"`) {
				if m := linkPattern.FindStringSubmatch(line); m != nil {
					return m[1]
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	tb.Fatalf("no verification link for %s in the log:\n%s", email, s.logs.String())
	return ""
}

func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	tb.Cleanup(cancel)
	return ctx
}
