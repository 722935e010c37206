package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnkv/cairn/tools/bench/internal/cli"
	"github.com/cairnkv/cairn/tools/bench/internal/compare"
	"github.com/cairnkv/cairn/tools/bench/internal/etcdchild"
	"github.com/cairnkv/cairn/tools/bench/internal/procs"
	"github.com/cairnkv/cairn/tools/bench/internal/report"
)

// envCairnBin names a prebuilt cairn for the smoke test; without it the test
// builds ./app/cairn from the tree, as `bench compare` does.
const envCairnBin = "CAIRN_BENCH_CAIRN_BIN"

func TestMain(m *testing.M) {
	// compare re-executes this test binary as the etcd under test.
	if os.Getenv(procs.EtcdChildEnv) == "1" {
		os.Exit(etcdchild.Main(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// TestCompareSmoke runs `bench compare` with tiny counts against real etcd
// and cairn processes and checks its three outputs: every workload has a
// nonzero throughput for both systems and no errors, and the markdown, the
// JSON and the SVG parse.
func TestCompareSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a dozen servers")
	}
	out := t.TempDir()
	args := []string{"compare",
		"--requests", "200", "--keys", "2000", "--reps", "1",
		"--settle", "500ms", "--fsync-count", "100",
		"--time-limit", "30s", "--load-time-limit", "60s",
		"--data-dir", t.TempDir(), "--out", out,
	}
	if bin := os.Getenv(envCairnBin); bin != "" {
		args = append(args, "--cairn-bin", bin)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // includes building cairn
	defer cancel()
	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := cli.Main(ctx, args, &stdout, &stderr)
	t.Logf("bench %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
	if code != 0 {
		t.Fatalf("exit code %d\nstderr:\n%s\nstdout:\n%s", code, stderr.String(), stdout.String())
	}

	// results.json: every workload, both systems, nonzero throughput, no errors.
	b, err := os.ReadFile(filepath.Join(out, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		report.Report
		Summary []report.Row `json:"summary"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if len(rep.Problems) > 0 {
		t.Errorf("problems: %q", rep.Problems)
	}
	want := append(compare.Names(), "prefix-range", "count-only")
	if len(rep.Summary) != len(want) {
		t.Fatalf("summary has %d rows, want %d (%v)", len(rep.Summary), len(want), want)
	}
	for i, row := range rep.Summary {
		if row.Name != want[i] {
			t.Errorf("summary row %d is %q, want %q", i, row.Name, want[i])
		}
		for sys, s := range map[string]report.Summary{"etcd": row.Etcd, "cairn": row.Cairn} {
			if s.Runs != 1 || !(s.Throughput > 0) || s.P99 <= 0 || s.Errors != 0 {
				t.Errorf("%s %s: %+v", row.Name, sys, s)
			}
		}
		if !(row.ThroughputRatio > 0) || !(row.P99Ratio > 0) {
			t.Errorf("%s: ratios %v %v", row.Name, row.ThroughputRatio, row.P99Ratio)
		}
	}
	for _, w := range rep.Workloads {
		for _, r := range append(w.Etcd, w.Cairn...) {
			if r.Issued != 200 || r.Succeeded != 200 {
				t.Errorf("%s: %d issued, %d succeeded, want 200", w.Name, r.Issued, r.Succeeded)
			}
		}
	}
	m := rep.Memory
	if m == nil || m.Etcd == nil || m.Cairn == nil {
		t.Fatalf("no memory test in the report")
	}
	for sys, s := range map[string]*report.MemorySystem{"etcd": m.Etcd, "cairn": m.Cairn} {
		if s.Count != 2000 || s.Load.Succeeded != 2000 || s.Memory.VmRSS <= 0 || s.Memory.VmHWM < s.Memory.VmRSS ||
			s.DiskRunning.Allocated <= 0 || s.DiskStopped.Allocated <= 0 {
			t.Errorf("memory test %s: count %d, loaded %d, memory %+v, disk %+v / %+v",
				sys, s.Count, s.Load.Succeeded, s.Memory, s.DiskRunning, s.DiskStopped)
		}
	}
	if len(rep.Fsync) != 2 || rep.Fsync[0].Result.PerSecond <= 0 {
		t.Errorf("fsync probes: %+v", rep.Fsync)
	}

	// results.md: the summary table has a row per workload with numbers for both.
	md, err := os.ReadFile(filepath.Join(out, "results.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := summaryTable(t, string(md))
	for _, r := range rep.Summary {
		cells, ok := rows[r.Title]
		if !ok {
			t.Errorf("results.md: no row %q", r.Title)
			continue
		}
		// etcd req/s, Cairn req/s, ratio, p50 ×2, p99 ×2, ratio.
		for i := 0; i < 8; i++ {
			v, err := strconv.ParseFloat(strings.TrimSuffix(strings.ReplaceAll(cells[i], ",", ""), "×"), 64)
			if err != nil || !(v > 0) {
				t.Errorf("results.md: row %q, column %d is %q", r.Title, i+2, cells[i])
			}
		}
		if cells[8] != "0/0" {
			t.Errorf("results.md: row %q: errors %q", r.Title, cells[8])
		}
	}
	if !bytes.Contains(md, []byte("![throughput and p99 per workload, etcd and Cairn](results.svg)")) {
		t.Error("results.md does not show the chart")
	}

	// results.svg: well-formed XML.
	svg, err := os.ReadFile(filepath.Join(out, "results.svg"))
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(svg))
	for {
		if _, err := dec.Token(); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("results.svg: %v", err)
		}
	}

	// What was printed is the same markdown.
	if !strings.Contains(stdout.String(), "## Throughput and latency") {
		t.Error("stdout lacks the table")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", stdout.String())
	}
}

// summaryTable maps each row title of the "Throughput and latency" table to
// its other cells.
func summaryTable(t *testing.T, md string) map[string][]string {
	t.Helper()
	_, after, ok := strings.Cut(md, "## Throughput and latency")
	if !ok {
		t.Fatal("results.md: no throughput table")
	}
	rows := map[string][]string{}
	header := true
	for _, line := range strings.Split(after, "\n") {
		if strings.HasPrefix(line, "##") {
			break
		}
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if header {
			if len(cells) != 10 || cells[0] != "workload" {
				t.Fatalf("results.md: unexpected header %q", line)
			}
			header = false
			continue
		}
		if strings.HasPrefix(cells[0], "---") {
			continue
		}
		if len(cells) != 10 {
			t.Fatalf("results.md: row with %d cells: %q", len(cells), line)
		}
		rows[cells[0]] = cells[1:]
	}
	return rows
}
