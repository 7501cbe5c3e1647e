package e2e_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usersvc/usersvc/internal/testsupport"
)

// mailpitModule is the real SMTP server the tests deliver to: MailHog's
// maintained successor, pinned by version and built by the go command.
const mailpitModule = "github.com/axllent/mailpit@v1.33.1"

// mailpitBinary is built once into the user's cache, so later runs reuse it.
var mailpitBinary string

// MAILPIT_BIN may name a Mailpit binary to use instead.
func buildMailpit() error {
	if bin := os.Getenv("MAILPIT_BIN"); bin != "" {
		mailpitBinary = bin
		return checkMailpit(bin)
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "usersvc-tools", "mailpit-v1.33.1")
	mailpitBinary = filepath.Join(dir, "mailpit")
	if checkMailpit(mailpitBinary) == nil {
		return nil
	}
	// Installed into a private directory, then renamed into place: a run
	// killed halfway, or two runs at once, never leave a broken binary.
	tmp, err := os.MkdirTemp("", "mailpit-build-")
	if err != nil {
		return err
	}
	keep := false
	defer func() {
		if !keep {
			os.RemoveAll(tmp)
		}
	}()
	cmd := exec.Command("go", "install", mailpitModule)
	// Built outside our module, so its dependencies stay out of our go.mod.
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=")
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go install %s: %w", mailpitModule, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		// No writable cache: use the fresh build where it is, for this run.
		keep, mailpitBinary = true, filepath.Join(tmp, "mailpit")
		return checkMailpit(mailpitBinary)
	}
	if err := os.Rename(filepath.Join(tmp, "mailpit"), mailpitBinary); err != nil {
		return err
	}
	return checkMailpit(mailpitBinary)
}

// checkMailpit runs the binary once, so a truncated one is rebuilt.
func checkMailpit(bin string) error {
	out, err := exec.Command(bin, "version", "--no-release-check").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s does not run: %w: %s", bin, err, out)
	}
	return nil
}

// mailpit is a running Mailpit.
type mailpit struct {
	SMTPPort int
	API      string
	cmd      *exec.Cmd
	logs     *testsupport.Buffer
}

// startMailpit runs Mailpit with SMTP on smtpPort (0: any free port).
func startMailpit(tb testing.TB, smtpPort int) *mailpit {
	tb.Helper()
	if smtpPort == 0 {
		smtpPort = freePort(tb)
	}
	httpPort := freePort(tb)
	m := &mailpit{SMTPPort: smtpPort, API: fmt.Sprintf("http://127.0.0.1:%d", httpPort), logs: &testsupport.Buffer{}}
	m.cmd = exec.Command(mailpitBinary,
		"--smtp", fmt.Sprintf("127.0.0.1:%d", smtpPort),
		"--listen", fmt.Sprintf("127.0.0.1:%d", httpPort),
		"--database", filepath.Join(tb.TempDir(), "mailpit.db"),
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure",
		"--disable-version-check", "--smtp-disable-rdns", "--quiet")
	m.cmd.Stdout, m.cmd.Stderr = m.logs, m.logs
	if err := m.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(m.API + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("mailpit did not start:\n%s", m.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (m *mailpit) stop() {
	if m.cmd.ProcessState == nil {
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		_ = m.cmd.Wait()
	}
}

// SMTPURL is the SMTP_URL that delivers to this Mailpit.
func (m *mailpit) SMTPURL() string { return fmt.Sprintf("smtp://127.0.0.1:%d", m.SMTPPort) }

type mailSummary struct {
	ID        string `json:"ID"`
	MessageID string `json:"MessageID"`
	Subject   string `json:"Subject"`
	To        []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

type mailMessage struct {
	mailSummary
	Text string `json:"Text"`
	HTML string `json:"HTML"`
}

// messages lists every message Mailpit holds.
func (m *mailpit) messages(tb testing.TB) []mailSummary {
	tb.Helper()
	resp, err := http.Get(m.API + "/api/v1/messages?limit=1000")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []mailSummary `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		tb.Fatal(err)
	}
	return out.Messages
}

// waitFor waits until a message to address whose subject contains subject
// arrives, and returns it whole.
func (m *mailpit) waitFor(tb testing.TB, address, subject string, timeout time.Duration) mailMessage {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		for _, s := range m.messages(tb) {
			if len(s.To) == 1 && s.To[0].Address == address && strings.Contains(s.Subject, subject) {
				return m.message(tb, s.ID)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	tb.Fatalf("no %q email to %s within %s; mailpit holds %+v", subject, address, timeout, m.messages(tb))
	return mailMessage{}
}

func (m *mailpit) message(tb testing.TB, id string) mailMessage {
	tb.Helper()
	resp, err := http.Get(m.API + "/api/v1/message/" + url.PathEscape(id))
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var msg mailMessage
	if err := json.NewDecoder(resp.Body).Decode(&msg); err != nil {
		tb.Fatal(err)
	}
	return msg
}

// count is how many messages went to address.
func (m *mailpit) count(tb testing.TB, address string) int {
	n := 0
	for _, s := range m.messages(tb) {
		for _, to := range s.To {
			if to.Address == address {
				n++
			}
		}
	}
	return n
}
