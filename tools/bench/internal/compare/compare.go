// Package compare runs etcd and Cairn side by side: the same workloads from
// the same load generator against each server in turn, each server a child
// process on a fresh data dir, repeated, summarised as medians and
// Cairn/etcd ratios, plus a memory test over a large data set.
package compare

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cairnkv/cairn/tools/bench/internal/etcdchild"
	"github.com/cairnkv/cairn/tools/bench/internal/fsyncprobe"
	"github.com/cairnkv/cairn/tools/bench/internal/load"
	"github.com/cairnkv/cairn/tools/bench/internal/procs"
	"github.com/cairnkv/cairn/tools/bench/internal/report"
)

// Config is a comparison's setup.
type Config struct {
	RepoRoot string // the Cairn tree (builds cairn, names its version)
	CairnBin string // a prebuilt cairn; empty builds ./app/cairn from RepoRoot
	// CairnLabel names the cairn version in the report; the tree's git
	// describe when empty.
	CairnLabel string
	EtcdBin    string // the program re-executed as etcd; this one when empty
	DataDir    string // where the run's directory of data dirs goes; the system temp dir when empty

	Reps      int
	Scale     float64  // multiplies every request count
	Requests  int      // when positive, every workload's request count
	Workloads []string // names to run; all when empty

	Memory        bool // run the memory test
	Keys          int  // keys the memory test loads
	LoadClients   int
	LoadConns     int
	Settle        time.Duration // idle time between the load and the measurements
	TimeLimit     time.Duration // of each measured run
	LoadTimeLimit time.Duration // of the memory test's load
	FsyncCount    int           // synced writes per fsync probe

	Command  string    // the command line, for the report
	Out      io.Writer // progress lines
	Progress io.Writer // progress bars; none when nil
	LogDir   string    // keeps every server's output there when set
	KeepData bool      // keep the data dirs
}

// Defaults is the configuration of a full comparison.
func Defaults() Config {
	return Config{
		Reps: 3, Scale: 1, Memory: true, Keys: 1_000_000,
		LoadClients: 200, LoadConns: 20, Settle: 10 * time.Second,
		TimeLimit: 2 * time.Minute, LoadTimeLimit: 15 * time.Minute,
		FsyncCount: 5_000,
	}
}

// Names lists the workloads in the order they run.
func Names() []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.name)
	}
	return out
}

