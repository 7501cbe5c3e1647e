package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

// importBenchRows is the size of the file the import benchmark reads.
const importBenchRows = 100_000

// importBenchFile writes a file of n users moving in from another system:
// bcrypt hashes (one, as hashing is not what is measured), half with a
// nickname, half to be given a generated one.
func importBenchFile(b *testing.B, n int) string {
	b.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("a moved passphrase"), bcrypt.MinCost)
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString("email,nickname,first_name,last_name,password_hash\n")
	for i := range n {
		nick := ""
		if i%2 == 0 {
			nick = fmt.Sprintf("moved_%06d", i)
		}
		fmt.Fprintf(&buf, "user%06d@example.com,%s,First%d,Last%d,%s\n", i, nick, i, i, hash)
	}
	path := filepath.Join(b.TempDir(), "users.csv")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkImport runs `usersvc users import` of 100,000 lines into an
// empty database, checks included, and reports rows per second.
func BenchmarkImport(b *testing.B) {
	file := importBenchFile(b, importBenchRows)
	for _, db := range []struct {
		name  string
		newDB func(b *testing.B) string
	}{
		{"sqlite", func(b *testing.B) string { return "sqlite:" + filepath.Join(b.TempDir(), "bench.db") }},
		{"postgres", func(b *testing.B) string { return sqlstoretest.NewPostgresURL(b) }},
	} {
		b.Run(db.name, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				env := map[string]string{"DATABASE_URL": db.newDB(b), "JWT_SECRET": strings.Repeat("k", 32)}
				getenv := func(k string) string { return env[k] }
				if err := run(context.Background(), []string{"migrate", "up"}, getenv, io.Discard, io.Discard); err != nil {
					b.Fatal(err)
				}
				var out bytes.Buffer
				b.StartTimer()
				if err := run(context.Background(), []string{"users", "import", "--file", file}, getenv, &out, io.Discard); err != nil {
					b.Fatalf("import: %v\n%s", err, out.String())
				}
				b.StopTimer()
				if !strings.Contains(out.String(), fmt.Sprintf("imported %d users", importBenchRows)) {
					b.Fatalf("import said %q", out.String())
				}
			}
			b.ReportMetric(float64(importBenchRows*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
