package memory

import (
	"context"
	"fmt"
	"strings"

	"github.com/usersvc/usersvc/domain"
	"github.com/usersvc/usersvc/ports"
)

var _ ports.UserImporter = (*UserStore)(nil)

// TakenEmails implements ports.UserImporter.
func (s *UserStore) TakenEmails(ctx context.Context, emails []string) (map[string]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(emails))
	for _, e := range emails {
		want[e] = true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	taken := map[string]bool{}
	for _, st := range s.users {
		if want[st.Email] {
			taken[st.Email] = true
		}
	}
	return taken, nil
}

// TakenNicknames implements ports.UserImporter.
func (s *UserStore) TakenNicknames(ctx context.Context, nicknames []string) (map[string]bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	want := make(map[string]bool, len(nicknames))
	for _, n := range nicknames {
		want[strings.ToLower(n)] = true
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	taken := map[string]bool{}
	for _, st := range s.users {
		if n := strings.ToLower(st.Nickname); want[n] {
			taken[n] = true
		}
	}
	return taken, nil
}

// CreateUsers implements ports.UserImporter: every user is checked against
// the stored ones and the others before any is stored.
func (s *UserStore) CreateUsers(ctx context.Context, users []*domain.User) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make(map[string]bool, len(s.users)+len(users))
	emails := make(map[string]bool, len(s.users)+len(users))
	nicks := make(map[string]bool, len(s.users)+len(users))
	for id, st := range s.users {
		ids[id], emails[st.Email], nicks[strings.ToLower(st.Nickname)] = true, true, true
	}
	for _, u := range users {
		st := u.State()
		switch {
		case ids[st.ID]:
			return fmt.Errorf("memory: create users: id %s already exists: %w", st.ID, domain.ErrConflict)
		case emails[st.Email]:
			return domain.ErrEmailTaken
		case nicks[strings.ToLower(st.Nickname)]:
			return domain.ErrNicknameTaken
		}
		ids[st.ID], emails[st.Email], nicks[strings.ToLower(st.Nickname)] = true, true, true
	}
	type pending struct {
		st      domain.UserState
		msgs    []domain.Message
		events  []domain.AuditEvent
		entries []*outboxEntry
		saved   []domain.AuditEvent
	}
	all := make([]pending, len(users))
	var hooks []domain.WebhookEvent
	for i, u := range users {
		all[i] = pending{st: u.State(), msgs: u.TakeMessages(), events: u.TakeEvents()}
		hooks = append(hooks, u.TakeWebhookEvents()...)
	}
	var err error
	for i := range all {
		p := &all[i]
		if p.entries, err = newEntries(p.msgs, p.st.UpdatedAt); err != nil {
			break
		}
		if p.saved, err = newEvents(p.events, p.st.UpdatedAt); err != nil {
			break
		}
	}
	var deliveries []*delivery
	if err == nil {
		deliveries, err = s.fanOut(hooks)
	}
	if err != nil { // nothing stored: the messages and events stay on the users
		for i, u := range users {
			for _, m := range all[i].msgs {
				u.Queue(m)
			}
			for _, e := range all[i].events {
				u.Record(e) // and the webhook events it owes
			}
		}
		return err
	}
	for _, p := range all {
		s.users[p.st.ID] = p.st
		s.appendEntries(p.entries)
		s.events = append(s.events, p.saved...)
	}
	s.appendDeliveries(deliveries)
	return nil
}
