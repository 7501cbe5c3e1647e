package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/usersvc/usersvc/adapters/httpapi"
	"github.com/usersvc/usersvc/adapters/sqlstore"
	"github.com/usersvc/usersvc/adapters/system"
	"github.com/usersvc/usersvc/app"
	"github.com/usersvc/usersvc/internal/logbuf"
	"github.com/usersvc/usersvc/ports"
)

// defaultGCPercent is the service's GOGC unless the environment sets one,
// when hashes run in the worker process (HASH_PRIORITY=low, the default).
// The live heap is then small (caches and the requests in flight, tens of
// MiB), and Go's default of collecting whenever the heap doubles collected
// many times a second under load; at four times the live heap a cached
// read costs about 5 % less CPU (measured beside GOGC=100), for tens of
// MiB. With hashes in-process, HASH_CONCURRENCY times HASH_MEMORY_KIB is
// live during a burst of logins, and four times that could be too much:
// Go's default stays.
const defaultGCPercent = 400

// gcPercent is the GOGC serve sets, if it sets one (see defaultGCPercent).
func gcPercent(getenv func(string) string, c config) (int, bool) {
	if getenv("GOGC") != "" || c.HashNice == 0 {
		return 0, false
	}
	return defaultGCPercent, true
}

func serve(ctx context.Context, getenv func(string) string, stderr io.Writer) error {
	c, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	proxies, err := httpapi.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("TRUSTED_PROXIES: %w", err)
	}
	origins, err := httpapi.ParseCORSOrigins(c.CORSOrigins)
	if err != nil {
		return fmt.Errorf("CORS_ORIGINS: %w", err)
	}
	// Lines in batches; a warning or an error at once (see logbuf).
	logs := logbuf.New(stderr)
	defer func() { _ = logs.Close() }()
	log := slog.New(logbuf.FlushAt(newLogger(c, logs).Handler(), logs, slog.LevelWarn))
	if percent, ok := gcPercent(getenv, c); ok {
		debug.SetGCPercent(percent)
	}
	if c.Production && c.SMTPURL == "" {
		log.Warn("APP_ENV=production without SMTP_URL: emails are only logged, without their links, so nobody can verify or reset; set SMTP_URL")
	}
	tokens, err := newTokens(c, log)
	if err != nil {
		return err
	}
	store, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer store.Close()
	dispatcher, err := newDispatcher(c, store, log)
	if err != nil {
		return err
	}
	hasher, err := newServingHasher(c)
	if err != nil {
		return err
	}
	defer hasher.Close()
	// The cache's watcher stops with the service, after the server.
	wctx, stopWatching := context.WithCancel(context.WithoutCancel(ctx))
	cache, watched, err := newAuthCache(wctx, store, log)
	if err != nil {
		stopWatching()
		return err
	}
	defer func() {
		stopWatching()
		<-watched
	}()
	svc, err := newServiceWith(ctx, c, store, cache, hasher, tokens, dispatcher.Wake, log)
	if err != nil {
		return err
	}
	csrfKey, err := consoleKey(c)
	if err != nil {
		return err
	}
	reg, err := newMetrics(store, hasher, cache, log)
	if err != nil {
		return err
	}
	hooks, hookDispatcher, err := webhooksOf(c, store, reg, log)
	if err != nil {
		return err
	}
	// The dispatcher outlives the HTTP server: requests finishing during
	// shutdown may queue mail, and it is sent before the process exits.
	dctx, stopDispatcher := context.WithCancel(context.WithoutCancel(ctx))
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		dispatcher.Run(dctx)
	}()
	defer func() {
		stopDispatcher()
		<-dispatched
	}()
	// The webhook dispatcher too; stopping, it finishes the attempts it
	// has begun and records them.
	hctx, stopHooks := context.WithCancel(context.WithoutCancel(ctx))
	hooked := make(chan struct{})
	go func() {
		defer close(hooked)
		hookDispatcher.Run(hctx)
	}()
	defer func() {
		stopHooks()
		<-hooked
	}()
	if c.AdminEmail != "" {
		policy := app.WarnOnWeak
		if c.Production {
			policy = app.EnforcePolicy
		}
		created, err := svc.EnsureAdmin(ctx, c.AdminEmail, c.AdminPassword, policy)
		if err != nil {
			return fmt.Errorf("bootstrap admin: %w", err)
		}
		if created {
			log.Info("created the bootstrap admin", "email", c.AdminEmail)
		}
	}

	srv := &http.Server{
		Handler: httpapi.NewServer(log, svc, httpapi.Options{
			RateLimits: c.RateLimits, SharedLimiter: sharedLimits(wctx, store, log),
			TrustedProxies: proxies, CORSOrigins: origins, Ready: store.Ping,
			PublicBaseURL: explicitBaseURL(getenv),
			Metrics:       reg,
			TokenKeys:     tokens,
			Webhooks:      hooks,
			// Production: /metrics only with METRICS_TOKEN (404 without one).
			ProtectMetrics: c.Production, MetricsToken: c.MetricsToken,
			// The console's cookies are Secure (__Host-) outside development.
			SecureCookies: c.Production, ConsoleKey: csrfKey,
		}),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", c.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.HTTPAddr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "database", storeKind(c.DatabaseURL))
	go pruneEvery(wctx, store, system.Clock{}, pruneInterval, log)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// SIGTERM: no new connections; the requests in flight get
	// SHUTDOWN_TIMEOUT to finish (their contexts are not cancelled), then
	// the rest are cut. Either way the process exits 0: stopping is what
	// was asked. The dispatcher then finishes its current send (deferred).
	log.Info("shutting down: finishing the requests in flight", "timeout", c.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("requests still running after SHUTDOWN_TIMEOUT were cut", "error", err)
		_ = srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

// storeKind names the database without its credentials, for the log.
func storeKind(databaseURL string) string {
	if len(databaseURL) >= 6 && databaseURL[:6] == "sqlite" {
		return "sqlite"
	}
	return "postgres"
}

// explicitBaseURL is PUBLIC_BASE_URL when the operator set it. Links in API
// answers then use it (the right scheme and host behind a proxy); when it is
// unset they are built from the request, as the seed built them.
func explicitBaseURL(getenv func(string) string) string {
	return strings.TrimRight(strings.TrimSpace(getenv("PUBLIC_BASE_URL")), "/")
}

// pruneInterval is how often the rows retention no longer keeps are
// deleted (sqlstore.DefaultRetention); the first pass runs a minute after
// the start, out of the way of a rolling restart.
const pruneInterval = time.Hour

// pruneEvery prunes store every interval until ctx ends. Instances prune
// independently: the deletes are idempotent, and cheap when nothing is due.
func pruneEvery(ctx context.Context, store *sqlstore.Store, clock ports.Clock, interval time.Duration, log *slog.Logger) {
	every(ctx, min(time.Minute, interval), interval, func() {
		p, err := store.Prune(ctx, clock.Now(), sqlstore.DefaultRetention)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("pruning old sessions, messages and webhook deliveries failed", "error", err)
		case p != (sqlstore.Pruned{}):
			log.Info("pruned rows past their retention", "sessions", p.Sessions, "messages", p.Messages,
				"webhook_deliveries", p.Deliveries, "webhook_events", p.Events, "change_receipts", p.Receipts)
		}
	})
}

// every runs fn after first, then every interval after each run ends,
// until ctx ends.
func every(ctx context.Context, first, interval time.Duration, fn func()) {
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
		t.Reset(interval)
	}
}

// limitSweep is how often full budgets are deleted from the shared limits.
const limitSweep = time.Minute

// sharedLimits is the rate limiter every instance counts against on
// PostgreSQL (nil on SQLite: one process, limits in memory), with its
// sweeper running until ctx ends.
func sharedLimits(ctx context.Context, store *sqlstore.Store, log *slog.Logger) httpapi.SharedLimiter {
	rl, err := store.RateLimiter()
	if err != nil {
		return nil
	}
	go every(ctx, limitSweep, limitSweep, func() {
		if _, err := rl.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweeping the shared rate limits failed", "error", err)
		}
	})
	return rl
}
