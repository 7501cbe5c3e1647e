package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usersvc/usersvc/adapters/jwttoken"
)

// runKeys runs `usersvc args…` as main would and returns the exit status
// and what it printed.
func runKeys(t *testing.T, env map[string]string, args ...string) (status int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	if err != nil {
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("usersvc %s: the error spans lines: %q", strings.Join(args, " "), err)
		}
		return exitCode(err), out.String(), err.Error()
	}
	return 0, out.String(), errOut.String()
}

func TestKeysGenerate(t *testing.T) {
	t.Parallel()
	for alg, kty := range map[string]string{"": "OKP", "EdDSA": "OKP", "ES256": "EC", "RS256": "RSA", "es256": "EC"} {
		args := []string{"keys", "generate"}
		if alg != "" {
			args = append(args, "--alg", alg)
		}
		status, out, errOut := runKeys(t, nil, args...)
		if status != 0 {
			t.Fatalf("usersvc %s: exit %d: %s", strings.Join(args, " "), status, errOut)
		}
		var jwk map[string]any
		if err := json.Unmarshal([]byte(out), &jwk); err != nil {
			t.Fatalf("usersvc %s printed no JWK: %v\n%s", strings.Join(args, " "), err, out)
		}
		kid, _ := jwk["kid"].(string)
		if jwk["kty"] != kty || jwk["d"] == nil || jwk["use"] != "sig" || kid == "" {
			t.Errorf("usersvc %s: %s", strings.Join(args, " "), out)
		}
		set, err := jwttoken.ParseKeySet([]byte(`{"keys":[` + out + `]}`))
		if err != nil {
			t.Fatalf("the printed key does not parse as a signing key: %v", err)
		}
		if created, ok := set.Keys()[0].Created(); !ok || time.Since(created) > time.Minute {
			t.Errorf("kid %s does not record a creation time of now", kid)
		}
	}
	_, first, _ := runKeys(t, nil, "keys", "generate")
	_, second, _ := runKeys(t, nil, "keys", "generate")
	if first == second {
		t.Error("two keys generated are the same")
	}
}

func TestKeysUsage(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"keys", "--help"}, {"keys", "-h"}, {"keys", "help"}, {"keys", "generate", "--help"}, {"keys", "rotate", "-h"},
		{"keys", "rotate", "--file", "x", "--help"},
	} {
		status, out, _ := runKeys(t, nil, args...)
		if status != 0 || !strings.Contains(out, "usage: usersvc keys generate") {
			t.Errorf("usersvc %s: exit %d, stdout %q", strings.Join(args, " "), status, out)
		}
	}
	dir := t.TempDir()
	for _, args := range [][]string{
		{"keys"},
		{"keys", "delete"},
		{"keys", "generate", "--alg", "HS256"},
		{"keys", "generate", "--alg"},
		{"keys", "generate", "--bits", "4096"},
		{"keys", "generate", "extra"},
		{"keys", "rotate"},
		{"keys", "rotate", "--file", filepath.Join(dir, "k.json"), "--alg", "none"},
	} {
		status, _, errOut := runKeys(t, nil, args...)
		if status != 2 || errOut == "" {
			t.Errorf("usersvc %s: exit %d (%q), want 2 with a reason", strings.Join(args, " "), status, errOut)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("bad usage wrote %v", entries)
	}
}

