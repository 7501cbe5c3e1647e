package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandLineExitCodes: the binary exits 0 on success, 1 on failure and
// 2 on bad usage, with one line on stderr, as PRODUCT.md section 8.7 says.
func TestCommandLineExitCodes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := map[string]string{
		"DATABASE_URL": "sqlite:" + filepath.Join(dir, "db.sqlite"), "JWT_SECRET": "e2e-secret-e2e-secret-e2e-secret-0123",
		"HASH_MEMORY_KIB": "8192", "HASH_ITERATIONS": "1",
	}
	file := filepath.Join(dir, "users.csv")
	if err := os.WriteFile(file, []byte("email,role,password_hash\n"+
		"ops@example.com,ADMIN,$2b$04$TgoIul5iURT2KY2cdKtZouLoiClU9IBXadQKNcNtrVSmAGoh65w6e\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		code   int
		stdout string
	}{
		{[]string{"users", "--help"}, 0, "usage: usersvc users"},
		{[]string{"users", "import", "--help"}, 0, "password_hash"},
		{[]string{"users", "import", "--file", file}, 0, "imported 1 users"},
		{[]string{"users", "import", "--file", file}, 0, "imported 0 users, skipped 1"},
		{[]string{"users", "list", "--format", "csv"}, 0, "ops@example.com"},
		{[]string{"users", "bogus"}, 2, ""},
		{[]string{"users", "list", "--format", "xml"}, 2, ""},
		{[]string{"users", "delete", "nobody@example.com"}, 1, ""},
		{[]string{"users", "delete", "ops@example.com"}, 1, ""}, // the last ADMIN
	} {
		code, out, errs := runBinary(t, dir, env, tc.args...)
		if code != tc.code || !strings.Contains(out, tc.stdout) {
			t.Errorf("usersvc %s: exit %d, stdout %q; want %d and %q\nstderr: %s", strings.Join(tc.args, " "), code, out, tc.code, tc.stdout, errs)
		}
		if lines := strings.Count(strings.TrimSpace(errs), "\n") + 1; tc.code != 0 && (errs == "" || lines != 1) {
			t.Errorf("usersvc %s: stderr %q, want one line", strings.Join(tc.args, " "), errs)
		}
	}
}
