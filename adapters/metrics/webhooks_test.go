package metrics_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/usersvc/usersvc/adapters/metrics"
)

func TestWebhookMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	pending, failed := 7, 2
	w, err := metrics.RegisterWebhooks(reg, func(context.Context) (int, int, error) { return pending, failed, nil }, 0,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	w.Count("sent")
	w.Count("sent")
	w.Count("retried")
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP usersvc_webhook_count_errors_total Scrapes whose count of webhook deliveries failed or timed out.
# TYPE usersvc_webhook_count_errors_total counter
usersvc_webhook_count_errors_total 0
# HELP usersvc_webhook_deliveries_failed Webhook deliveries given up after their last attempt.
# TYPE usersvc_webhook_deliveries_failed gauge
usersvc_webhook_deliveries_failed 2
# HELP usersvc_webhook_deliveries_pending Webhook deliveries not delivered yet: due, waiting for a retry or being sent (the backlog).
# TYPE usersvc_webhook_deliveries_pending gauge
usersvc_webhook_deliveries_pending 7
# HELP usersvc_webhook_deliveries_total Webhook delivery attempts by this process, by outcome: sent (answered 2xx), retried (failed; another attempt scheduled), failed (the last attempt failed; given up).
# TYPE usersvc_webhook_deliveries_total counter
usersvc_webhook_deliveries_total{outcome="failed"} 0
usersvc_webhook_deliveries_total{outcome="retried"} 1
usersvc_webhook_deliveries_total{outcome="sent"} 2
`))
	if err != nil {
		t.Error(err)
	}

	// A backlog that cannot be read leaves its gauges out, counts the
	// failure and says so in the log.
	reg2 := prometheus.NewRegistry()
	if _, err := metrics.RegisterWebhooks(reg2, func(context.Context) (int, int, error) { return 0, 0, errors.New("db down") }, 0,
		slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg2, "usersvc_webhook_deliveries_pending"); err != nil || n != 0 {
		t.Errorf("pending with the count failing: %d series, %v; want none", n, err)
	}
	if n, err := testutil.GatherAndCount(reg2, "usersvc_webhook_count_errors_total"); err != nil || n != 1 {
		t.Errorf("count errors: %d, %v", n, err)
	}
	if !strings.Contains(logs.String(), "counting webhook deliveries failed") {
		t.Errorf("the failure is not in the log: %s", logs.String())
	}
}
