package cli

import (
	"bytes"
	"context"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn/tools/bench/internal/load"
	"github.com/cairnkv/cairn/tools/bench/internal/stats"
)

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"compare", "--out", "docs/bench", "--workloads=put-1,put-100", "a b", "it's", ""})
	want := `compare --out docs/bench --workloads=put-1,put-100 'a b' 'it'\''s' ''`
	if got != want {
		t.Errorf("shellJoin = %s, want %s", got, want)
	}
}

func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"range", "k", "--consistency", "x"}, "--consistency"},
		{[]string{"range"}, "arg"},
		{[]string{"put", "--key-size", "2", "--key-space-size", "1000"}, "too small"},
		{[]string{"txn-mixed", "--read-ratio", "2"}, "read ratio"},
		{[]string{"txn-put", "--txn-ops", "0"}, "--txn-ops"},
		{[]string{"compare", "--reps", "0", "--cairn-bin", "/nonexistent"}, "--reps"},
		{[]string{"compare", "--workloads", "nope", "--cairn-bin", "/nonexistent"}, "unknown workload"},
		{[]string{"put", "--output", "xml", "--total", "1"}, "--output"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Main(context.Background(), tt.args, &out, &errb)
		if code == 0 || !strings.Contains(errb.String(), tt.want) {
			t.Errorf("bench %v: code %d, stderr %q; want an error about %q", tt.args, code, errb.String(), tt.want)
		}
	}
}

func TestFsyncCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"fsync", "--dir", t.TempDir(), "--count", "20"}, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "synced writes/s") {
		t.Errorf("output %q", out.String())
	}
}

func TestPrintResult(t *testing.T) {
	var b bytes.Buffer
	PrintResult(&b, &load.Result{
		Workload: "txn-mixed", Clients: 100, Conns: 10, Total: 10, Issued: 10, Succeeded: 10, Throughput: 1234.5,
		Latency: stats.Latency{P50: time.Millisecond, P999: 5 * time.Millisecond},
		Classes: []load.ClassResult{{Name: "read", Succeeded: 9}},
	})
	for _, want := range []string{"Requests/sec:\t1234.5000", "50% in 0.0010 secs.", "99.9% in 0.0050 secs.", "read: 9 succeeded"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRender(t *testing.T) {
	dir := t.TempDir()
	in := dir + "/in.json"
	js := `{"date":"2026-11-26T10:00:00Z","reps":1,"versions":{"etcd":"3.6.16"},
	  "workloads":[{"name":"put-1","title":"put, 1 client",
	    "etcd":[{"throughput":2000,"succeeded":10,"issued":10,"latency":{"p50_ns":450000,"p99_ns":1000000}}],
	    "cairn":[{"throughput":2500,"succeeded":10,"issued":10,"latency":{"p50_ns":350000,"p99_ns":800000}}]}]}`
	if err := os.WriteFile(in, []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"render", in, "--out", dir}, &out, &errb); code != 0 {
		t.Fatalf("code %d: %s", code, errb.String())
	}
	md, err := os.ReadFile(dir + "/results.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "| put, 1 client | 2,000 | 2,500 | 1.25× |") {
		t.Errorf("rendered markdown:\n%s", md)
	}
	for _, f := range []string{"results.svg", "results.json"} {
		if _, err := os.Stat(dir + "/" + f); err != nil {
			t.Error(err)
		}
	}
}

// The load generator collects garbage less often than Go's default; the
// embedded etcd's command keeps the runtime's setting, and so does a GOGC
// from the environment.
func TestLoadGenGCPercent(t *testing.T) {
	t.Setenv("GOGC", "")
	os.Unsetenv("GOGC")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	var out, errb bytes.Buffer
	if code := Main(context.Background(), []string{"fsync", "--dir", t.TempDir(), "--count", "5"}, &out, &errb); code != 0 {
		t.Fatalf("fsync: %s", errb.String())
	}
	if got := debug.SetGCPercent(100); got != LoadGenGCPercent {
		t.Errorf("GC percent after a load command = %d, want %d", got, LoadGenGCPercent)
	}
	cmd := newRoot(&out, &errb, nil)
	etcd, _, err := cmd.Find([]string{"etcd"})
	if err != nil {
		t.Fatal(err)
	}
	cmd.PersistentPreRun(etcd, nil)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent after the etcd command's pre-run = %d, want 100 (untouched)", got)
	}
	t.Setenv("GOGC", "150")
	cmd.PersistentPreRun(cmd, nil)
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC percent with GOGC set = %d, want 100 (untouched)", got)
	}
}
