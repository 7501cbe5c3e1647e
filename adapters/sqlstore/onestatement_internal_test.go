package sqlstore

import (
	"strings"
	"testing"
)

func TestGated(t *testing.T) {
	t.Parallel()
	for query, want := range map[string]string{
		insertEvent: "INSERT INTO audit_log (id, type, actor_id, target_id, ip, at, detail) SELECT ?, ?, ?, ?, ?, ?, ? FROM gate",
		insertMessage: "INSERT INTO outbox (id, kind, recipient, name, link, status, attempts, next_attempt_at, created_at)" +
			" SELECT ?, ?, ?, ?, ?, 'pending', 0, ?, ? FROM gate",
		endSession: "UPDATE sessions SET revoked_at = ? WHERE EXISTS (SELECT FROM gate) AND (id = ? AND user_id = ? AND revoked_at IS NULL)",
	} {
		got, err := gated(query)
		if err != nil || got != want {
			t.Errorf("gated(%q) =\n %q, %v; want\n %q", query, got, err, want)
		}
		if strings.Count(got, "?") != strings.Count(query, "?") {
			t.Errorf("gated(%q) changed the number of parameters", query)
		}
	}
	// Anything else could write whatever the gate says: refused.
	for _, query := range []string{
		"DELETE FROM sessions WHERE id = ?",
		"INSERT INTO users (id) VALUES (?), (?)",
		"INSERT INTO t (a) VALUES (lower(?))",
		"INSERT INTO t (a) SELECT a FROM u",
		"UPDATE users SET n = n + 1",
		"SELECT 1",
	} {
		if got, err := gated(query); err == nil {
			t.Errorf("gated(%q) = %q, want an error", query, got)
		}
	}
}
