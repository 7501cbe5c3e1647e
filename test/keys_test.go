package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// runBinary runs usersvc args in dir and returns its exit status and output.
func runBinary(t *testing.T, dir string, env map[string]string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		status = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return status, out.String(), errOut.String()
}

// TestKeysCommandsExitCodes: 0 on success, 1 on failure and 2 on bad
// usage, each failure with one line.
func TestKeysCommandsExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oneLine := func(t *testing.T, stderr string) {
		t.Helper()
		if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "usersvc: ") {
			t.Errorf("stderr is not one line starting usersvc: %q", stderr)
		}
	}

	status, out, stderr := runBinary(t, dir, nil, "keys", "generate", "--alg", "ES256")
	var jwk map[string]any
	if status != 0 || json.Unmarshal([]byte(out), &jwk) != nil || jwk["kty"] != "EC" || jwk["d"] == nil || jwk["kid"] == nil {
		t.Errorf("keys generate: exit %d, %q, %q", status, out, stderr)
	}
	for _, args := range [][]string{{"keys", "--help"}, {"keys", "rotate", "--help"}} {
		if status, out, _ := runBinary(t, dir, nil, args...); status != 0 || !strings.Contains(out, "usage:") {
			t.Errorf("%v: exit %d, %q", args, status, out)
		}
	}
	for _, args := range [][]string{{"keys"}, {"keys", "generate", "--alg", "HS256"}, {"keys", "rotate"}, {"keys", "rotate", "--nope"}} {
		status, _, stderr := runBinary(t, dir, nil, args...)
		if status != 2 {
			t.Errorf("%v: exit %d, want 2", args, status)
		}
		oneLine(t, stderr)
	}

	path := filepath.Join(dir, "keys.json")
	if status, out, stderr = runBinary(t, dir, nil, "keys", "rotate", "--file", path); status != 0 || !strings.Contains(out, "added key") {
		t.Fatalf("keys rotate: exit %d, %q, %q", status, out, stderr)
	}
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v, %v; want mode 0600", path, info, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "public.json"), []byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"p","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	status, _, stderr = runBinary(t, dir, nil, "keys", "rotate", "--file", "public.json")
	if status != 1 || !strings.Contains(stderr, "public") {
		t.Errorf("keys rotate on a public key: exit %d, %q; want 1", status, stderr)
	}
	oneLine(t, stderr)
}

// TestProductionSignsWithKeysOthersVerify: production on JWT_SIGNING_KEYS
// alone (no JWT_SECRET) starts, and another service verifies its tokens
// with nothing but the published JWKS.
func TestProductionSignsWithKeysOthersVerify(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keys := filepath.Join(dir, "signing.json")
	if status, _, stderr := runBinary(t, dir, nil, "keys", "rotate", "--file", keys, "--alg", "RS256"); status != 0 {
		t.Fatalf("keys rotate: %s", stderr)
	}
	env := baseEnv(t, sqliteURL(t))
	delete(env, "JWT_SECRET")
	env["APP_ENV"] = "production"
	env["SECRETS_KEY"] = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=" // 32 bytes
	env["JWT_SIGNING_KEYS"] = keys
	svc := startService(t, dir, env)
	c := newClient(svc.URL)
	ctx := ctxT(t)
	tp := c.mustLogin(t, ctx, "admin@example.com", "admin-password-for-e2e")

	resp, err := http.Get(svc.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Cache-Control"); got != "public, max-age=300" {
		t.Errorf("JWKS Cache-Control %q", got)
	}
	kf, err := keyfunc.NewDefaultCtx(ctx, []string{svc.URL + "/.well-known/jwks.json"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Parse(tp.AccessToken, kf.Keyfunc, jwt.WithIssuer(env["PUBLIC_BASE_URL"]), jwt.WithAudience("usersvc"),
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithIssuedAt())
	if err != nil {
		t.Fatalf("another service refuses the token: %v", err)
	}
	if tok.Header["typ"] != "at+jwt" {
		t.Errorf("typ %v", tok.Header["typ"])
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "jwt-dev.key")); err == nil {
		t.Error("production made a development key")
	}
}
