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

// WithProcess runs the hashes in child processes, path started with
// WorkerCommand, at niceness nice (0: the usual priority; 19: the lowest).
// The operating system then shares the CPU between hashes and requests:
// a hash takes only what requests leave, however many lanes argon2 runs
// and whatever Go's scheduler does inside the worker (a Go program cannot
// give its own goroutines a priority; argon2 starts goroutines of its
// own).
//
// Each slot of the hasher is a lane with a worker of its own, which runs
// one hash at a time; where every lane can have a CPU to itself (no more
// lanes than CPUs, one argon2 lane a hash), each worker is bound to its
// CPU. A worker then never waits in one CPU's queue while another CPU
// idles, nor loses its cache to a move: beside one worker for all
// lanes, logins ran 1.03x faster than the raw hash rate compared (paired
// runs, scripts/login-ab.sh argon2id).
//
// A worker's environment holds the Go runtime's settings alone: never
// the service's secrets. It runs in a process group of its own, so a
// terminal's Ctrl-C reaches the service, which ends it. Close stops the
// workers; one that dies or hangs fails its hash with ErrWorkerGone and
// is started again by a later hash.
func WithProcess(path string, nice int) Option {
	return func(o *options) { o.process, o.nice = path, nice }
}

// The worker's protocol: gob-encoded requests on its standard input,
// responses on its standard output, matched by ID. A lane sends one
// request at a time; the worker could answer several at once.
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

// restartGap is the least time between two starts of a lane's worker: one
// that cannot start or dies at once fails hashes as unavailable meanwhile,
// rather than being forked again for each of them.
const restartGap = time.Second

// process is a lane: the parent's end of its worker process, one at a
// time, which runs one hash at a time. The hasher gives a lane to one
// caller at a time.
type process struct {
	path string
	nice int
	cpu  int // the CPU its workers are bound to; -1: any

	mu        sync.Mutex
	cur       *worker // nil: none runs; the next call starts one
	lastStart time.Time
	nextID    uint64
	busy      bool // a call uses cur
	closed    bool
}

// worker is one worker process.
type worker struct {
	enc    *gob.Encoder
	dec    *gob.Decoder
	stdin  io.Closer
	stdout io.Closer
	proc   *os.Process
	exited <-chan struct{}
}

func newProcess(path string, nice, cpu int) *process {
	return &process{path: path, nice: nice, cpu: cpu}
}

// call sends req to the lane's worker, starting one if none runs, and
// reads its answer. It does not give up on a cancelled context: the hash
// runs to its end either way, and the caller's slot must stay taken until
// then. Reading the answer here, rather than in a reader goroutine that
// hands it over, saves a wake-up of this process for every hash.
func (p *process) call(req workerRequest) (workerResponse, error) {
	w, id, err := p.take()
	if err != nil {
		return workerResponse{}, err
	}
	defer p.give(w)
	req.ID = id
	if err := w.enc.Encode(req); err != nil {
		// The worker is gone, or going: the next call starts another.
		p.drop(w)
		return workerResponse{}, fmt.Errorf("%w: %w", ErrWorkerGone, err)
	}
	// A worker that answers nothing for so long is stuck (stopped, or
	// starved): killed, its output ends, and the next call starts
	// another, rather than the slot staying taken.
	stuck := time.AfterFunc(callTimeout, func() { _ = w.proc.Kill() })
	var resp workerResponse
	err = w.dec.Decode(&resp)
	stuck.Stop()
	if err == nil && resp.ID != id {
		err = fmt.Errorf("answer %d to request %d", resp.ID, id)
	}
	if err != nil {
		p.drop(w)
		return workerResponse{}, fmt.Errorf("%w: %w", ErrWorkerGone, err)
	}
	if resp.Err != "" {
		return resp, errors.New(resp.Err)
	}
	return resp, nil
}

// take returns the lane's worker, starting one if none runs, and the ID
// of the next request.
func (p *process) take() (*worker, uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, fmt.Errorf("hasher closed: %w", domain.ErrUnavailable)
	}
	if p.cur == nil {
		if since := time.Since(p.lastStart); since < restartGap {
			return nil, 0, fmt.Errorf("%w: restarted %s ago", ErrWorkerGone, since.Round(time.Millisecond))
		}
		p.lastStart = time.Now()
		w, err := p.start()
		if err != nil {
			return nil, 0, err
		}
		p.cur = w
	}
	p.busy = true
	p.nextID++
	return p.cur, p.nextID, nil
}

// give ends a call on w; after Close, the last call closes w's output.
func (p *process) give(w *worker) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.busy = false
	if p.closed {
		_ = w.stdout.Close()
	}
}

// drop ends w, which failed a call, so that the next call starts another.
func (p *process) drop(w *worker) {
	_ = w.proc.Kill()
	_ = w.stdin.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == w {
		p.cur = nil
	}
	if !p.closed {
		_ = w.stdout.Close() // after Close, give closes it
	}
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
	// worker exits, perhaps before its last answer is read.
	stdout, out, err := os.Pipe()
	if err != nil {
		_ = stdin.Close()
		return nil, fmt.Errorf("start the hash worker: %w", err)
	}
	cmd.Stdout = out
	exited, err := startWorker(cmd, p.nice, p.cpu)
	_ = out.Close()
	if err != nil {
		_ = stdin.Close()
		_ = stdout.Close()
		return nil, fmt.Errorf("start the hash worker %s: %w: %w", p.path, domain.ErrUnavailable, err)
	}
	return &worker{
		enc: gob.NewEncoder(stdin), dec: gob.NewDecoder(stdout),
		stdin: stdin, stdout: stdout, proc: cmd.Process, exited: exited,
	}, nil
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

// close ends the worker once the hash sent has been answered (it exits
// when its input ends), killing it if it has not within wait.
func (p *process) close(wait time.Duration) {
	p.mu.Lock()
	p.closed = true
	w := p.cur
	if w != nil && !p.busy {
		_ = w.stdout.Close()
	}
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
