// Package load is the load generator: it drives any etcd-compatible endpoint
// through go.etcd.io/etcd/client/v3 with etcd's benchmark workloads (put,
// range, txn-put, txn-mixed) and measures throughput, exact latency
// percentiles and errors. Every run is bounded by a request count and a time
// limit.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cheggaaa/pb/v3"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"golang.org/x/term"

	"github.com/cairnkv/cairn/tools/bench/internal/stats"
)

// Config says where and how hard to drive a workload.
type Config struct {
	Endpoints   []string
	Clients     int           // concurrent requesters (etcd benchmark's --clients)
	Conns       int           // gRPC connections they share (--conns); client i uses connection i % Conns
	DialTimeout time.Duration // per connection
	Total       int           // measured requests
	Warmup      int           // requests issued (and not measured) before the measured ones
	// TimeLimit bounds the measured phase: no request starts after it. The
	// warm-up gets a tenth of it. Requests in flight at the limit get
	// Grace to finish before they are cancelled (and counted as errors).
	TimeLimit time.Duration
	Grace     time.Duration
	// Progress, when not nil, receives a progress bar of the measured phase.
	Progress io.Writer
	// BeforeMeasure and AfterMeasure, when set, run just before the first
	// measured request and just after the last one (for example to read a
	// server's CPU time).
	BeforeMeasure, AfterMeasure func()
}

func (c *Config) validate() error {
	switch {
	case len(c.Endpoints) == 0:
		return errors.New("no endpoints")
	case c.Clients < 1:
		return fmt.Errorf("clients must be at least 1, got %d", c.Clients)
	case c.Conns < 1:
		return fmt.Errorf("conns must be at least 1, got %d", c.Conns)
	case c.Total < 1:
		return fmt.Errorf("total must be at least 1, got %d", c.Total)
	case c.Warmup < 0:
		return fmt.Errorf("warmup must not be negative, got %d", c.Warmup)
	case c.TimeLimit <= 0:
		return fmt.Errorf("time limit must be positive, got %v", c.TimeLimit)
	}
	if c.Conns > c.Clients {
		c.Conns = c.Clients
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.Grace <= 0 {
		c.Grace = 30 * time.Second
	}
	return nil
}

// Workload is one kind of load.
type Workload interface {
	// Name is the workload's command name (put, range, txn-put, txn-mixed).
	Name() string
	// Classes names the kinds of request a workload mixes (txn-mixed: read
	// and write), each reported on its own too; nil for a single kind.
	Classes() []string
	// Setup runs once before the warm-up, for example to seed keys.
	Setup(ctx context.Context, clis []*clientv3.Client) error
	// Do issues request number i (warm-up requests come first, so the
	// measured ones are numbered Warmup..Warmup+Total-1) and says which
	// class it was.
	Do(ctx context.Context, c *clientv3.Client, w *Worker, i int) (class int, err error)
}

// Worker is one requester's private state.
type Worker struct {
	ID   int
	Rand *rand.Rand
	buf  []byte
}

func newWorker(id int) *Worker {
	// Fixed seeds: every server sees the same key sequence per requester.
	return &Worker{ID: id, Rand: rand.New(rand.NewPCG(0x5eed, uint64(id)))}
}

// Value returns n fresh random bytes. Values are random so that no server
// gains from compressing them.
func (w *Worker) Value(n int) string {
	w.buf = RandomBytes(w.Rand, w.buf[:0], n)
	return string(w.buf)
}

// RandomBytes appends n random bytes from r to b.
func RandomBytes(r *rand.Rand, b []byte, n int) []byte {
	for len(b)+8 <= n {
		u := r.Uint64()
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24), byte(u>>32), byte(u>>40), byte(u>>48), byte(u>>56))
	}
	for len(b) < n {
		b = append(b, byte(r.Uint32()))
	}
	return b
}

