package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
)

// changesChannel is the PostgreSQL notification channel on which every
// committed change of a user (its row, its sessions, its deletion) names
// the user's id, so that instances caching what authentication reads can
// drop it (PRODUCT.md 8.8: a revocation is honoured within a second on
// every other instance).
const changesChannel = "usersvc_user_changes"

// ErrNoChangeFeed: the database cannot tell other processes of changes
// (SQLite): a cache must not outlive a short time.
var ErrNoChangeFeed = errors.New("sqlstore: this database has no change notifications")

// How the listener keeps its connection.
const (
	listenMinReconnect = 100 * time.Millisecond
	listenMaxReconnect = 5 * time.Second
	// listenPing: a connection that died silently (a network gone) is
	// found within this, and reported as not live meanwhile.
	listenPing = 2 * time.Second
)

// HasChangeFeed reports whether WatchUserChanges can hear of changes
// other processes make (PostgreSQL).
func (s *Store) HasChangeFeed() bool {
	_, ok := s.d.(postgres)
	return ok
}

// WatchUserChanges calls changed with the id of every user whose change
// commits, from any other process on the database (or any other Store of
// this one), until ctx ends: this Store's own changes are the caller's to
// know of. live reports
// whether changes are being received: false while the listening connection
// is down (changes may be missed meanwhile), true once it listens again —
// the caller must then assume that anything may have changed. It returns
// ErrNoChangeFeed at once on SQLite, and an error if the server refuses to
// listen.
func (s *Store) WatchUserChanges(ctx context.Context, changed func(userID string), live func(bool)) error {
	pg, ok := s.d.(postgres)
	if !ok {
		return ErrNoChangeFeed
	}
	live(false)
	events := make(chan pq.ListenerEventType, 16)
	l := pq.NewListener(pg.dsn, listenMinReconnect, listenMaxReconnect, func(ev pq.ListenerEventType, _ error) {
		select {
		case events <- ev:
		default: // the next event, ping or notification tells the state
		}
	})
	defer func() { _ = l.Close() }()
	// Listen waits for the first connection; Close (on the way out) ends
	// the wait.
	listened := make(chan error, 1)
	go func() { listened <- l.Listen(changesChannel) }()
	ping := time.NewTicker(listenPing)
	defer ping.Stop()
	listening, up := false, false
	setLive := func(v bool) {
		if v != up {
			up = v
			live(v)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-listened:
			if err != nil {
				return fmt.Errorf("sqlstore: listen for user changes: %w", err)
			}
			listening = true
			setLive(true)
		case ev := <-events:
			switch {
			case !listening:
			case ev == pq.ListenerEventReconnected:
				setLive(true)
			case ev == pq.ListenerEventDisconnected, ev == pq.ListenerEventConnectionAttemptFailed:
				setLive(false)
			}
		case n := <-l.Notify:
			if n == nil {
				// A new connection: what was sent in the gap is lost.
				setLive(false)
				setLive(listening)
				continue
			}
			id, from, _ := strings.Cut(n.Extra, " ")
			if from != s.instance {
				changed(id)
			}
		case <-ping.C:
			if listening {
				setLive(l.Ping() == nil)
			}
		}
	}
}
