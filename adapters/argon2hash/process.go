package argon2hash

import (
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"

	"github.com/usersvc/usersvc/domain"
)

// WorkerCommand is the argument that makes the service's binary a hash
// worker (see ServeWorker): its main hands the process to ServeWorker when
// started with it.
const WorkerCommand = "hash-worker"

// ErrWorkerGone is a hash lost because the worker process ended while it
// ran; the next hash starts a new worker.
var ErrWorkerGone = fmt.Errorf("the hash worker process ended: %w", domain.ErrUnavailable)

// WithProcess runs the hashes in a child process, path started with
// WorkerCommand, at niceness nice (0: the usual priority; 19: the lowest).
// The operating system then shares the CPU between hashes and requests:
// a hash takes only what requests leave, however many lanes argon2 runs
// and whatever Go's scheduler does inside the worker (a Go program cannot
// give its own goroutines a priority; argon2 starts goroutines of its
// own). The worker's environment holds the Go runtime's settings alone:
// never the service's secrets. It runs in a process group of its own, so
// a terminal's Ctrl-C reaches the service, which ends it. Close stops it;
// a worker that dies or hangs fails the hashes it ran with ErrWorkerGone
// and is started again by a later hash.
func WithProcess(path string, nice int) Option {
	return func(o *options) { o.process, o.nice = path, nice }
}

// The worker's protocol: gob-encoded requests on its standard input,
// responses on its standard output, matched by ID; hashes run concurrently.
type workerRequest struct {
	ID       uint64
	Op       workerOp
	Password string
	Hash     string // of a check
	Params   argon2id.Params
}

type workerOp uint8

const (
	opCreate workerOp = iota + 1
	opCheck
	opCheckBcrypt
)

type workerResponse struct {
	ID     uint64
	Hash   string
	OK     bool
	Params argon2id.Params // of the hash checked
	Err    string
}

// callTimeout bounds a hash in the worker: far beyond any setting's (the
// largest HASH_MEMORY_KIB and HASH_ITERATIONS take seconds, the defaults
// 25 ms), it only ends a worker that is stuck.
var callTimeout = time.Minute

// restartGap is the least time between two starts of a worker: one that
// cannot start or dies at once fails hashes as unavailable meanwhile,
// rather than being forked again for each of them.
const restartGap = time.Second

// process is the parent's end of the worker processes, one at a time.
type process struct {
	path string
	nice int

	mu        sync.Mutex
	cur       *worker // nil: none runs; the next call starts one
	lastStart time.Time
	nextID    uint64
	closed    bool
}

// worker is one worker process and the calls it has not answered.
type worker struct {
	enc     *gob.Encoder
	stdin   io.Closer
	proc    *os.Process
	exited  <-chan struct{}
	pending map[uint64]chan workerResponse // guarded by process.mu
}

func newProcess(path string, nice int) *process {
	return &process{path: path, nice: nice}
}

// call sends req to the worker, starting one if none runs, and waits for
// its answer. It does not give up on a cancelled context: the hash runs
// to its end either way, and the caller's slot must stay taken until then.
func (p *process) call(req workerRequest) (workerResponse, error) {
	ch := make(chan workerResponse, 1)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return workerResponse{}, fmt.Errorf("hasher closed: %w", domain.ErrUnavailable)
	}
	if p.cur == nil {
		if since := time.Since(p.lastStart); since < restartGap {
			p.mu.Unlock()
			return workerResponse{}, fmt.Errorf("%w: restarted %s ago", ErrWorkerGone, since.Round(time.Millisecond))
		}
		p.lastStart = time.Now()
		w, err := p.start()
		if err != nil {
			p.mu.Unlock()
			return workerResponse{}, err
		}
		p.cur = w
	}
	w := p.cur
	p.nextID++
	req.ID = p.nextID
	w.pending[req.ID] = ch
	if err := w.enc.Encode(req); err != nil {
		// The worker is gone, or going: the next call starts another. Its
		// reader fails what is still pending on it.
		delete(w.pending, req.ID)
		p.cur = nil
		p.mu.Unlock()
		_ = w.stdin.Close()
		return workerResponse{}, fmt.Errorf("%w: %w", ErrWorkerGone, err)
	}
	p.mu.Unlock()
	timer := time.NewTimer(callTimeout)
	defer timer.Stop()
	var resp workerResponse
	var ok bool
	select {
	case resp, ok = <-ch:
	case <-timer.C:
		// A worker that answers nothing for so long is stuck (stopped,
		// or starved): killed, it fails what it holds, and the next call
		// starts another, rather than every slot staying taken.
		_ = w.proc.Kill()
		resp, ok = <-ch
	}
	if !ok {
		return workerResponse{}, ErrWorkerGone
	}
	if resp.Err != "" {
		return resp, errors.New(resp.Err)
	}
	return resp, nil
}