// ClassResult is one class of request of a mixed workload.
type ClassResult struct {
	Name       string        `json:"name"`
	Succeeded  int           `json:"succeeded"`
	Errors     int           `json:"errors"`
	Throughput float64       `json:"throughput"`
	Latency    stats.Latency `json:"latency"`
}

// Result is the measured phase of one run.
type Result struct {
	Workload  string `json:"workload"`
	Clients   int    `json:"clients"`
	Conns     int    `json:"conns"`
	Total     int    `json:"total"`     // requests asked for
	Issued    int    `json:"issued"`    // requests started (fewer when the time limit stopped the run)
	Succeeded int    `json:"succeeded"` // answered without error
	Errors    int    `json:"errors"`
	// ErrorSamples holds a few distinct error messages.
	ErrorSamples       []string      `json:"error_samples,omitempty"`
	Elapsed            time.Duration `json:"elapsed_ns"`
	Throughput         float64       `json:"throughput"` // succeeded requests per second
	Latency            stats.Latency `json:"latency"`    // of the succeeded requests
	Classes            []ClassResult `json:"classes,omitempty"`
	StoppedByTimeLimit bool          `json:"stopped_by_time_limit,omitempty"`
	// ServerCPU and ClientCPU, when measured, are the CPU time (user +
	// system) the server and the load generator used during the measured
	// phase.
	ServerCPU time.Duration `json:"server_cpu_ns,omitempty"`
	ClientCPU time.Duration `json:"client_cpu_ns,omitempty"`
	// OtherCPU is the CPU time every other process of the machine used
	// meanwhile, and StealCPU the time the hypervisor took: how disturbed
	// the run was.
	OtherCPU time.Duration `json:"other_cpu_ns,omitempty"`
	StealCPU time.Duration `json:"steal_cpu_ns,omitempty"`
}

// Dial opens cfg.Conns clients to cfg.Endpoints.
func Dial(ctx context.Context, cfg Config) ([]*clientv3.Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	clis := make([]*clientv3.Client, 0, cfg.Conns)
	for range cfg.Conns {
		cli, err := clientv3.New(clientv3.Config{
			Endpoints:   cfg.Endpoints,
			DialTimeout: cfg.DialTimeout,
			Logger:      zap.NewNop(),
			Context:     ctx,
		})
		if err != nil {
			Close(clis)
			return nil, fmt.Errorf("connect to %v: %w", cfg.Endpoints, err)
		}
		clis = append(clis, cli)
	}
	return clis, nil
}

// Close closes clients.
func Close(clis []*clientv3.Client) {
	for _, c := range clis {
		_ = c.Close()
	}
}

// Run connects, sets the workload up, warms it up and measures it.
func Run(ctx context.Context, cfg Config, w Workload) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	clis, err := Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer Close(clis)
	return RunOn(ctx, cfg, clis, w)
}

