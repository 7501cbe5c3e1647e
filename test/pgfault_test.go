package e2e_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	osuser "os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/lib/pq" // the tests' own connections

	"github.com/usersvc/usersvc/adapters/sqlstore/sqlstoretest"
)

// pgBin is where Debian keeps the server's programs.
func pgBin(t *testing.T, name string) string {
	t.Helper()
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/" + name)
	if len(matches) == 0 {
		t.Fatalf("no %s under /usr/lib/postgresql/*/bin: install PostgreSQL's server (apt-get install -y postgresql)", name)
	}
	return matches[len(matches)-1]
}

// cluster is a PostgreSQL server of the test's own, on a port of its own,
// so that it can be stopped and started without touching the shared one.
type cluster struct {
	t    *testing.T
	dir  string
	port int
	as   []string // the command prefix that runs as the cluster's owner
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c := &cluster{t: t, port: freePort(t)}
	dir, err := os.MkdirTemp("", "usersvc-pg-")
	if err != nil {
		t.Fatal(err)
	}
	c.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		// initdb refuses to run as root: the cluster belongs to postgres.
		u, err := osuser.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		c.as = []string{"runuser", "-u", "postgres", "--"}
	}
	c.run("initdb", "-D", filepath.Join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	c.start()
	t.Cleanup(func() { c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "immediate", "-w", "stop") })
	return c
}

