package testsupport

import (
	"context"
	"database/sql/driver"
	"sync"
)

// QueryCounter counts what a database connection pool sends: statements
// (queries and execs, inside transactions or not) and transactions begun.
// Wrap a driver.Connector with it; tests read Snapshot before and after
// the work they measure.
type QueryCounter struct {
	mu         sync.Mutex
	statements int
	txs        int
	log        []string
	fail       func(query string) error
}

// FailWhen makes every statement for which fail returns an error fail with
// it, before it reaches the database: tests inject a fault into one write
// of a transaction. nil stops injecting.
func (c *QueryCounter) FailWhen(fail func(query string) error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fail = fail
}

// QueryCount is a snapshot of a QueryCounter.
type QueryCount struct {
	Statements   int      // every query and exec, BEGIN/COMMIT not included
	Transactions int      // explicit transactions begun
	Log          []string // the statements, in order
}

// Snapshot returns the counts so far.
func (c *QueryCounter) Snapshot() QueryCount {
	c.mu.Lock()
	defer c.mu.Unlock()
	return QueryCount{Statements: c.statements, Transactions: c.txs, Log: append([]string(nil), c.log...)}
}

// Since returns what was counted after before was taken.
func (c *QueryCounter) Since(before QueryCount) QueryCount {
	now := c.Snapshot()
	return QueryCount{
		Statements:   now.Statements - before.Statements,
		Transactions: now.Transactions - before.Transactions,
		Log:          now.Log[len(before.Log):],
	}
}

// statement counts q and reports the fault to inject, if any.
func (c *QueryCounter) statement(q string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.statements++
	c.log = append(c.log, q)
	if c.fail != nil {
		return c.fail(q)
	}
	return nil
}

func (c *QueryCounter) tx() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.txs++
	c.log = append(c.log, "BEGIN")
}

// Wrap returns a connector whose connections report to c.
func (c *QueryCounter) Wrap(inner driver.Connector) driver.Connector {
	return &countingConnector{inner: inner, c: c}
}

type countingConnector struct {
	inner driver.Connector
	c     *QueryCounter
}

func (k *countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := k.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: k.c}, nil
}

func (k *countingConnector) Driver() driver.Driver { return k.inner.Driver() }

// countingConn forwards every optional driver interface the real drivers
// (lib/pq, modernc sqlite) implement; where the inner connection lacks one,
// it answers as database/sql does without it (driver.ErrSkip, nil, true).
type countingConn struct {
	driver.Conn
	c *QueryCounter
}

func (k *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	qc, ok := k.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := k.c.statement(q); err != nil {
		return nil, err
	}
	return qc.QueryContext(ctx, q, args)
}

func (k *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	ec, ok := k.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	if err := k.c.statement(q); err != nil {
		return nil, err
	}
	return ec.ExecContext(ctx, q, args)
}

func (k *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if pc, ok := k.Conn.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, q)
	} else {
		st, err = k.Prepare(q)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, q: q, c: k.c}, nil
}

func (k *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	k.c.tx()
	if bt, ok := k.Conn.(driver.ConnBeginTx); ok {
		return bt.BeginTx(ctx, opts)
	}
	return k.Begin() //nolint:staticcheck // the fallback database/sql itself uses
}

func (k *countingConn) Ping(ctx context.Context) error {
	if p, ok := k.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (k *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := k.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (k *countingConn) IsValid() bool {
	if v, ok := k.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

func (k *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := k.Conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

// countingStmt counts prepared statements when they run.
type countingStmt struct {
	driver.Stmt
	q string
	c *QueryCounter
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.c.statement(s.q); err != nil {
		return nil, err
	}
	if ec, ok := s.Stmt.(driver.StmtExecContext); ok {
		return ec.ExecContext(ctx, args)
	}
	return s.Exec(values(args)) //nolint:staticcheck // the fallback database/sql itself uses
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.c.statement(s.q); err != nil {
		return nil, err
	}
	if qc, ok := s.Stmt.(driver.StmtQueryContext); ok {
		return qc.QueryContext(ctx, args)
	}
	return s.Query(values(args)) //nolint:staticcheck // the fallback database/sql itself uses
}

func values(named []driver.NamedValue) []driver.Value {
	out := make([]driver.Value, len(named))
	for i, nv := range named {
		out[i] = nv.Value
	}
	return out
}

func (s *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := s.Stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
