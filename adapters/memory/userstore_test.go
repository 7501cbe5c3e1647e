package memory_test

import (
	"testing"

	"github.com/usersvc/usersvc/adapters/memory"
	"github.com/usersvc/usersvc/ports"
	"github.com/usersvc/usersvc/ports/porttest"
)

func TestUserStore(t *testing.T) {
	porttest.UserStore(t, func(*testing.T) ports.UserStore { return memory.NewUserStore() })
}

func TestOutbox(t *testing.T) {
	porttest.Outbox(t, func(*testing.T) porttest.OutboxStore { return memory.NewUserStore() })
}

func TestSessionStore(t *testing.T) {
	porttest.SessionStore(t, func(*testing.T) porttest.SessionStoreUnderTest { return memory.NewUserStore() })
}

func TestAuditLog(t *testing.T) {
	porttest.AuditLog(t, func(*testing.T) porttest.AuditStoreUnderTest { return memory.NewUserStore() })
}

func TestUserImporter(t *testing.T) {
	porttest.UserImporter(t, func(*testing.T) porttest.ImporterUnderTest { return memory.NewUserStore() })
}

func TestWebhooks(t *testing.T) {
	porttest.Webhooks(t, func(*testing.T) porttest.WebhookStoreUnderTest { return memory.NewUserStore() })
}

func TestUserStats(t *testing.T) {
	t.Parallel()
	porttest.UserStats(t, func(*testing.T) porttest.StatsStoreUnderTest { return memory.NewUserStore() })
}
