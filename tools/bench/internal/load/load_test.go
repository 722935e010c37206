package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestFormatKey(t *testing.T) {
	tests := []struct {
		prefix  string
		n, size int
		want    string
	}{
		{"", 0, 8, "00000000"},
		{"", 42, 8, "00000042"},
		{"k/", 42, 8, "k/000042"},
		{"", 123456789, 4, "123456789"}, // never truncated
	}
	for _, tt := range tests {
		if got := FormatKey(tt.prefix, tt.n, tt.size); got != tt.want {
			t.Errorf("FormatKey(%q, %d, %d) = %q, want %q", tt.prefix, tt.n, tt.size, got, tt.want)
		}
	}
	// Keys of one size sort as their numbers do.
	if !(FormatKey("", 9, 6) < FormatKey("", 10, 6)) {
		t.Error("keys do not sort numerically")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		w       interface{ Validate() error }
		wantErr string
	}{
		{"put ok", &Put{KeySize: 8, KeySpace: 100_000_000}, ""},
		{"put key too short for the key space", &Put{KeySize: 8, KeySpace: 1_000_000_000}, "too small"},
		{"put prefix counts", &Put{KeySize: 8, KeySpace: 1000, Prefix: "abcdef"}, "too small"},
		{"put no key space", &Put{KeySize: 8}, "positive --key-space-size"},
		{"txn-put more ops than keys", &TxnPut{KeySize: 8, KeySpace: 2, OpsPerTxn: 3}, "no larger than"},
		{"txn-put no ops", &TxnPut{KeySize: 8, KeySpace: 2}, "positive --txn-ops"},
		{"txn-mixed bad ratio", &TxnMixed{KeySize: 8, KeySpace: 2, ReadRatio: 1.5}, "read ratio"},
		{"range prefix and end", &Range{Key: "a", End: "b", Prefix: true}, "exclude"},
		{"lease-keepalive ok", &LeaseKeepAlive{TTL: 100}, ""},
		{"lease-keepalive no TTL", &LeaseKeepAlive{}, "TTL must be at least 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.w.Validate()
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Validate() = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRandomBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 8, 9, 256} {
		if b := RandomBytes(r, nil, n); len(b) != n {
			t.Errorf("RandomBytes(%d) has %d bytes", n, len(b))
		}
	}
	w := newWorker(3)
	if a, b := w.Value(256), w.Value(256); a == b || len(a) != 256 {
		t.Error("values repeat or have the wrong size")
	}
	// Same requester number, same sequence: both servers get the same keys.
	if newWorker(7).Rand.Uint64() != newWorker(7).Rand.Uint64() {
		t.Error("workers are not deterministic")
	}
}

// fake is a workload that needs no server.
type fake struct {
	mu      sync.Mutex
	seen    map[int]bool
	delay   time.Duration
	failOdd bool
}

func (f *fake) Name() string                                    { return "fake" }
func (f *fake) Classes() []string                               { return []string{"even", "odd"} }
func (f *fake) Setup(context.Context, []*clientv3.Client) error { return nil }
func (f *fake) Do(ctx context.Context, _ *clientv3.Client, _ *Worker, i int) (int, error) {
	f.mu.Lock()
	if f.seen == nil {
		f.seen = map[int]bool{}
	}
	f.seen[i] = true
	f.mu.Unlock()
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return i % 2, ctx.Err()
		}
	}
	if f.failOdd && i%2 == 1 {
		return 1, errors.New("odd")
	}
	return i % 2, nil
}

func fakeConfig(total, warmup int, limit time.Duration) Config {
	return Config{Endpoints: []string{"unused"}, Clients: 4, Conns: 2, Total: total, Warmup: warmup, TimeLimit: limit}
}

