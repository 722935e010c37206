package fsyncprobe

import (
	"context"
	"testing"
	"time"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	r, err := Run(context.Background(), Config{Dir: dir, Count: 50, TimeLimit: 10 * time.Second, BlockSize: 2300, Prealloc: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Count != 50 || r.PerSecond <= 0 || r.Latency.P50 <= 0 || r.Latency.Count != 50 {
		t.Errorf("unexpected result %+v", r)
	}
	if r.String() == "" {
		t.Error("empty summary")
	}
}

func TestRunTimeLimit(t *testing.T) {
	r, err := Run(context.Background(), Config{Dir: t.TempDir(), Count: 1 << 30, TimeLimit: 200 * time.Millisecond, BlockSize: 512})
	if err != nil {
		t.Fatal(err)
	}
	if r.Elapsed > 5*time.Second || r.Count == 0 {
		t.Errorf("time limit not honoured: %+v", r)
	}
}