func (c *cluster) run(name string, args ...string) {
	c.t.Helper()
	argv := append(append(append([]string{}, c.as...), pgBin(c.t, name)), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = c.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		c.t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

func (c *cluster) start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-w", "-l", filepath.Join(c.dir, "log"), "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", c.port, c.dir), "start")
}

func (c *cluster) stop() {
	c.t.Helper()
	c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-m", "fast", "-w", "stop")
}

func (c *cluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// TestPostgresRestartUnderLoad: the database of two instances goes away
// under steady load and comes back. While it is away every failure is a quick 503 (never a
// 500, never a hang); the service recovers by itself; and every
// registration it acknowledged is in the database afterwards.
func TestPostgresRestartUnderLoad(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	pg := newCluster(t)
	// Two instances on the one database, the load spread over both.
	var inst []*service
	for range 2 {
		env := baseEnv(t, pg.url())
		env["PUBLIC_BASE_URL"] = "http://users.example.test"
		inst = append(inst, startService(t, t.TempDir(), env))
	}
	s := inst[0]
	admin := newClient(s.URL).mustLogin(t, ctx, "admin@example.com", "admin-password-for-e2e")

	var mu sync.Mutex
	var acknowledged []string
	statuses := map[int]int{}
	var slowest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	record := func(status int, took time.Duration) {
		mu.Lock()
		statuses[status]++
		mu.Unlock()
		for {
			cur := slowest.Load()
			if int64(took) <= cur || slowest.CompareAndSwap(cur, int64(took)) {
				return
			}
		}
	}
	c := &http.Client{Timeout: 10 * time.Second}
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				email := fmt.Sprintf("pgfault-%d-%d@example.com", w, i)
				start := time.Now()
				resp, err := c.Post(inst[i%2].URL+"/register/", "application/json",
					strings.NewReader(`{"email":"`+email+`","password":"a fault-tolerant passphrase"}`))
				if err != nil {
					t.Errorf("register: %v (no answer within 10 s)", err)
					continue
				}
				resp.Body.Close()
				record(resp.StatusCode, time.Since(start))
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acknowledged = append(acknowledged, email)
					mu.Unlock()
				} else if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Error("a 503 without Retry-After")
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	for r := range 2 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, inst[r].URL+"/users/?limit=5", nil)
				req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
				resp, err := c.Do(req)
				if err != nil {
					t.Errorf("read: %v (no answer within 10 s)", err)
					continue
				}
				resp.Body.Close()
				record(resp.StatusCode, time.Since(start))
				time.Sleep(5 * time.Millisecond)
			}
		})
	}

	time.Sleep(time.Second)
	pg.stop()
	time.Sleep(1500 * time.Millisecond)
	pg.start()
	ready := time.Now()
	// The service recovers by itself: a read answers 200 soon after.
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/users/?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+admin.AccessToken)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Since(ready) > 10*time.Second {
			t.Fatalf("no 200 10 s after PostgreSQL came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("reads answer 200 again %v after PostgreSQL is ready", time.Since(ready).Round(time.Millisecond))
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("answers %v, slowest %v, %d registrations acknowledged", statuses, time.Duration(slowest.Load()).Round(time.Millisecond), len(acknowledged))
	for status, n := range statuses {
		if status != http.StatusOK && status != http.StatusServiceUnavailable {
			t.Errorf("%d answers %d: during an outage only 503 may fail", n, status)
		}
	}
	if statuses[http.StatusServiceUnavailable] == 0 {
		t.Error("no 503 while the database was stopped: was it?")
	}
	if d := time.Duration(slowest.Load()); d > 5*time.Second {
		t.Errorf("the slowest answer took %v: an outage must answer fast", d)
	}
	// Every acknowledged registration is in the database.
	db, err := sql.Open("postgres", pg.url())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	found := map[string]bool{}
	rows, err := db.QueryContext(context.Background(), "SELECT email FROM users WHERE email LIKE 'pgfault-%'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var e string
		_ = rows.Scan(&e)
		found[e] = true
	}
	rows.Close()
	lost := 0
	for _, e := range acknowledged {
		if !found[e] {
			lost++
		}
	}
	if lost > 0 || len(acknowledged) == 0 {
		t.Errorf("%d of %d acknowledged registrations lost", lost, len(acknowledged))
	}
}

// TestStalledRowExhaustsNothing: another session holds a user's row
// locked for seconds (a stalled transaction). Requests that need that row
// give up after the lock timeout with 503; the rest of the service goes
// on meanwhile; and afterwards no goroutine is left behind.
func TestStalledRowExhaustsNothing(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	dbURL := sqlstoretest.NewPostgresURL(t)
	s := startService(t, t.TempDir(), baseEnv(t, dbURL))
	admin := newClient(s.URL).mustLogin(t, ctx, "admin@example.com", "admin-password-for-e2e")
	createMember(t, ctx, s, admin.AccessToken, "stalled@example.com", "a stalled passphrase")
	other := userID(t, ctx, s, admin.AccessToken, "admin@example.com")
	baseline := goroutines(t, ctx, s)

	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, "SELECT 1 FROM users WHERE email = 'stalled@example.com' FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	const n = 40 // twice the pool
	statuses := make(chan int, n)
	start := time.Now()
	for range n {
		go func() {
			_, ans, err := newClient(s.URL).passwordLogin(ctx, "stalled@example.com", "a stalled passphrase")
			if err != nil {
				t.Error(err)
			}
			statuses <- ans.Status
		}()
	}
	// Meanwhile the rest of the service answers.
	time.Sleep(500 * time.Millisecond)
	for range 5 {
		ans := newClient(s.URL).withToken(admin.AccessToken).mustRaw(t, ctx, http.MethodGet, "/users/"+other, nil, nil)
		if ans.Status != http.StatusOK {
			t.Errorf("an unrelated read during the stall: %d", ans.Status)
		}
	}
	got := map[int]int{}
	for range n {
		got[<-statuses]++
	}
	took := time.Since(start)
	_ = tx.Rollback()
	t.Logf("logins behind the stalled row: %v in %v", got, took.Round(time.Millisecond))
	if got[http.StatusServiceUnavailable] != n {
		t.Errorf("answers %v, want %d × 503 (the lock timeout)", got, n)
	}
	if took > 15*time.Second {
		t.Errorf("the stalled logins took %v to answer", took)
	}
	// Afterwards the row logs in again, and the goroutines are back.
	if _, ans, _ := newClient(s.URL).passwordLogin(ctx, "stalled@example.com", "a stalled passphrase"); ans.Status != http.StatusOK {
		t.Errorf("login after the stall: %d", ans.Status)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := goroutines(t, ctx, s)
		if now <= baseline+10 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines after the stall, %d before", now, baseline)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// goroutines reads go_goroutines from /metrics.
func goroutines(t *testing.T, ctx context.Context, s *service) int {
	t.Helper()
	ans, err := newClient(s.URL).raw(ctx, http.MethodGet, "/metrics", nil, nil)
	if err != nil || ans.Status != http.StatusOK {
		t.Fatalf("/metrics: %v %d", err, ans.Status)
	}
	return int(metricValue(ans.Body, "go_goroutines"))
}