func (c *Config) validate() error {
	if c.Reps < 1 {
		return fmt.Errorf("--reps must be at least 1, got %d", c.Reps)
	}
	if !(c.Scale > 0) {
		return fmt.Errorf("--scale must be positive, got %v", c.Scale)
	}
	if c.Memory && (c.Keys < 1 || c.Keys > memMaxKeys) {
		return fmt.Errorf("--keys must be between 1 and %d, got %d", memMaxKeys, c.Keys)
	}
	if c.LoadClients < 1 || c.LoadConns < 1 {
		return errors.New("--load-clients and --load-conns must be positive")
	}
	if c.TimeLimit <= 0 || c.LoadTimeLimit <= 0 {
		return errors.New("time limits must be positive")
	}
	known := map[string]bool{}
	for _, s := range specs {
		known[s.name] = true
	}
	for _, w := range c.Workloads {
		if !known[w] {
			return fmt.Errorf("unknown workload %q (known: %s)", w, strings.Join(Names(), ", "))
		}
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return nil
}

type runner struct {
	cfg  Config
	root string // the run's directory: data dirs, the cairn binary
	seq  int
	rep  *report.Report
}

// Run runs the comparison. It returns the report even when some runs
// failed (they are listed in its Problems), together with an error saying so.
func Run(ctx context.Context, cfg Config) (*report.Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	root, err := os.MkdirTemp(cfg.DataDir, "cairn-bench-")
	if err != nil {
		return nil, err
	}
	if !cfg.KeepData {
		defer os.RemoveAll(root)
	}
	r := &runner{cfg: cfg, root: root, rep: &report.Report{
		Date:     began,
		Command:  cfg.Command,
		Machine:  machine(root),
		DataRoot: root,
		Reps:     cfg.Reps,
		// measureCPU reads /proc/stat around every measured phase.
		OtherCPUMeasured: true,
	}}
	r.logf("bench compare: data dirs under %s (%s)", root, r.rep.Machine.Filesystem)
	if r.rep.Machine.Filesystem == "tmpfs" {
		r.problem("the data dirs are on tmpfs, where fsync costs nothing: write figures do not reflect a disk (use --data-dir)")
	}
	if err := r.binaries(ctx); err != nil {
		return nil, err
	}
	r.rep.Method = r.method()
	r.probe(ctx, "before the workloads")
	if err := r.workloads(ctx); err != nil {
		return r.finish(began), err
	}
	if cfg.Memory {
		if err := r.memory(ctx); err != nil {
			return r.finish(began), err
		}
	}
	r.probe(ctx, "after the workloads")
	rep := r.finish(began)
	if n := len(rep.Problems); n > 0 {
		return rep, fmt.Errorf("%d problem(s) during the comparison: %s", n, strings.Join(rep.Problems, "; "))
	}
	return rep, nil
}

func (r *runner) finish(began time.Time) *report.Report {
	r.rep.Duration = time.Since(began)
	return r.rep
}

func (r *runner) logf(format string, a ...any) {
	fmt.Fprintf(r.cfg.Out, format+"\n", a...)
}

func (r *runner) problem(format string, a ...any) {
	s := fmt.Sprintf(format, a...)
	r.rep.Problems = append(r.rep.Problems, s)
	r.logf("PROBLEM: %s", s)
}

// binaries finds (or builds) both servers and names their versions.
func (r *runner) binaries(ctx context.Context) error {
	v := &r.rep.Versions
	v.Etcd = etcdchild.Version
	v.EtcdBuild = "go.etcd.io/etcd/server/v3/embed " + moduleVersion("go.etcd.io/etcd/server/v3") +
		" built into tools/bench with " + runtime.Version() + ", run as a child process, default settings"
	if r.cfg.EtcdBin == "" {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("this program's path (re-executed as etcd): %w", err)
		}
		r.cfg.EtcdBin = self
	}
	switch {
	case r.cfg.CairnLabel != "":
		v.Cairn = r.cfg.CairnLabel
	case r.cfg.RepoRoot != "":
		v.Cairn = gitDescribe(ctx, r.cfg.RepoRoot)
		if r.cfg.CairnBin != "" {
			v.Cairn = "tree at " + v.Cairn
		}
	}
	if r.cfg.CairnBin == "" {
		if r.cfg.RepoRoot == "" {
			return errors.New("no cairn binary and no repository to build it from (--cairn-bin or --repo)")
		}
		bin := filepath.Join(r.root, "bin", "cairn")
		r.logf("building cairn from %s ...", r.cfg.RepoRoot)
		if err := goBuild(ctx, r.cfg.RepoRoot, bin, "./app/cairn"); err != nil {
			return err
		}
		r.cfg.CairnBin = bin
		v.CairnBin = "built from the tree with " + runtime.Version() + " (`go build ./app/cairn`), default settings"
	} else {
		abs, err := filepath.Abs(r.cfg.CairnBin)
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return fmt.Errorf("--cairn-bin: %w", err)
		}
		r.cfg.CairnBin = abs
		v.CairnBin = "binary given with --cairn-bin (" + abs + "), default settings"
	}
	v.CairnVersion = cairnVersion(ctx, r.cfg.CairnBin)
	r.logf("etcd %s (embedded, %s); cairn %s (%s)", v.Etcd, r.cfg.EtcdBin, v.Cairn, v.CairnVersion)
	return nil
}