// keyFile writes a JWK Set of keys made at the times given.
func keyFile(t *testing.T, path string, made ...time.Time) []string {
	t.Helper()
	var keys []jwttoken.Key
	for _, at := range made {
		k, err := jwttoken.GenerateKey(jwttoken.EdDSA, at)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	set, err := jwttoken.NewKeySet(keys...)
	if err != nil {
		t.Fatal(err)
	}
	if err := jwttoken.WriteKeySetFile(path, set); err != nil {
		t.Fatal(err)
	}
	return kidsOf(set)
}

func kidsOf(set *jwttoken.KeySet) []string {
	var out []string
	for _, k := range set.Keys() {
		out = append(out, k.ID())
	}
	return out
}

func readKids(t *testing.T, path string) []string {
	t.Helper()
	set, err := jwttoken.ReadKeySetFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return kidsOf(set)
}

func TestKeysRotate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "signing.jwks.json")

	// A missing file is created, with one key, for its owner only.
	status, out, errOut := runKeys(t, nil, "keys", "rotate", "--file", path)
	if status != 0 {
		t.Fatalf("exit %d: %s", status, errOut)
	}
	first := readKids(t, path)
	if len(first) != 1 || !strings.Contains(out, "added key "+first[0]+" (EdDSA)") {
		t.Fatalf("keys %v, output %q", first, out)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", info.Mode().Perm())
	}

	// JWT_SIGNING_KEYS names the file by default; the old key stays, since
	// tokens it signed a moment ago are still alive.
	env := map[string]string{"JWT_SIGNING_KEYS": path}
	if status, out, errOut = runKeys(t, env, "keys", "rotate", "--alg", "ES256"); status != 0 {
		t.Fatalf("exit %d: %s", status, errOut)
	}
	second := readKids(t, path)
	if len(second) != 2 || second[0] != first[0] || strings.Contains(out, "dropped") {
		t.Fatalf("keys %v, output %q", second, out)
	}
	set, _ := jwttoken.ReadKeySetFile(path)
	if signer, _ := set.Signer(); signer.Algorithm() != jwttoken.ES256 || signer.ID() != second[1] {
		t.Errorf("the new ES256 key does not sign: %s %s", signer.ID(), signer.Algorithm())
	}

	// Keys retired for longer than ACCESS_TOKEN_TTL go; the one the new key
	// retires this instant stays.
	old := keyFile(t, path, time.Now().Add(-48*time.Hour), time.Now().Add(-47*time.Hour), time.Now().Add(-time.Hour))
	env["ACCESS_TOKEN_TTL"] = "15m"
	if status, out, errOut = runKeys(t, env, "keys", "rotate", "--alg", "RS256"); status != 0 {
		t.Fatalf("exit %d: %s", status, errOut)
	}
	got := readKids(t, path)
	if len(got) != 2 || got[0] != old[2] {
		t.Fatalf("keys %v, want %s and a new one", got, old[2])
	}
	for _, dropped := range old[:2] {
		if !strings.Contains(out, "dropped key "+dropped) {
			t.Errorf("the output does not say %s was dropped:\n%s", dropped, out)
		}
	}
	// With a longer lifetime, the same keys would have stayed.
	keyFile(t, path, time.Now().Add(-48*time.Hour), time.Now().Add(-47*time.Hour))
	env["ACCESS_TOKEN_TTL"] = "72h"
	if status, _, _ = runKeys(t, env, "keys", "rotate"); status != 0 || len(readKids(t, path)) != 3 {
		t.Errorf("exit %d, keys %v", status, readKids(t, path))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("files left beside the key file: %v", entries)
	}
}

func TestKeysRotateFailures(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	content := []byte(`{"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}`)
	if err := os.WriteFile(bad, content, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		env  map[string]string
		args []string
		want string
	}{
		"a file that is not a signing key set": {nil, []string{"--file", bad}, "oct"},
		"a directory that is not there":        {nil, []string{"--file", filepath.Join(dir, "nope", "k.json")}, "nope"},
		"a bad configuration":                  {map[string]string{"ACCESS_TOKEN_TTL": "soon"}, []string{"--file", filepath.Join(dir, "k.json")}, "ACCESS_TOKEN_TTL"},
	}
	for name, tc := range cases {
		status, _, errOut := runKeys(t, tc.env, append([]string{"keys", "rotate"}, tc.args...)...)
		if status != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, %q; want 1 and a line naming %s", name, status, errOut, tc.want)
		}
	}
	if got, _ := os.ReadFile(bad); !bytes.Equal(got, content) {
		t.Errorf("a refused file was changed: %s", got)
	}
}