// RunOn is Run over clients already connected.
func RunOn(ctx context.Context, cfg Config, clis []*clientv3.Client, w Workload) (*Result, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := w.Setup(ctx, clis); err != nil {
		return nil, fmt.Errorf("%s setup: %w", w.Name(), err)
	}
	if cfg.Warmup > 0 {
		wr := phase(ctx, cfg, clis, w, 0, cfg.Warmup, max(cfg.TimeLimit/10, time.Second), nil)
		if wr.Errors > 0 {
			return nil, fmt.Errorf("%s warm-up: %d of %d requests failed: %v", w.Name(), wr.Errors, wr.Issued, wr.ErrorSamples)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var bar *pb.ProgressBar
	if cfg.Progress != nil {
		bar = pb.New(cfg.Total).SetWriter(cfg.Progress).SetMaxWidth(120)
		if f, ok := cfg.Progress.(*os.File); ok {
			// A terminal that reports no width (some ptys) gets a bar of 80.
			if w, _, err := term.GetSize(int(f.Fd())); err != nil || w <= 0 {
				bar.SetWidth(80)
			}
		}
		bar.Start()
	}
	if cfg.BeforeMeasure != nil {
		cfg.BeforeMeasure()
	}
	res := phase(ctx, cfg, clis, w, cfg.Warmup, cfg.Total, cfg.TimeLimit, bar)
	if cfg.AfterMeasure != nil {
		cfg.AfterMeasure()
	}
	if bar != nil {
		bar.Finish()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// phase issues requests first..first+n-1 from cfg.Clients requesters.
func phase(ctx context.Context, cfg Config, clis []*clientv3.Client, w Workload, first, n int, limit time.Duration, bar *pb.ProgressBar) *Result {
	classes := w.Classes()
	nclass := max(1, len(classes))
	var (
		next    atomic.Int64
		stopped atomic.Bool
		mu      sync.Mutex
		samples = map[string]bool{}
		lats    = make([][][]time.Duration, cfg.Clients) // [client][class]
		errs    = make([][]int, cfg.Clients)
		wg      sync.WaitGroup
	)
	// Requests in flight when the limit strikes get cfg.Grace to finish.
	// A cancellation, not a deadline: a deadline would travel with every
	// request (gRPC's grpc-timeout header, and a timer on each side), which
	// etcd's benchmark tool does not send either.
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	graceTimer := time.AfterFunc(limit+cfg.Grace, cancel)
	defer graceTimer.Stop()
	start := time.Now()
	timer := time.AfterFunc(limit, func() { stopped.Store(true) })
	defer timer.Stop()
	per := n/cfg.Clients + 1
	for c := range cfg.Clients {
		lats[c] = make([][]time.Duration, nclass)
		for k := range lats[c] {
			lats[c][k] = make([]time.Duration, 0, per)
		}
		errs[c] = make([]int, nclass)
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli := clis[c%len(clis)]
			wk := newWorker(c)
			for !stopped.Load() && hctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				st := time.Now()
				class, err := w.Do(hctx, cli, wk, first+int(i))
				d := time.Since(st)
				class = min(max(class, 0), nclass-1)
				if err != nil {
					errs[c][class]++
					mu.Lock()
					if len(samples) < 5 {
						samples[err.Error()] = true
					}
					mu.Unlock()
				} else {
					lats[c][class] = append(lats[c][class], d)
				}
				if bar != nil {
					bar.Increment()
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	r := &Result{
		Workload: w.Name(),
		Clients:  cfg.Clients,
		Conns:    len(clis),
		Total:    n,
		Issued:   int(min(next.Load(), int64(n))),
		Elapsed:  elapsed,
	}
	r.StoppedByTimeLimit = r.Issued < n
	var all []time.Duration
	for k := range nclass {
		var cl []time.Duration
		cerrs := 0
		for c := range cfg.Clients {
			cl = append(cl, lats[c][k]...)
			cerrs += errs[c][k]
		}
		all = append(all, cl...)
		r.Errors += cerrs
		if len(classes) > 0 {
			r.Classes = append(r.Classes, ClassResult{
				Name:       classes[k],
				Succeeded:  len(cl),
				Errors:     cerrs,
				Throughput: stats.PerSecond(len(cl), elapsed),
				Latency:    stats.Summarize(cl),
			})
		}
	}
	r.Succeeded = len(all)
	r.Throughput = stats.PerSecond(len(all), elapsed)
	r.Latency = stats.Summarize(all)
	for s := range samples {
		r.ErrorSamples = append(r.ErrorSamples, s)
	}
	slices.Sort(r.ErrorSamples)
	return r
}

// Fill puts n keys, from up to concurrency goroutines over clis; kv gives
// the key and value of key number i. It stops at the first error.
func Fill(ctx context.Context, clis []*clientv3.Client, n, concurrency int, kv func(w *Worker, i int) (string, string)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for c := range max(1, min(concurrency, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli := clis[c%len(clis)]
			wk := newWorker(1_000_000 + c)
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				k, v := kv(wk, int(i))
				if _, err := cli.Put(ctx, k, v); err != nil {
					once.Do(func() { first = fmt.Errorf("put %q: %w", k, err); cancel() })
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
