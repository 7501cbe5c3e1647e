package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/internal/testsupport"
)

// serve's pruner deletes a session over for longer than its retention,
// says so once in the log, keeps going, and stops with its context.
func TestPruneEvery(t *testing.T) {
	ctx := t.Context()
	store, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	u, err := domain.NewUser(domain.NewUserParams{ID: uuid.NewString(), Email: "pruned@example.com", Nickname: "pruned", PasswordHash: "x", Role: domain.RoleAuthenticated, Now: start})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := store.UpdateUser(ctx, u.ID(), func(cur *domain.User) error {
		cur.OpenSession(domain.NewSession(uuid.NewString(), start, domain.SessionPolicy{TTL: time.Hour}, "", ""), "refresh")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	clock := testsupport.NewClock(start.Add(sqlstore.DefaultRetention.Sessions + 2*time.Hour))
	var logs testsupport.Buffer
	pctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		pruneEvery(pctx, store, clock, 10*time.Millisecond, slog.New(slog.NewJSONHandler(&logs, nil)))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		sessions, err := store.ListSessions(ctx, u.ID(), start)
		if err != nil {
			t.Fatal(err)
		}
		// Listed as of its start, the session shows until it is deleted.
		if len(sessions) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the expired session is still there after 10 s of pruning")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // a few more passes, with nothing to prune
	stop()
	<-done
	pruned := 0
	for _, l := range logs.JSONLines(t) {
		if l["msg"] == "pruned rows past their retention" {
			pruned++
			if l["sessions"] != float64(1) {
				t.Errorf("logged %v sessions pruned, want 1", l["sessions"])
			}
		}
	}
	if pruned != 1 {
		t.Errorf("%d log lines of pruning, want 1 (passes that prune nothing are quiet): %s", pruned, logs.String())
	}
}
