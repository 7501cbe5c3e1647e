package e2e_test

import (
	"context"
	"net/http"
	"testing"
)

// Load runs against the real binary (make bench): many clients at once on
// the hot path of an API, an authenticated read, per database. They are
// benchmarks, not tests: compare the figures of one run with each other.

func BenchmarkLoadAuthenticatedReads(b *testing.B) {
	for _, db := range databases {
		b.Run(db.name, func(b *testing.B) {
			env := baseEnv(b, db.url(b))
			svc := startService(b, b.TempDir(), env)
			ctx := context.Background()
			admin := newClient(svc.URL)
			if err := admin.login(ctx, "admin@example.com", "admin-password-for-e2e"); err != nil {
				b.Fatal(err)
			}
			transport := &http.Transport{MaxIdleConnsPerHost: 64}
			b.SetParallelism(16) // 32 clients on two cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := &client{base: svc.URL, token: admin.token, http: &http.Client{Transport: transport}}
				for pb.Next() {
					if _, err := c.me(ctx); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

func BenchmarkLoadListUsers(b *testing.B) {
	for _, db := range databases {
		b.Run(db.name, func(b *testing.B) {
			svc := startService(b, b.TempDir(), baseEnv(b, db.url(b)))
			ctx := context.Background()
			admin := newClient(svc.URL)
			if err := admin.login(ctx, "admin@example.com", "admin-password-for-e2e"); err != nil {
				b.Fatal(err)
			}
			transport := &http.Transport{MaxIdleConnsPerHost: 64}
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				c := &client{base: svc.URL, token: admin.token, http: &http.Client{Transport: transport}}
				for pb.Next() {
					if _, err := c.listUsers(ctx, 0, 10); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