// start runs a worker; p.mu is held.
func (p *process) start() (*worker, error) {
	cmd := exec.Command(p.path, WorkerCommand) //nolint:gosec,noctx // the program's own file, never input; it lives until Close, not a request
	cmd.Env = workerEnv()
	cmd.Stderr = os.Stderr // a crash's trace, with the service's own output
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start the hash worker: %w", err)
	}
	// A pipe of our own rather than StdoutPipe, which Wait closes when the
	// worker exits, perhaps before its last answers are read.
	stdout, out, err := os.Pipe()
	if err != nil {
		_ = stdin.Close()
		return nil, fmt.Errorf("start the hash worker: %w", err)
	}
	cmd.Stdout = out
	exited, err := startAtNiceness(cmd, p.nice)
	_ = out.Close()
	if err != nil {
		_ = stdin.Close()
		_ = stdout.Close()
		return nil, fmt.Errorf("start the hash worker %s: %w: %w", p.path, domain.ErrUnavailable, err)
	}
	w := &worker{
		enc: gob.NewEncoder(stdin), stdin: stdin, proc: cmd.Process, exited: exited,
		pending: map[uint64]chan workerResponse{},
	}
	go p.read(w, stdout)
	return w, nil
}

// workerEnv is the worker's environment: the Go runtime's settings of the
// service (memory limit, GC, GOMAXPROCS), if any, and nothing else, so the
// worker never holds a secret of the service's configuration.
func workerEnv() []string {
	env := []string{}
	for _, k := range []string{"GOMEMLIMIT", "GOGC", "GOMAXPROCS", "GODEBUG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// read delivers w's answers until its output ends, then fails what it
// left unanswered and, if w is still the current worker, forgets it, so
// the next call starts a new one.
func (p *process) read(w *worker, stdout io.ReadCloser) {
	defer stdout.Close()
	dec := gob.NewDecoder(stdout)
	for {
		var resp workerResponse
		if err := dec.Decode(&resp); err != nil {
			break
		}
		p.mu.Lock()
		ch := w.pending[resp.ID]
		delete(w.pending, resp.ID)
		p.mu.Unlock()
		if ch != nil {
			ch <- resp
		}
	}
	_ = w.stdin.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for id, ch := range w.pending {
		close(ch)
		delete(w.pending, id)
	}
	if p.cur == w {
		p.cur = nil
	}
}

// close ends the worker once the hashes sent have been answered (it exits
// when its input ends), killing it if it has not within wait.
func (p *process) close(wait time.Duration) {
	p.mu.Lock()
	p.closed = true
	w := p.cur
	p.mu.Unlock()
	if w == nil {
		return
	}
	_ = w.stdin.Close()
	select {
	case <-w.exited:
	case <-time.After(wait):
		_ = w.proc.Kill()
		<-w.exited
	}
}

// ServeWorker answers a parent's hash requests from in on out until in
// ends, running them concurrently: the parent bounds how many it sends.
func ServeWorker(in io.Reader, out io.Writer) error {
	if f, ok := in.(*os.File); ok {
		in = pollable(f)
	}
	dec := gob.NewDecoder(in)
	enc := gob.NewEncoder(out)
	var mu sync.Mutex
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var req workerRequest
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("hash worker: read a request: %w", err)
		}
		wg.Go(func() {
			resp := serve(req)
			mu.Lock()
			// A parent that has gone cannot be answered; its input ends next.
			_ = enc.Encode(resp)
			mu.Unlock()
			// After the answer, not before: the heap has grown by now.
			adviseHugePages()
		})
	}
}

func serve(req workerRequest) (resp workerResponse) {
	resp.ID = req.ID
	var err error
	switch req.Op {
	case opCreate:
		resp.Hash, err = argon2id.CreateHash(req.Password, &req.Params)
	case opCheck:
		var p *argon2id.Params
		resp.OK, p, err = argon2id.CheckHash(req.Password, req.Hash)
		if p != nil {
			resp.Params = *p
		}
	case opCheckBcrypt:
		resp.OK, err = checkBcrypt(req.Password, req.Hash)
	default:
		err = fmt.Errorf("unknown operation %d", req.Op)
	}
	if err != nil {
		resp.Err = err.Error()
	}
	return resp
}