func (r *runner) method() []string {
	m := []string{
		"One load generator (this program, `go.etcd.io/etcd/client/v3` " + moduleVersion("go.etcd.io/etcd/client/v3") + ") drives both servers with the same workloads, the same request counts and the same keys: each client draws its keys from a random generator seeded by its number, so both servers receive the same sequence; values are random bytes, so neither server gains from compressing them.",
		"Each server is a child process of its own — etcd is this program re-executed as an embedded etcd, Cairn its own binary — started with the same etcd flags (one member on 127.0.0.1: `--name`, `--data-dir`, client and peer URLs, `--initial-cluster`) and every other setting at its default: fsync before acknowledging, etcd's 2 GiB quota and snapshot count, Cairn's defaults. Memory is read from each server's own `/proc/<pid>/status`. (etcd's process is this whole program, whose extra code keeps about 5 MB more resident than an etcd-only binary would: counted against etcd.)",
		"Only one server runs at a time, on 127.0.0.1, sharing the machine's cores with the load generator, as in production-like single-node use; both pay the same client CPU cost.",
		"Every server start gets a fresh data dir; all of them are siblings in one directory on the same filesystem. After each stop the data dir is deleted and the filesystems synced, so the next server does not pay for the previous one's write-back.",
		fmt.Sprintf("Each run is one server start: seed keys where the workload reads them, warm up with 5%% of the request count (10 to 2,000 requests, not measured), then measure. Runs alternate etcd, Cairn, etcd, Cairn; %s", reps(r.cfg.Reps)),
		"Every run is bounded by its request count and a time limit (" + r.cfg.TimeLimit.String() + "). Throughput is successful requests over the wall time of the measured phase; latencies are those of successful requests, from just before the client call to its return; percentiles are exact (nearest rank over every sample). The tables give the median of each figure across repetitions.",
	}
	if r.cfg.Memory {
		m = append(m, "The memory test runs after the workloads, etcd first, each on a fresh server: the load, an idle time, the memory and disk readings, then the prefix range and count_only reads, one client, one request at a time, every answer checked.")
	}
	return m
}

func reps(n int) string {
	if n == 1 {
		return "each workload ran once per system."
	}
	return fmt.Sprintf("the %d repetitions are interleaved across workloads (every workload once, then again), so slow drift of the machine reaches both systems alike.", n)
}

func (r *runner) probe(ctx context.Context, when string) {
	cfg := fsyncprobe.DefaultConfig(r.root)
	cfg.Count = max(r.cfg.FsyncCount, 10)
	res, err := fsyncprobe.Run(ctx, cfg)
	if err != nil {
		r.problem("fsync probe %s: %v", when, err)
		return
	}
	r.rep.Fsync = append(r.rep.Fsync, report.Probe{When: when, Result: res})
	r.logf("fsync probe (%s): %s", when, res)
}

// server starts a fresh server of kind, runs fn against it, stops it and
// removes its data dir. after, when set, runs once the server has stopped,
// before its data dir is removed.
func (r *runner) server(ctx context.Context, kind procs.Kind, label string, fn func(*procs.Server) error, after func(dataDir string)) error {
	r.seq++
	dir := filepath.Join(r.root, fmt.Sprintf("%s-%03d", kind, r.seq))
	spec := procs.Spec{Kind: kind, DataDir: dir}
	switch kind {
	case procs.Etcd:
		spec.Bin = r.cfg.EtcdBin
	case procs.Cairn:
		spec.Bin = r.cfg.CairnBin
	}
	if r.cfg.LogDir != "" {
		if err := os.MkdirAll(r.cfg.LogDir, 0o755); err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(r.cfg.LogDir, fmt.Sprintf("%03d-%s-%s.log", r.seq, label, kind)))
		if err != nil {
			return err
		}
		defer f.Close()
		spec.Log = f
	}
	s, err := procs.Start(ctx, spec)
	if err != nil {
		return err
	}
	defer func() {
		if !r.cfg.KeepData {
			_ = os.RemoveAll(dir)
		}
		syscall.Sync()
	}()
	err = waitServing(ctx, s.ClientURL())
	if err == nil {
		err = fn(s)
	}
	if err != nil && !s.Running() {
		err = fmt.Errorf("%w; %s exited, last log lines:\n%s", err, kind, lastLines(s.LogTail(), 20))
	}
	if serr := s.Stop(30 * time.Second); serr != nil {
		r.problem("%s %s: %v\nlast log lines:\n%s", label, kind, serr, lastLines(s.LogTail(), 20))
	}
	if after != nil {
		after(dir)
	}
	return err
}

// waitServing waits (bounded) until a linearizable read succeeds: the
// server has a leader and serves.
func waitServing(ctx context.Context, url string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{url}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return err
	}
	defer cli.Close()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, time.Second)
		_, err := cli.Get(c, "bench-ready-probe")
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("not serving: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (r *runner) loadConfig(url string, total, clients, conns int) load.Config {
	return load.Config{
		Endpoints: []string{url},
		Clients:   clients,
		Conns:     conns,
		Total:     total,
		Warmup:    warmupFor(total),
		TimeLimit: r.cfg.TimeLimit,
		Progress:  r.cfg.Progress,
	}
}

