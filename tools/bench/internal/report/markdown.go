package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/cairnkv/cairn/tools/bench/internal/load"
	"github.com/cairnkv/cairn/tools/bench/internal/stats"
)

// WriteMarkdown writes the report's tables as markdown. chart, when not
// empty, is the file name of the SVG chart to embed.
func (r *Report) WriteMarkdown(w io.Writer, chart string) error {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }

	p("# Cairn vs etcd %s: side-by-side benchmark\n\n", r.Versions.Etcd)
	p("Both servers ran on this machine one after the other, driven by the same load generator (`tools/bench`, ")
	p("`go.etcd.io/etcd/client/v3`) with the same workloads. Only ratios measured in one run mean much: ")
	p("these machines are small and shared.\n\n")

	p("| | |\n|---|---|\n")
	p("| Date | %s (start) |\n", r.Date.UTC().Format("2006-01-02 15:04 UTC"))
	m := r.Machine
	p("| Machine | %d CPUs (%s), %s RAM, Linux %s |\n", m.CPUs, orUnknown(m.CPUModel), fmtGiB(m.MemTotal), orUnknown(m.Kernel))
	if m.LoadAvg != "" {
		p("| Load average at the start | %s (1, 5, 15 min) |\n", m.LoadAvg)
	}
	p("| Data dirs | %s (%s), a fresh one per server start |\n", code(r.DataRoot), orUnknown(m.Filesystem))
	for _, f := range r.Fsync {
		if f.Result != nil {
			p("| Disk, %s | %s synced %d-byte appends/s (write + fdatasync: p50 %s ms, p99 %s ms) |\n",
				f.When, fmtInt(int64(math.Round(f.Result.PerSecond))), f.Result.BlockSize, fmtMs(f.Result.Latency.P50), fmtMs(f.Result.Latency.P99))
		}
	}
	p("| etcd | %s, %s |\n", r.Versions.Etcd, r.Versions.EtcdBuild)
	p("| Cairn | %s (%s), %s |\n", code(r.Versions.Cairn), r.Versions.CairnVersion, r.Versions.CairnBin)
	p("| Go | %s |\n", m.GoVersion)
	p("| Command | %s |\n", code(r.Command))
	if r.Duration > 0 {
		p("| Run time | %s |\n", r.Duration.Round(time.Second))
	}
	p("\n")

	if len(r.Problems) > 0 {
		p("**Problems during this run** (figures affected by them are missing or marked):\n\n")
		for _, s := range r.Problems {
			p("- %s\n", strings.ReplaceAll(s, "\n", " "))
		}
		p("\n")
	}

	if d := r.disturbed(0.10); len(d) > 0 {
		p("**Disturbed runs**: other processes used more than 10%% of a core, or the hypervisor took more than 10%%, during %s (see \"Every run\").\n\n", strings.Join(d, ", "))
	}

	rows := r.Rows()
	p("## Throughput and latency\n\n")
	if r.Reps == 1 {
		p("One run per system; latencies in milliseconds. ")
	} else {
		p("Medians of %d runs per system (each figure's median on its own); latencies in milliseconds. ", r.Reps)
	}
	p("Cairn/etcd above 1 is better for throughput, below 1 is better for p99. ")
	if r.Memory != nil {
		p("The last two rows ran once, over the data set of the memory test below.")
	}
	p("\n\n")
	if chart != "" {
		p("![throughput and p99 per workload, etcd and Cairn](%s)\n\n", chart)
	}
	p("| workload | etcd req/s | Cairn req/s | Cairn/etcd | etcd p50 | Cairn p50 | etcd p99 | Cairn p99 | Cairn/etcd p99 | errors (etcd/Cairn) |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, row := range rows {
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d/%d |\n", row.Title,
			fmtRate(row.Etcd.Throughput), fmtRate(row.Cairn.Throughput), fmtRatio(row.ThroughputRatio),
			fmtMs(row.Etcd.P50), fmtMs(row.Cairn.P50), fmtMs(row.Etcd.P99), fmtMs(row.Cairn.P99), fmtRatio(row.P99Ratio),
			row.Etcd.Errors, row.Cairn.Errors)
	}
	p("\n")

	if hasCPU(rows) {
		p("## CPU per request\n\n")
		p("CPU time (user + system) used during the measured phase, per successful request, in microseconds: ")
		p("the server's from `/proc/<pid>/stat` (10 ms ticks), the load generator's from `getrusage`. ")
		p("The two share the machine's %d cores. Medians across runs.\n\n", r.Machine.CPUs)
		p("| workload | etcd server µs | Cairn server µs | Cairn/etcd | load generator µs (etcd run) | load generator µs (Cairn run) |\n")
		p("|---|--:|--:|--:|--:|--:|\n")
		for _, row := range rows {
			p("| %s | %s | %s | %s | %s | %s |\n", row.Title, fmtUs(row.Etcd.ServerCPU), fmtUs(row.Cairn.ServerCPU),
				fmtRatio(row.ServerCPURatio), fmtUs(row.Etcd.ClientCPU), fmtUs(row.Cairn.ClientCPU))
		}
		p("\n")
	}

	if mem := r.Memory; mem != nil && mem.Etcd != nil && mem.Cairn != nil {
		e, c := mem.Etcd, mem.Cairn
		p("## After loading %s keys\n\n", fmtInt(int64(mem.Keys)))
		p("Each system loaded %s keys of %d–%d bytes with random %d-byte values (one put per key, in a scrambled order, %d clients over %d connections), ",
			fmtInt(int64(mem.Keys)), mem.KeySizes[0], mem.KeySizes[1], mem.ValSize, mem.LoadClients, mem.LoadConns)
		p("then idled %s. Memory is the server process's `VmRSS` (resident now) and `VmHWM` (peak resident) from `/proc/<pid>/status`; ", mem.Settle)
		p("disk is the data dir's allocated blocks, counted like `du -s` (the whole data dir: write-ahead log, snapshots and database), ")
		p("while running after the idle time and again after a clean stop. MB = 10⁶ bytes.\n\n")
		p("| | etcd | Cairn | Cairn/etcd |\n|---|--:|--:|--:|\n")
		if e.Load != nil && c.Load != nil {
			p("| load, puts/s | %s | %s | %s |\n", fmtRate(e.Load.Throughput), fmtRate(c.Load.Throughput), fmtRatio(stats.Ratio(c.Load.Throughput, e.Load.Throughput)))
			p("| load, keys written | %s | %s | |\n", fmtInt(int64(e.Load.Succeeded)), fmtInt(int64(c.Load.Succeeded)))
		}
		bytesRow := func(name string, ev, cv int64) {
			p("| %s | %s | %s | %s |\n", name, fmtMB(ev), fmtMB(cv), fmtRatio(stats.Ratio(float64(cv), float64(ev))))
		}
		bytesRow("resident memory (VmRSS)", e.Memory.VmRSS, c.Memory.VmRSS)
		bytesRow("peak resident memory (VmHWM)", e.Memory.VmHWM, c.Memory.VmHWM)
		bytesRow("… of which anonymous (RssAnon)", e.Memory.RssAnon, c.Memory.RssAnon)
		bytesRow("… of which file-backed (RssFile)", e.Memory.RssFile, c.Memory.RssFile)
		bytesRow("on disk, running", e.DiskRunning.Allocated, c.DiskRunning.Allocated)
		bytesRow("on disk, after stop", e.DiskStopped.Allocated, c.DiskStopped.Allocated)
		durRow := func(name string, er, cr *load.Result, pick func(*load.Result) time.Duration) {
			if er == nil || cr == nil {
				return
			}
			ev, cv := pick(er), pick(cr)
			p("| %s | %s | %s | %s |\n", name, fmtMs(ev), fmtMs(cv), fmtRatio(stats.Ratio(float64(cv), float64(ev))))
		}
		p50 := func(r *load.Result) time.Duration { return r.Latency.P50 }
		p99 := func(r *load.Result) time.Duration { return r.Latency.P99 }
		durRow(fmt.Sprintf("range prefix of %s keys, limit %s: p50 ms", fmtInt(int64(mem.PrefixKeys)), fmtInt(int64(mem.PrefixLimit))), e.PrefixRange, c.PrefixRange, p50)
		durRow("… p99 ms", e.PrefixRange, c.PrefixRange, p99)
		durRow("count_only over all keys: p50 ms", e.CountOnly, c.CountOnly, p50)
		durRow("… p99 ms", e.CountOnly, c.CountOnly, p99)
		p("| count_only answered | %s | %s | |\n", fmtInt(e.Count), fmtInt(c.Count))
		p("\n")
	}

	p("## Workloads\n\n")
	for _, w := range r.Workloads {
		p("- **%s** (`%s`): %s\n", w.Title, w.Name, w.Params)
	}
	if mem := r.Memory; mem != nil {
		p("- **%s** (`prefix-range`): a linearizable range over one prefix of the loaded keys with `limit`, one client, one request at a time; every answer is checked (%s keys returned, count %s, more=true).\n",
			mem.PrefixTitle(), fmtInt(int64(mem.PrefixLimit)), fmtInt(int64(mem.PrefixKeys)))
		p("- **%s** (`count-only`): a linearizable `count_only` range over every loaded key, one client, one request at a time; every answer is checked against the number of keys loaded.\n", mem.CountTitle())
	}
	p("\n")

	if len(r.Method) > 0 {
		p("## How the comparison is made fair\n\n")
		for _, s := range r.Method {
			p("- %s\n", s)
		}
		p("\n")
	}

	p("## Every run\n\n")
	p("Other CPU is what every other process of the machine used during the measured phase, and steal what the hypervisor took, in %% of one core: ")
	p("a run with much of either was disturbed.\n\n")
	p("| workload | system | run | requests | req/s | p50 | p90 | p99 | p99.9 | errors | other CPU | steal |\n")
	p("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	share := func(x *load.Result, d time.Duration) string {
		if !r.OtherCPUMeasured {
			return "–"
		}
		return fmtShare(x, d)
	}
	runRow := func(w, sys string, i int, x *load.Result) {
		note := ""
		if x.StoppedByTimeLimit {
			note = " (time limit)"
		}
		p("| %s | %s | %d | %s%s | %s | %s | %s | %s | %s | %d | %s | %s |\n", w, sys, i, fmtInt(int64(x.Issued)), note, fmtRate(x.Throughput),
			fmtMs(x.Latency.P50), fmtMs(x.Latency.P90), fmtMs(x.Latency.P99), fmtMs(x.Latency.P999), x.Errors,
			share(x, x.OtherCPU), share(x, x.StealCPU))
		for _, c := range x.Classes {
			p("| %s: %ss | %s | %d | %s | %s | %s | %s | %s | %s | %d | | |\n", w, c.Name, sys, i, fmtInt(int64(c.Succeeded+c.Errors)), fmtRate(c.Throughput),
				fmtMs(c.Latency.P50), fmtMs(c.Latency.P90), fmtMs(c.Latency.P99), fmtMs(c.Latency.P999), c.Errors)
		}
	}
	for _, w := range r.Workloads {
		for i := range max(len(w.Etcd), len(w.Cairn)) {
			if i < len(w.Etcd) {
				runRow(w.Name, "etcd", i+1, w.Etcd[i])
			}
			if i < len(w.Cairn) {
				runRow(w.Name, "Cairn", i+1, w.Cairn[i])
			}
		}
	}
	if mem := r.Memory; mem != nil {
		for _, s := range []struct {
			name string
			m    *MemorySystem
		}{{"etcd", mem.Etcd}, {"Cairn", mem.Cairn}} {
			if s.m == nil {
				continue
			}
			for _, x := range []struct {
				w string
				r *load.Result
			}{{"load", s.m.Load}, {"prefix-range", s.m.PrefixRange}, {"count-only", s.m.CountOnly}} {
				if x.r != nil {
					runRow(x.w, s.name, 1, x.r)
				}
			}
		}
	}
	var errs []string
	for _, w := range r.Workloads {
		for _, x := range append(append([]*load.Result(nil), w.Etcd...), w.Cairn...) {
			for _, e := range x.ErrorSamples {
				errs = append(errs, fmt.Sprintf("%s: %s", w.Name, e))
			}
		}
	}
	if len(errs) > 0 {
		p("\nErrors seen (samples):\n\n")
		for _, e := range errs {
			p("- %s\n", code(e))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// code wraps s in backticks (for a markdown table cell).
func code(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	s = strings.ReplaceAll(s, "\n", " ")
	if strings.Contains(s, "`") {
		return "``" + s + "``"
	}
	return "`" + s + "`"
}

// fmtInt writes n with thousands separators: 1234567 → 1,234,567.
func fmtInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// fmtRate is a request rate: whole numbers with separators, one decimal
// below 100.
func fmtRate(x float64) string {
	switch {
	case math.IsNaN(x) || x <= 0:
		return "–"
	case x < 100:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return fmtInt(int64(math.Round(x)))
}

// fmtMs is a duration in milliseconds with three significant digits or so.
func fmtMs(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 3, 64)
	case ms < 10:
		return strconv.FormatFloat(ms, 'f', 2, 64)
	case ms < 100:
		return strconv.FormatFloat(ms, 'f', 1, 64)
	}
	return fmtInt(int64(math.Round(ms)))
}

// fmtShare is CPU time d over run x's wall time, in percent of one core.
func fmtShare(x *load.Result, d time.Duration) string {
	if x.Elapsed <= 0 {
		return "–"
	}
	return strconv.FormatFloat(100*d.Seconds()/x.Elapsed.Seconds(), 'f', 0, 64) + "%"
}

func hasCPU(rows []Row) bool {
	for _, r := range rows {
		if r.Etcd.ServerCPU > 0 || r.Cairn.ServerCPU > 0 {
			return true
		}
	}
	return false
}

// fmtUs is a duration in microseconds.
func fmtUs(d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	us := float64(d) / float64(time.Microsecond)
	if us < 100 {
		return strconv.FormatFloat(us, 'f', 1, 64)
	}
	return fmtInt(int64(math.Round(us)))
}

// fmtRatio is a Cairn/etcd ratio; undefined ratios are a dash.
func fmtRatio(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) || x <= 0 {
		return "–"
	}
	return strconv.FormatFloat(x, 'f', 2, 64) + "×"
}

