// Package metrics builds the service's Prometheus registry and the
// collectors read at scrape time: the Go runtime and the process, the
// password hasher's load and the email outbox's backlog. The HTTP edge
// registers its own request metrics (httpapi.Options.Metrics); cmd/usersvc
// wires the two. Adapters never import each other, so the hasher and the
// store are reached through the small function types below.
package metrics

import (
	"cmp"
	"context"
	"log/slog"
	"sync"
	"time"

	// github.com/prometheus/client_golang is the Prometheus project's own Go
	// client, the standard and well-kept library for exposing metrics.
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns a registry of its own, never the global default (so
// tests can build many), with the Go runtime and process collectors.
func NewRegistry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// HashLoad reports how many password hashes run and how many callers wait
// for a slot: argon2hash.(*Hasher).Load.
type HashLoad func() (running, waiting int)

// RegisterHashLoad registers usersvc_password_hashes_running and
// usersvc_password_hashes_waiting, read from load at every scrape.
func RegisterHashLoad(reg prometheus.Registerer, load HashLoad) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "usersvc_password_hashes_running",
			Help: "Password hashes (argon2id) running now; at most HASH_CONCURRENCY.",
		}, func() float64 { r, _ := load(); return float64(r) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "usersvc_password_hashes_waiting",
			Help: "Callers waiting for a password hashing slot; past the queue's bound they are refused with 503.",
		}, func() float64 { _, w := load(); return float64(w) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// CacheStats reports an in-memory cache's hits and misses so far:
// authcache.(*Store).Stats.
type CacheStats func() (hits, misses uint64)

// RegisterAuthCache registers usersvc_auth_cache_hits_total and
// usersvc_auth_cache_misses_total: how many request authentications were
// answered from memory, and how many read the database.
func RegisterAuthCache(reg prometheus.Registerer, stats CacheStats) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "usersvc_auth_cache_hits_total",
			Help: "Request authentications answered from the in-process cache, without a query.",
		}, func() float64 { h, _ := stats(); return float64(h) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "usersvc_auth_cache_misses_total",
			Help: "Request authentications that read the session and its user from the database.",
		}, func() float64 { _, m := stats(); return float64(m) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// OutboxCounts reports the email outbox's backlog: the messages not sent
// yet and those given up. sqlstore.(*Store).OutboxCounts.
type OutboxCounts func(ctx context.Context) (pending, failed int, err error)

// DefaultOutboxTimeout bounds the outbox query of one scrape.
const DefaultOutboxTimeout = 2 * time.Second

// RegisterOutbox registers usersvc_outbox_pending and usersvc_outbox_failed,
// read through counts at every scrape within timeout (DefaultOutboxTimeout
// if not positive), so a slow database never holds a scrape up. When the
// query fails the two gauges are left out of that scrape (an absent()
// alert sees it), usersvc_outbox_count_errors_total counts the failure and
// it is logged; the rest of the scrape is served as usual.
func RegisterOutbox(reg prometheus.Registerer, counts OutboxCounts, timeout time.Duration, log *slog.Logger) error {
	if timeout <= 0 {
		timeout = DefaultOutboxTimeout
	}
	return reg.Register(&outboxCollector{
		counts:  counts,
		timeout: timeout,
		log:     log,
		pending: prometheus.NewDesc("usersvc_outbox_pending",
			"Emails in the outbox not sent yet: due, waiting for a retry or being sent.", nil, nil),
		failed: prometheus.NewDesc("usersvc_outbox_failed",
			"Emails in the outbox given up after their last attempt.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "usersvc_outbox_count_errors_total",
			Help: "Scrapes whose outbox query failed or timed out.",
		}),
	})
}

type outboxCollector struct {
	counts          OutboxCounts
	timeout         time.Duration
	log             *slog.Logger
	pending, failed *prometheus.Desc
	errors          prometheus.Counter
	what            string // what is counted, for the log; the outbox if empty

	// The counts are cached: /metrics is unauthenticated, and a flood of
	// scrapes must not become a flood of queries holding pool connections.
	mu                      sync.Mutex
	at                      time.Time
	lastPending, lastFailed int
}

// outboxCacheFor is how long one count serves every scrape.
const outboxCacheFor = 15 * time.Second

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.pending
	ch <- c.failed
	c.errors.Describe(ch)
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	// The registry gives Collect no context; the scrape's own deadline
	// cannot reach the query, so it gets one of its own.
	c.mu.Lock() // one query at a time; the others wait for its answer
	defer c.mu.Unlock()
	if !c.at.IsZero() && time.Since(c.at) < outboxCacheFor {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(c.lastPending))
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(c.lastFailed))
		c.errors.Collect(ch)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	pending, failed, err := c.counts(ctx)
	if err == nil {
		c.at, c.lastPending, c.lastFailed = time.Now(), pending, failed
	}
	if err != nil {
		c.errors.Inc()
		if c.log != nil {
			what := cmp.Or(c.what, "the outbox")
			c.log.Warn("metrics: counting "+what+" failed", "error", err)
		}
	} else {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(pending))
		ch <- prometheus.MustNewConstMetric(c.failed, prometheus.GaugeValue, float64(failed))
	}
	c.errors.Collect(ch)
}