func (r *runner) selected() []spec {
	if len(r.cfg.Workloads) == 0 {
		return specs
	}
	var out []spec
	for _, s := range specs {
		for _, n := range r.cfg.Workloads {
			if s.name == n {
				out = append(out, s)
			}
		}
	}
	return out
}

func (r *runner) total(s spec) int {
	if r.cfg.Requests > 0 {
		return r.cfg.Requests
	}
	return scaled(s.total, r.cfg.Scale)
}

func (r *runner) workloads(ctx context.Context) error {
	sel := r.selected()
	for _, s := range sel {
		total := r.total(s)
		r.rep.Workloads = append(r.rep.Workloads, report.Workload{Name: s.name, Title: s.title, Short: s.short, Params: s.params(total)})
	}
	for rep := 1; rep <= r.cfg.Reps; rep++ {
		for i, s := range sel {
			total := r.total(s)
			w := &r.rep.Workloads[i]
			for _, kind := range []procs.Kind{procs.Etcd, procs.Cairn} {
				var res *load.Result
				err := r.server(ctx, kind, s.name, func(srv *procs.Server) error {
					cfg := r.loadConfig(srv.ClientURL(), total, s.clients, s.conns)
					done := measureCPU(&cfg, srv.Pid())
					var err error
					res, err = load.Run(ctx, cfg, s.make(total))
					done(res)
					return err
				}, nil)
				if ctx.Err() != nil {
					return ctx.Err()
				}
				tag := fmt.Sprintf("[rep %d/%d] %-22s %-5s", rep, r.cfg.Reps, s.name, kind)
				if err != nil {
					r.problem("%s run %d: %v", s.name, rep, err)
					continue
				}
				r.logf("%s %s", tag, line(res))
				r.checkRun(s.name, kind, rep, res)
				if kind == procs.Etcd {
					w.Etcd = append(w.Etcd, res)
				} else {
					w.Cairn = append(w.Cairn, res)
				}
			}
		}
	}
	return nil
}

// measureCPU makes cfg record the CPU time of the server, of this process
// and of every other process over the measured phase; the returned function
// stores them in the result.
func measureCPU(cfg *load.Config, pid int) func(*load.Result) {
	var srv0, srv1, self0, self1 time.Duration
	var mach0, mach1 procs.MachineCPU
	var srvErr, machErr error
	cfg.BeforeMeasure = func() {
		mach0, machErr = procs.ReadMachineCPU()
		srv0, srvErr = procs.CPUTime(pid)
		self0 = procs.SelfCPUTime()
	}
	cfg.AfterMeasure = func() {
		self1 = procs.SelfCPUTime()
		var err error
		if srv1, err = procs.CPUTime(pid); err != nil {
			srvErr = err
		}
		if mach1, err = procs.ReadMachineCPU(); err != nil {
			machErr = err
		}
	}
	return func(res *load.Result) {
		if res == nil {
			return
		}
		if srvErr == nil && srv1 > srv0 {
			res.ServerCPU = srv1 - srv0
		}
		res.ClientCPU = self1 - self0
		if machErr == nil && srvErr == nil {
			// Tick rounding can make the difference slightly negative.
			res.OtherCPU = max(0, (mach1.Busy-mach0.Busy)-res.ServerCPU-res.ClientCPU)
			res.StealCPU = mach1.Steal - mach0.Steal
		}
	}
}

func (r *runner) checkRun(name string, kind procs.Kind, rep int, res *load.Result) {
	if res.Errors > 0 {
		r.problem("%s %s run %d: %d of %d requests failed: %s", name, kind, rep, res.Errors, res.Issued, strings.Join(res.ErrorSamples, "; "))
	}
	if res.StoppedByTimeLimit {
		r.problem("%s %s run %d: stopped by the %v time limit after %d of %d requests", name, kind, rep, r.cfg.TimeLimit, res.Issued, res.Total)
	}
}