// fmtCount is a count in short form: 1,000,000 → 1M, 2,000 → 2k.
func fmtCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1_000 && n%1_000 == 0:
		return strconv.Itoa(n/1_000) + "k"
	}
	return fmtInt(int64(n))
}

func fmtMB(b int64) string {
	if b <= 0 {
		return "–"
	}
	mb := float64(b) / 1e6
	if mb < 10 {
		return strconv.FormatFloat(mb, 'f', 1, 64) + " MB"
	}
	return fmtInt(int64(math.Round(mb))) + " MB"
}

func fmtGiB(b int64) string {
	if b <= 0 {
		return "unknown"
	}
	return strconv.FormatFloat(float64(b)/(1<<30), 'f', 1, 64) + " GiB"
}

// disturbed names the runs during which other processes or the hypervisor
// took more than share of a core.
func (r *Report) disturbed(share float64) []string {
	var out []string
	check := func(name string, x *load.Result) {
		// Below a second the 10 ms ticks of /proc say too little.
		if x == nil || x.Elapsed < time.Second {
			return
		}
		e := x.Elapsed.Seconds()
		if x.OtherCPU.Seconds()/e > share || x.StealCPU.Seconds()/e > share {
			out = append(out, name)
		}
	}
	for _, w := range r.Workloads {
		for i, x := range w.Etcd {
			check(fmt.Sprintf("%s etcd run %d", w.Name, i+1), x)
		}
		for i, x := range w.Cairn {
			check(fmt.Sprintf("%s Cairn run %d", w.Name, i+1), x)
		}
	}
	if m := r.Memory; m != nil {
		for _, s := range []struct {
			name string
			m    *MemorySystem
		}{{"etcd", m.Etcd}, {"Cairn", m.Cairn}} {
			if s.m != nil {
				check("memory load "+s.name, s.m.Load)
				check("prefix-range "+s.name, s.m.PrefixRange)
				check("count-only "+s.name, s.m.CountOnly)
			}
		}
	}
	return out
}
