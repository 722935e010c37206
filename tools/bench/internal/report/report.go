// Package report holds the results of a comparison between etcd and Cairn
// and writes them out: JSON (everything), markdown (the tables) and an SVG
// chart (throughput and p99 per workload, both systems side by side).
package report

import (
	"encoding/json"
	"io"
	"math"
	"time"

	"github.com/cairnkv/cairn/tools/bench/internal/fsyncprobe"
	"github.com/cairnkv/cairn/tools/bench/internal/load"
	"github.com/cairnkv/cairn/tools/bench/internal/procs"
	"github.com/cairnkv/cairn/tools/bench/internal/stats"
)

// Report is one comparison run.
type Report struct {
	Date     time.Time `json:"date"`
	Command  string    `json:"command"`
	Machine  Machine   `json:"machine"`
	Versions Versions  `json:"versions"`
	// Fsync holds the disk probe, taken before and after the workloads.
	Fsync    []Probe `json:"fsync"`
	DataRoot string  `json:"data_root"`
	Reps     int     `json:"reps"`
	// Method explains, one point each, how the comparison is made fair.
	Method    []string   `json:"method"`
	Workloads []Workload `json:"workloads"`
	Memory    *Memory    `json:"memory,omitempty"`
	// OtherCPUMeasured says whether the runs carry other processes' and the
	// hypervisor's CPU time (OtherCPU, StealCPU).
	OtherCPUMeasured bool `json:"other_cpu_measured,omitempty"`
	// Problems lists what went wrong during the run: failed runs, unclean
	// server exits, answers that did not check out.
	Problems []string      `json:"problems,omitempty"`
	Duration time.Duration `json:"duration_ns"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs       int    `json:"cpus"`
	CPUModel   string `json:"cpu_model"`
	MemTotal   int64  `json:"mem_total"`
	Kernel     string `json:"kernel"`
	GoVersion  string `json:"go_version"`
	Filesystem string `json:"filesystem"` // of the data dirs
	LoadAvg    string `json:"load_avg"`   // /proc/loadavg's 1, 5 and 15-minute averages when the run began
}

// Versions of what was compared.
type Versions struct {
	Etcd         string `json:"etcd"`          // e.g. 3.6.16
	EtcdBuild    string `json:"etcd_build"`    // how etcd was built and run
	Cairn        string `json:"cairn"`         // git describe of the tree
	CairnVersion string `json:"cairn_version"` // what the binary says
	CairnBin     string `json:"cairn_bin"`     // built from the tree, or given
}

// Probe is one fsync probe.
type Probe struct {
	When   string             `json:"when"`
	Result *fsyncprobe.Result `json:"result"`
}

// Workload is one workload run against both systems, Reps times each.
type Workload struct {
	Name   string `json:"name"`   // stable identifier, e.g. put-1
	Title  string `json:"title"`  // e.g. "put, 1 client"
	Short  string `json:"short"`  // the chart's label; Title when empty
	Params string `json:"params"` // what exactly runs
	// Runs holds every measured run, in the order they ran.
	Etcd  []*load.Result `json:"etcd"`
	Cairn []*load.Result `json:"cairn"`
}

// Memory is the phase that loads many keys into each system and measures
// its memory, its disk and two reads over the data set.
type Memory struct {
	Keys        int           `json:"keys"`
	KeySizes    [2]int        `json:"key_sizes"` // shortest, longest
	ValSize     int           `json:"val_size"`
	LoadClients int           `json:"load_clients"`
	LoadConns   int           `json:"load_conns"`
	Settle      time.Duration `json:"settle_ns"`
	PrefixKeys  int           `json:"prefix_keys"`  // keys under the prefix of the prefix range
	PrefixLimit int           `json:"prefix_limit"` // its limit
	Etcd        *MemorySystem `json:"etcd"`
	Cairn       *MemorySystem `json:"cairn"`
}

// MemorySystem is one system's memory phase.
type MemorySystem struct {
	Load        *load.Result `json:"load"`
	Memory      procs.Memory `json:"memory"`       // after the load and the settle time
	DiskRunning procs.Disk   `json:"disk_running"` // data dir after the load and the settle time
	DiskStopped procs.Disk   `json:"disk_stopped"` // data dir after a clean stop
	PrefixRange *load.Result `json:"prefix_range"`
	CountOnly   *load.Result `json:"count_only"`
	Count       int64        `json:"count"` // what count_only answered
}

// Summary is the medians of one system's runs of a workload.
type Summary struct {
	Runs       int           `json:"runs"`
	Throughput float64       `json:"throughput"`
	P50        time.Duration `json:"p50_ns"`
	P90        time.Duration `json:"p90_ns"`
	P99        time.Duration `json:"p99_ns"`
	P999       time.Duration `json:"p999_ns"`
	Errors     int           `json:"errors"` // over all runs
	// ServerCPU and ClientCPU are CPU time per successful request of the
	// server and of the load generator (0 when not measured).
	ServerCPU time.Duration `json:"server_cpu_per_request_ns"`
	ClientCPU time.Duration `json:"client_cpu_per_request_ns"`
}

// Summarize is the median of each figure over runs, computed figure by
// figure (the median p99 need not come from the median-throughput run).
func Summarize(runs []*load.Result) Summary {
	s := Summary{Runs: len(runs)}
	if len(runs) == 0 {
		return s
	}
	var tp []float64
	var p50, p90, p99, p999, scpu, ccpu []time.Duration
	for _, r := range runs {
		if r.Succeeded > 0 && r.ServerCPU > 0 {
			scpu = append(scpu, r.ServerCPU/time.Duration(r.Succeeded))
		}
		if r.Succeeded > 0 && r.ClientCPU > 0 {
			ccpu = append(ccpu, r.ClientCPU/time.Duration(r.Succeeded))
		}
		tp = append(tp, r.Throughput)
		p50 = append(p50, r.Latency.P50)
		p90 = append(p90, r.Latency.P90)
		p99 = append(p99, r.Latency.P99)
		p999 = append(p999, r.Latency.P999)
		s.Errors += r.Errors
	}
	s.Throughput = stats.Median(tp)
	s.P50 = stats.MedianDuration(p50)
	s.P90 = stats.MedianDuration(p90)
	s.P99 = stats.MedianDuration(p99)
	s.P999 = stats.MedianDuration(p999)
	s.ServerCPU = stats.MedianDuration(scpu)
	s.ClientCPU = stats.MedianDuration(ccpu)
	return s
}

// Row is a workload's line of the summary table.
type Row struct {
	Name            string  `json:"name"`
	Title           string  `json:"title"`
	Short           string  `json:"short"` // the chart's label
	Etcd            Summary `json:"etcd"`
	Cairn           Summary `json:"cairn"`
	ThroughputRatio float64 `json:"throughput_ratio"` // Cairn/etcd; higher is better; 0 when undefined
	P99Ratio        float64 `json:"p99_ratio"`        // Cairn/etcd; lower is better; 0 when undefined
	ServerCPURatio  float64 `json:"server_cpu_ratio"` // Cairn/etcd CPU per request; lower is better; 0 when undefined
}

// Rows are the summary table: every workload, then the memory phase's two
// reads (one run each).
func (r *Report) Rows() []Row {
	var rows []Row
	for _, w := range r.Workloads {
		rows = append(rows, newRow(w.Name, w.Title, w.Short, w.Etcd, w.Cairn))
	}
	if m := r.Memory; m != nil && m.Etcd != nil && m.Cairn != nil {
		rows = append(rows,
			newRow("prefix-range", m.PrefixTitle(), "range prefix, limit "+fmtInt(int64(m.PrefixLimit))+", over "+fmtCount(m.Keys)+" keys, 1 run",
				one(m.Etcd.PrefixRange), one(m.Cairn.PrefixRange)),
			newRow("count-only", m.CountTitle(), "count_only over "+fmtCount(m.Keys)+" keys, 1 run",
				one(m.Etcd.CountOnly), one(m.Cairn.CountOnly)))
	}
	return rows
}

// PrefixTitle names the prefix range.
func (m *Memory) PrefixTitle() string {
	return "range prefix of " + fmtInt(int64(m.PrefixKeys)) + " keys, limit " + fmtInt(int64(m.PrefixLimit)) + ", 1 client, over " + fmtInt(int64(m.Keys)) + " keys"
}

// CountTitle names the count_only range.
func (m *Memory) CountTitle() string {
	return "count_only over all " + fmtInt(int64(m.Keys)) + " keys, 1 client"
}

func one(r *load.Result) []*load.Result {
	if r == nil {
		return nil
	}
	return []*load.Result{r}
}

func newRow(name, title, short string, etcd, cairn []*load.Result) Row {
	if short == "" {
		short = title
	}
	row := Row{Name: name, Title: title, Short: short, Etcd: Summarize(etcd), Cairn: Summarize(cairn)}
	row.ThroughputRatio = finite(stats.Ratio(row.Cairn.Throughput, row.Etcd.Throughput))
	row.P99Ratio = finite(stats.Ratio(float64(row.Cairn.P99), float64(row.Etcd.P99)))
	row.ServerCPURatio = finite(stats.Ratio(float64(row.Cairn.ServerCPU), float64(row.Etcd.ServerCPU)))
	return row
}

// finite maps NaN (no ratio) to 0, which JSON can carry.
func finite(x float64) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return 0
	}
	return x
}

// jsonReport is what WriteJSON writes: the report and its summary rows.
type jsonReport struct {
	*Report
	Summary []Row `json:"summary"`
}

// WriteJSON writes the whole report, with its summary rows, as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(jsonReport{r, r.Rows()})
}