func line(res *load.Result) string {
	cpu := ""
	if res.Succeeded > 0 && res.ServerCPU > 0 {
		cpu = fmt.Sprintf("  server CPU %6.1f µs/req", float64(res.ServerCPU)/float64(res.Succeeded)/1e3)
	}
	if res.Elapsed > 0 && (res.OtherCPU > 0 || res.StealCPU > 0) {
		cpu += fmt.Sprintf("  other %3.0f%% steal %3.0f%% of a core", 100*res.OtherCPU.Seconds()/res.Elapsed.Seconds(), 100*res.StealCPU.Seconds()/res.Elapsed.Seconds())
	}
	return fmt.Sprintf("%9.0f req/s  p50 %7.3f ms  p99 %7.3f ms  p99.9 %7.3f ms  errors %d%s",
		res.Throughput, ms(res.Latency.P50), ms(res.Latency.P99), ms(res.Latency.P999), res.Errors, cpu)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// memory loads the data set into each server and measures it.
func (r *runner) memory(ctx context.Context) error {
	keys := newMemKeys(r.cfg.Keys)
	g, groupKeys := keys.prefixGroup()
	m := &report.Memory{
		Keys: r.cfg.Keys, KeySizes: [2]int{memMinKey, memMaxKey}, ValSize: valSize,
		LoadClients: r.cfg.LoadClients, LoadConns: r.cfg.LoadConns, Settle: r.cfg.Settle,
		PrefixKeys: groupKeys, PrefixLimit: min(memKeyLimit, groupKeys),
	}
	r.rep.Memory = m
	prefixTotal, countTotal := scaled(200, r.cfg.Scale), scaled(20, r.cfg.Scale)
	if r.cfg.Requests > 0 {
		prefixTotal, countTotal = min(prefixTotal, r.cfg.Requests), min(countTotal, r.cfg.Requests)
	}
	for _, kind := range []procs.Kind{procs.Etcd, procs.Cairn} {
		sys := &report.MemorySystem{}
		err := r.server(ctx, kind, "memory", func(srv *procs.Server) error {
			cfg := load.Config{
				Endpoints: []string{srv.ClientURL()}, Clients: r.cfg.LoadClients, Conns: r.cfg.LoadConns,
				Total: r.cfg.Keys, TimeLimit: r.cfg.LoadTimeLimit, Progress: r.cfg.Progress,
			}
			done := measureCPU(&cfg, srv.Pid())
			res, err := load.Run(ctx, cfg, &fill{m: keys})
			done(res)
			if err != nil {
				return fmt.Errorf("load: %w", err)
			}
			sys.Load = res
			r.logf("[memory] %-5s load: %d keys in %.1f s (%.0f puts/s, %d errors)", kind, res.Succeeded, res.Elapsed.Seconds(), res.Throughput, res.Errors)
			r.checkRun("memory load", kind, 1, res)
			complete := res.Errors == 0 && !res.StoppedByTimeLimit

			select {
			case <-time.After(r.cfg.Settle):
			case <-ctx.Done():
				return ctx.Err()
			}
			if sys.Memory, err = procs.ReadMemory(srv.Pid()); err != nil {
				return err
			}
			if sys.DiskRunning, err = procs.DiskUsage(srv.DataDir()); err != nil {
				return err
			}
			r.logf("[memory] %-5s VmRSS %.0f MB, VmHWM %.0f MB, disk %.0f MB (running)", kind,
				float64(sys.Memory.VmRSS)/1e6, float64(sys.Memory.VmHWM)/1e6, float64(sys.DiskRunning.Allocated)/1e6)

			limit := int64(m.PrefixLimit)
			prefix := &load.Range{Key: groupPrefix(g), Prefix: true, Limit: limit,
				Check: func(resp *clientv3.GetResponse) error {
					if int64(len(resp.Kvs)) > limit || (complete && (int64(len(resp.Kvs)) != limit || resp.Count != int64(groupKeys) || resp.More != (int64(groupKeys) > limit))) {
						return fmt.Errorf("prefix range: %d kvs, count %d, more %v; want %d kvs, count %d", len(resp.Kvs), resp.Count, resp.More, limit, groupKeys)
					}
					return nil
				}}
			one := load.Config{Endpoints: []string{srv.ClientURL()}, Clients: 1, Conns: 1, TimeLimit: r.cfg.TimeLimit}
			one.Total, one.Warmup = prefixTotal, min(5, prefixTotal)
			done = measureCPU(&one, srv.Pid())
			sys.PrefixRange, err = load.Run(ctx, one, prefix)
			done(sys.PrefixRange)
			if err != nil {
				return fmt.Errorf("prefix range: %w", err)
			}
			r.logf("[memory] %-5s prefix range: %s", kind, line(sys.PrefixRange))
			r.checkRun("prefix range", kind, 1, sys.PrefixRange)

			lo, hi := int64(res.Succeeded), int64(res.Issued)
			count := &load.Range{Key: memPrefix, Prefix: true, CountOnly: true,
				Check: func(resp *clientv3.GetResponse) error {
					sys.Count = resp.Count
					if resp.Count < lo || resp.Count > hi {
						return fmt.Errorf("count_only: %d keys, want %d", resp.Count, lo)
					}
					return nil
				}}
			one.Total, one.Warmup = countTotal, min(2, countTotal)
			done = measureCPU(&one, srv.Pid())
			sys.CountOnly, err = load.Run(ctx, one, count)
			done(sys.CountOnly)
			if err != nil {
				return fmt.Errorf("count_only: %w", err)
			}
			r.logf("[memory] %-5s count_only:   %s (count %d)", kind, line(sys.CountOnly), sys.Count)
			r.checkRun("count_only", kind, 1, sys.CountOnly)
			return nil
		}, func(dir string) {
			d, err := procs.DiskUsage(dir)
			if err != nil {
				r.problem("memory %s: disk after stop: %v", kind, err)
				return
			}
			sys.DiskStopped = d
			r.logf("[memory] %-5s disk %.0f MB (stopped)", kind, float64(d.Allocated)/1e6)
		})
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			r.problem("memory test %s: %v", kind, err)
			continue
		}
		if kind == procs.Etcd {
			m.Etcd = sys
		} else {
			m.Cairn = sys
		}
	}
	return nil
}