func TestRunCountsAndClasses(t *testing.T) {
	f := &fake{failOdd: true}
	clis := make([]*clientv3.Client, 2)
	r, err := RunOn(context.Background(), fakeConfig(1000, 10, time.Minute), clis, &fake{})
	if err != nil || r.Issued != 1000 || r.Succeeded != 1000 || r.Errors != 0 || r.StoppedByTimeLimit {
		t.Fatalf("RunOn = %+v, %v", r, err)
	}
	if len(r.Classes) != 2 || r.Classes[0].Succeeded != 500 || r.Classes[1].Succeeded != 500 || r.Latency.Count != 1000 {
		t.Errorf("classes %+v", r.Classes)
	}
	if r.Throughput <= 0 || r.Latency.P50 <= 0 {
		t.Errorf("no throughput or latency: %+v", r)
	}

	// The warm-up's failures abort the run.
	if _, err := RunOn(context.Background(), fakeConfig(100, 10, time.Minute), clis, f); err == nil || !strings.Contains(err.Error(), "warm-up") {
		t.Errorf("failing warm-up: %v", err)
	}
	// Measured requests are numbered after the warm-up's, each once.
	f = &fake{}
	if _, err := RunOn(context.Background(), fakeConfig(100, 10, time.Minute), clis, f); err != nil {
		t.Fatal(err)
	}
	if len(f.seen) != 110 || !f.seen[0] || !f.seen[109] || f.seen[110] {
		t.Errorf("requests issued: %d", len(f.seen))
	}
	// Measured failures are counted per class, with samples.
	r, err = RunOn(context.Background(), Config{Endpoints: []string{"x"}, Clients: 3, Conns: 1, Total: 100, TimeLimit: time.Minute}, clis, &fake{failOdd: true})
	if err != nil || r.Errors != 50 || r.Succeeded != 50 || r.Classes[1].Errors != 50 || len(r.ErrorSamples) != 1 {
		t.Errorf("failures: %+v, %v", r, err)
	}
}

func TestRunTimeLimit(t *testing.T) {
	clis := make([]*clientv3.Client, 1)
	start := time.Now()
	r, err := RunOn(context.Background(), fakeConfig(1_000_000, 0, 200*time.Millisecond), clis, &fake{delay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %v with a 200ms limit", el)
	}
	if !r.StoppedByTimeLimit || r.Issued >= 1_000_000 || r.Succeeded == 0 || r.Errors != 0 {
		t.Errorf("time-limited run: issued %d, succeeded %d, errors %d, stopped %v", r.Issued, r.Succeeded, r.Errors, r.StoppedByTimeLimit)
	}
}

// hang is a workload whose requests wait for their context to end; it
// records whether they carried a deadline.
type hang struct{ deadline atomic.Bool }

func (h *hang) Name() string                                    { return "hang" }
func (h *hang) Classes() []string                               { return nil }
func (h *hang) Setup(context.Context, []*clientv3.Client) error { return nil }
func (h *hang) Do(ctx context.Context, _ *clientv3.Client, _ *Worker, _ int) (int, error) {
	if _, ok := ctx.Deadline(); ok {
		h.deadline.Store(true)
	}
	<-ctx.Done()
	return 0, ctx.Err()
}

// TestRunGrace: requests still in flight at the time limit are cancelled
// once the grace is over and counted as errors; and a request's context has
// no deadline, which gRPC would send to the server with every request.
func TestRunGrace(t *testing.T) {
	cfg := fakeConfig(100, 0, 100*time.Millisecond)
	cfg.Grace = 200 * time.Millisecond
	h := &hang{}
	start := time.Now()
	r, err := RunOn(context.Background(), cfg, make([]*clientv3.Client, 1), h)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 300*time.Millisecond || el > 5*time.Second {
		t.Errorf("took %v with a 100ms limit and a 200ms grace", el)
	}
	if r.Errors != cfg.Clients || r.Succeeded != 0 || !r.StoppedByTimeLimit {
		t.Errorf("hung requests: %d errors, %d succeeded, stopped %v; want %d errors", r.Errors, r.Succeeded, r.StoppedByTimeLimit, cfg.Clients)
	}
	if h.deadline.Load() {
		t.Error("a request's context carried a deadline")
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{Clients: 1, Conns: 1, Total: 1, TimeLimit: time.Second},
		{Endpoints: []string{"x"}, Conns: 1, Total: 1, TimeLimit: time.Second},
		{Endpoints: []string{"x"}, Clients: 1, Conns: 1, TimeLimit: time.Second},
		{Endpoints: []string{"x"}, Clients: 1, Conns: 1, Total: 1},
	} {
		if err := c.validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	c := Config{Endpoints: []string{"x"}, Clients: 2, Conns: 10, Total: 1, TimeLimit: time.Second}
	if err := c.validate(); err != nil || c.Conns != 2 {
		t.Errorf("conns are not capped at clients: %+v %v", c, err)
	}
}
