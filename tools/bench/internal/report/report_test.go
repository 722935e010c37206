package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn/tools/bench/internal/fsyncprobe"
	"github.com/cairnkv/cairn/tools/bench/internal/load"
	"github.com/cairnkv/cairn/tools/bench/internal/procs"
	"github.com/cairnkv/cairn/tools/bench/internal/stats"
)

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func run(tp float64, p50, p99 float64, errs int) *load.Result {
	return &load.Result{
		Workload: "put", Clients: 1, Conns: 1, Total: 1000, Issued: 1000, Succeeded: 1000 - errs, Errors: errs,
		Throughput: tp, Elapsed: time.Second, ServerCPU: time.Duration(1000-errs) * time.Duration(1e6/tp) * time.Microsecond / 2,
		ClientCPU: time.Duration(1000-errs) * 20 * time.Microsecond,
		Latency:   stats.Latency{Count: 1000 - errs, P50: ms(p50), P90: ms(p50 * 1.5), P99: ms(p99), P999: ms(p99 * 2)},
	}
}

func disturbedRun(r *load.Result) *load.Result {
	r.OtherCPU = 500 * time.Millisecond // half a core over its 1 s
	return r
}

func sample() *Report {
	return &Report{
		Date:     time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC),
		Command:  "bench compare --out docs/bench",
		Machine:  Machine{CPUs: 2, CPUModel: "Test CPU", MemTotal: 24 << 30, Kernel: "6.1.0", GoVersion: "go1.26.8", Filesystem: "ext4"},
		Versions: Versions{Etcd: "3.6.16", EtcdBuild: "embed", Cairn: "v0.1.0-3-gabcdef", CairnVersion: "cairn Version: 0.1.0-dev", CairnBin: "built from the tree"},
		Fsync: []Probe{{When: "before", Result: &fsyncprobe.Result{BlockSize: 512, Count: 5000, PerSecond: 9876.4,
			Latency: stats.Latency{P50: ms(0.09), P99: ms(0.2)}}}},
		DataRoot:         "/tmp/cairn-bench-1",
		Reps:             3,
		OtherCPUMeasured: true,
		Method:           []string{"fresh data dir per start"},
		Workloads: []Workload{
			{Name: "put-1", Title: "put, 1 client", Params: "256-byte values",
				Etcd:  []*load.Result{run(2000, 0.45, 1.0, 0), run(2100, 0.44, 0.9, 0), run(1900, 0.46, 1.2, 0)},
				Cairn: []*load.Result{run(2500, 0.35, 0.8, 0), run(2600, 0.34, 0.7, 0), disturbedRun(run(100, 9, 20, 1))}},
			{Name: "txn-mixed", Title: "txn-mixed, 90% reads", Params: "mixed",
				Etcd: []*load.Result{{Throughput: 20000, Issued: 10, Latency: stats.Latency{P50: ms(4), P99: ms(12)},
					Classes: []load.ClassResult{{Name: "read", Succeeded: 9, Throughput: 18000}, {Name: "write", Succeeded: 1, Throughput: 2000}}}},
				Cairn: nil},
		},
		Memory: &Memory{
			Keys: 1_000_000, KeySizes: [2]int{16, 32}, ValSize: 256, LoadClients: 200, LoadConns: 20, Settle: 10 * time.Second,
			PrefixKeys: 10_000, PrefixLimit: 1_000,
			Etcd: &MemorySystem{Load: run(17000, 5, 20, 0), Memory: procs.Memory{VmRSS: 560e6, VmHWM: 600e6},
				DiskRunning: procs.Disk{Allocated: 790e6}, DiskStopped: procs.Disk{Allocated: 780e6},
				PrefixRange: run(200, 4, 6, 0), CountOnly: run(8, 120, 130, 0), Count: 1_000_000},
			Cairn: &MemorySystem{Load: run(25000, 3, 15, 0), Memory: procs.Memory{VmRSS: 200e6, VmHWM: 300e6},
				DiskRunning: procs.Disk{Allocated: 400e6}, DiskStopped: procs.Disk{Allocated: 380e6},
				PrefixRange: run(300, 3, 5, 0), CountOnly: run(10, 100, 110, 0), Count: 1_000_000},
		},
	}
}

func TestSummarizeMedians(t *testing.T) {
	s := Summarize(sample().Workloads[0].Cairn)
	// The failed third run is an outlier: medians ignore it, errors add up.
	if s.Throughput != 2500 || s.P50 != ms(0.35) || s.P99 != ms(0.8) || s.Errors != 1 || s.Runs != 3 {
		t.Errorf("Summarize = %+v", s)
	}
	if z := Summarize(nil); z.Runs != 0 || z.Throughput != 0 {
		t.Errorf("Summarize(nil) = %+v", z)
	}
}

func TestRows(t *testing.T) {
	rows := sample().Rows()
	names := []string{"put-1", "txn-mixed", "prefix-range", "count-only"}
	if len(rows) != len(names) {
		t.Fatalf("%d rows, want %d", len(rows), len(names))
	}
	for i, n := range names {
		if rows[i].Name != n {
			t.Errorf("row %d is %q, want %q", i, rows[i].Name, n)
		}
	}
	if got := rows[0].ThroughputRatio; math.Abs(got-2500.0/2000.0) > 1e-9 {
		t.Errorf("throughput ratio %v, want 1.25", got)
	}
	if got := rows[0].P99Ratio; math.Abs(got-0.8) > 1e-9 {
		t.Errorf("p99 ratio %v, want 0.8", got)
	}
	// No Cairn runs: no ratio, rather than 0/x or a division by zero.
	if rows[1].ThroughputRatio != 0 || rows[1].P99Ratio != 0 {
		t.Errorf("ratios without Cairn runs: %+v", rows[1])
	}
	if got := rows[3].ThroughputRatio; math.Abs(got-10.0/8.0) > 1e-9 {
		t.Errorf("count-only ratio %v", got)
	}
}

func TestWriteJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := sample().WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Report
		Summary []Row `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Summary) != 4 || back.Summary[0].Cairn.Throughput != 2500 || back.Memory.Cairn.Count != 1_000_000 {
		t.Errorf("round trip lost data: %+v", back.Summary)
	}
}

func TestWriteMarkdown(t *testing.T) {
	var buf bytes.Buffer
	if err := sample().WriteMarkdown(&buf, "results.svg"); err != nil {
		t.Fatal(err)
	}
	md := buf.String()
	for _, want := range []string{
		"# Cairn vs etcd 3.6.16",
		"| Date | 2026-11-26 10:00 UTC (start) |",
		"| Machine | 2 CPUs (Test CPU), 24.0 GiB RAM, Linux 6.1.0 |",
		"9,876 synced 512-byte appends/s (write + fdatasync: p50 0.090 ms, p99 0.200 ms)",
		"`bench compare --out docs/bench`",
		"![throughput and p99 per workload, etcd and Cairn](results.svg)",
		"| put, 1 client | 2,000 | 2,500 | 1.25× | 0.450 | 0.350 | 1.00 | 0.800 | 0.80× | 0/1 |",
		"| txn-mixed, 90% reads | 20,000 | – | – | 4.00 | – | 12.0 | – | – | 0/0 |",
		"| count_only over all 1,000,000 keys, 1 client | 8.0 | 10.0 | 1.25× | 120 | 100 | 130 | 110 | 0.85× | 0/0 |",
		"| resident memory (VmRSS) | 560 MB | 200 MB | 0.36× |",
		"| on disk, running | 790 MB | 400 MB | 0.51× |",
		"| count_only answered | 1,000,000 | 1,000,000 | |",
		"| txn-mixed: reads | etcd | 1 |",
		"## How the comparison is made fair",
		"## CPU per request",
		"**Disturbed runs**: other processes used more than 10% of a core, or the hypervisor took more than 10%, during put-1 Cairn run 3",
		"| put-1 | Cairn | 3 | 1,000 | 100 | 9.00 | 13.5 | 20.0 | 40.0 | 1 | 50% | 0% |",
		"| put, 1 client | 250 | 200 | 0.80× | 20.0 | 20.0 |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
	// Every table line has as many cells as its header.
	var cols int
	for _, line := range strings.Split(md, "\n") {
		if !strings.HasPrefix(line, "|") {
			cols = 0
			continue
		}
		n := strings.Count(strings.ReplaceAll(line, `\|`, ""), "|")
		if cols == 0 {
			cols = n
		} else if n != cols {
			t.Errorf("table line has %d separators, header %d: %s", n, cols, line)
		}
	}
	if os.Getenv("BENCH_KEEP") != "" {
		_ = os.WriteFile("/tmp/bench-sample.md", buf.Bytes(), 0o644)
	}
}

func TestWriteSVG(t *testing.T) {
	var buf bytes.Buffer
	if err := sample().WriteSVG(&buf); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML with an <svg> root, naming every workload.
	dec := xml.NewDecoder(bytes.NewReader(buf.Bytes()))
	root := ""
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tk.Name.Local
			}
		case xml.CharData:
			text.Write(tk)
		}
	}
	if root != "svg" {
		t.Fatalf("root element %q, want svg", root)
	}
	for _, want := range []string{"put, 1 client", "count_only over 1M keys, 1 run", "2,500", "Cairn", "etcd", "p99 ms"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("SVG text lacks %q", want)
		}
	}
	if buf.Len() > 200<<10 {
		t.Errorf("SVG is %d bytes; fonts embedded?", buf.Len())
	}
	if os.Getenv("BENCH_KEEP") != "" {
		_ = os.WriteFile("/tmp/bench-sample.svg", buf.Bytes(), 0o644)
	}
}

func TestFormatters(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtInt(0), "0"},
		{fmtInt(999), "999"},
		{fmtInt(1000), "1,000"},
		{fmtInt(1234567), "1,234,567"},
		{fmtInt(-1234), "-1,234"},
		{fmtRate(31234.6), "31,235"},
		{fmtRate(8.04), "8.0"},
		{fmtRate(0), "–"},
		{fmtMs(450 * time.Microsecond), "0.450"},
		{fmtMs(ms(2.345)), "2.35"},
		{fmtMs(ms(12.34)), "12.3"},
		{fmtMs(ms(1234)), "1,234"},
		{fmtMs(0), "–"},
		{fmtRatio(1.234), "1.23×"},
		{fmtRatio(math.NaN()), "–"},
		{fmtRatio(0), "–"},
		{fmtMB(560e6), "560 MB"},
		{fmtCount(1_000_000), "1M"},
		{fmtUs(12345 * time.Nanosecond), "12.3"},
		{fmtUs(1234567 * time.Nanosecond), "1,235"},
		{fmtCount(2_000), "2k"},
		{fmtCount(1_500), "1,500"},
		{fmtMB(2.5e6), "2.5 MB"},
		{code("a|b"), "`a\\|b`"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