// machine describes this machine, and the filesystem of dir.
func machine(dir string) report.Machine {
	m := report.Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Filesystem: fsyncprobe.FilesystemType(dir)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.Join(strings.Fields(v), " ")
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) == 3 && f[0] == "MemTotal:" {
				var kb int64
				if _, err := fmt.Sscan(f[1], &kb); err == nil {
					m.MemTotal = kb << 10
				}
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			m.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// moduleVersion is the version of module path linked into this program.
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return d.Version
			}
		}
	}
	return "(unknown version)"
}

// gitDescribe names the tree's commit without changing anything in the
// repository (no index refresh): `git describe --always --tags`, plus
// "-dirty" when tracked files differ from HEAD.
func gitDescribe(ctx context.Context, dir string) string {
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"--no-optional-locks", "-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0")
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	d, err := run("describe", "--always", "--tags")
	if err != nil {
		return "unknown (not a git tree?)"
	}
	if st, err := run("status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
		d += "-dirty"
	}
	return d
}

// cairnVersion is the first line of `cairn --version`.
func cairnVersion(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--version")
	cmd.Env = procs.CleanEnv()
	out, err := cmd.Output()
	if err != nil {
		return "version unknown"
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return first
}

func goBuild(ctx context.Context, dir, out, pkg string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building cairn needs the go command: %w (or use --cairn-bin)", err)
	}
	cmd := exec.CommandContext(ctx, gobin, "build", "-o", out, pkg)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build -o %s %s (in %s): %w\n%s", out, pkg, dir, err, buf.String())
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FindRepoRoot walks up from dir to the Cairn tree's root: the directory
// whose go.mod declares module github.com/cairnkv/cairn.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for d := dir; ; {
		b, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil && isCairnMod(b) {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no Cairn tree (go.mod of module github.com/cairnkv/cairn) at or above %s", dir)
		}
		d = parent
	}
}

func isCairnMod(b []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`) == "github.com/cairnkv/cairn"
		}
	}
	return false
}

// fmtInt writes n with thousands separators.
func fmtInt(n int) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && c != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Write writes the report's results.md, results.svg and results.json into dir.
func Write(rep *report.Report, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{
		{"results.md", func(w io.Writer) error { return rep.WriteMarkdown(w, "results.svg") }},
		{"results.svg", rep.WriteSVG},
		{"results.json", rep.WriteJSON},
	} {
		var buf bytes.Buffer
		if err := f.write(&buf); err != nil {
			return written, fmt.Errorf("%s: %w", f.name, err)
		}
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			return written, err
		}
		written = append(written, p)
	}
	return written, nil
}
