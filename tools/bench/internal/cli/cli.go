// Package cli is the bench command line: etcd benchmark's workloads (put,
// range, txn-put, txn-mixed, lease-keepalive) against any endpoint, the fsync probe, and
// compare, which runs etcd and Cairn side by side.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/cairnkv/cairn/tools/bench/internal/compare"
	"github.com/cairnkv/cairn/tools/bench/internal/etcdchild"
	"github.com/cairnkv/cairn/tools/bench/internal/fsyncprobe"
	"github.com/cairnkv/cairn/tools/bench/internal/load"
	"github.com/cairnkv/cairn/tools/bench/internal/report"
)

// Main runs the command line args (without the program name) and returns
// the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr, args)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "bench",
		Short: "A load generator for etcd-compatible servers, and a side-by-side comparison of Cairn with etcd",
		Long: `bench drives any etcd-compatible endpoint through go.etcd.io/etcd/client/v3
with etcd benchmark's workloads (put, range, txn-put, txn-mixed,
lease-keepalive) and reports
throughput, exact p50/p90/p99/p99.9 latencies and errors. Every run is bounded
by a request count (--total) and a time limit (--time-limit).

compare builds Cairn from this tree, runs etcd and Cairn in turn on fresh data
dirs with the same workloads, and prints a table of medians with the
Cairn/etcd ratios; fsync measures the disk's synced-write rate.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		if cmd.Name() != "etcd" && os.Getenv("GOGC") == "" {
			debug.SetGCPercent(LoadGenGCPercent)
		}
	}
	root.AddCommand(putCmd(stdout), rangeCmd(stdout), txnPutCmd(stdout), txnMixedCmd(stdout),
		leaseKeepAliveCmd(stdout), watchCmd(stdout, "watch"), watchCmd(stdout, "watch-latency"), fsyncCmd(stdout), compareCmd(stdout, stderr, args), renderCmd(stdout), etcdCmd())
	return root
}

// LoadGenGCPercent is the load generator's GOGC unless the environment
// sets GOGC. At Go's default of 100 its live heap of a few MB was collected
// every ~25 ms in watch-latency, each mark phase taking one of the two cores
// for ~2 ms: those pauses, not the servers, made the p99 of both servers.
// The servers under test are child processes with their own settings (etcd
// keeps its defaults; the embedded etcd's `etcd` command is left alone).
const LoadGenGCPercent = 400

// progressWriter is w when w is a terminal (the progress bar), else nil.
func progressWriter(w io.Writer) io.Writer {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return f
	}
	return nil
}

// loadFlags are the flags every workload command shares (etcd benchmark's
// root flags, plus the bounds).
type loadFlags struct {
	endpoints   []string
	clients     uint
	conns       uint
	dialTimeout time.Duration
	total       int
	warmup      int
	timeLimit   time.Duration
	output      string
}

func (f *loadFlags) add(c *cobra.Command) {
	fs := c.Flags()
	fs.StringSliceVar(&f.endpoints, "endpoints", []string{"127.0.0.1:2379"}, "gRPC endpoints")
	fs.UintVar(&f.clients, "clients", 1, "Total number of concurrent clients")
	fs.UintVar(&f.conns, "conns", 1, "Total number of gRPC connections (clients share them round-robin)")
	fs.DurationVar(&f.dialTimeout, "dial-timeout", 5*time.Second, "Dial timeout for client connections")
	fs.IntVar(&f.total, "total", 10000, "Total number of requests")
	fs.IntVar(&f.warmup, "warmup", 0, "Requests to issue, unmeasured, before the measured ones")
	fs.DurationVar(&f.timeLimit, "time-limit", 5*time.Minute, "Stop issuing requests after this long, whatever --total says")
	fs.StringVar(&f.output, "output", "text", "Output format: text or json")
}

func (f *loadFlags) config(stdout io.Writer) load.Config {
	return load.Config{
		Endpoints:   f.endpoints,
		Clients:     int(f.clients),
		Conns:       int(f.conns),
		DialTimeout: f.dialTimeout,
		Total:       f.total,
		Warmup:      f.warmup,
		TimeLimit:   f.timeLimit,
		Progress:    progressWriter(stdout),
	}
}

func (f *loadFlags) run(cmd *cobra.Command, stdout io.Writer, w load.Workload, banner string) error {
	if f.output != "text" && f.output != "json" {
		return fmt.Errorf("--output must be text or json, got %q", f.output)
	}
	if banner != "" && f.output == "text" {
		fmt.Fprintln(stdout, banner)
	}
	res, err := load.Run(cmd.Context(), f.config(stdout), w)
	if err != nil {
		return err
	}
	if f.output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	PrintResult(stdout, res)
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d requests failed", res.Errors, res.Issued)
	}
	return nil
}

// PrintResult writes a run's summary in the manner of etcd's benchmark.
func PrintResult(w io.Writer, r *load.Result) {
	sec := func(d time.Duration) string { return fmt.Sprintf("%.4f secs", d.Seconds()) }
	fmt.Fprintf(w, "\nSummary (%s, %d clients, %d conns):\n", r.Workload, r.Clients, r.Conns)
	fmt.Fprintf(w, "  Total:\t%s.\n", sec(r.Elapsed))
	fmt.Fprintf(w, "  Requests:\t%d of %d issued, %d succeeded, %d failed", r.Issued, r.Total, r.Succeeded, r.Errors)
	if r.StoppedByTimeLimit {
		fmt.Fprint(w, " (stopped by --time-limit)")
	}
	fmt.Fprintln(w, ".")
	fmt.Fprintf(w, "  Slowest:\t%s.\n", sec(r.Latency.Max))
	fmt.Fprintf(w, "  Fastest:\t%s.\n", sec(r.Latency.Min))
	fmt.Fprintf(w, "  Average:\t%s.\n", sec(r.Latency.Mean))
	fmt.Fprintf(w, "  Stddev:\t%s.\n", sec(r.Latency.Stddev))
	fmt.Fprintf(w, "  Requests/sec:\t%.4f\n", r.Throughput)
	fmt.Fprintln(w, "\nLatency distribution:")
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"50%", r.Latency.P50}, {"90%", r.Latency.P90}, {"99%", r.Latency.P99}, {"99.9%", r.Latency.P999}} {
		fmt.Fprintf(w, "  %s in %s.\n", p.name, sec(p.d))
	}
	for _, c := range r.Classes {
		fmt.Fprintf(w, "\n%s: %d succeeded, %d failed, %.4f requests/sec; p50 %s, p90 %s, p99 %s, p99.9 %s.\n",
			c.Name, c.Succeeded, c.Errors, c.Throughput, sec(c.Latency.P50), sec(c.Latency.P90), sec(c.Latency.P99), sec(c.Latency.P999))
	}
	for _, e := range r.ErrorSamples {
		fmt.Fprintf(w, "\nerror: %s\n", e)
	}
}

func putCmd(stdout io.Writer) *cobra.Command {
	var lf loadFlags
	p := &load.Put{}
	c := &cobra.Command{
		Use:   "put",
		Short: "Benchmark put",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := p.Validate(); err != nil {
				return err
			}
			return lf.run(cmd, stdout, p, "")
		},
	}
	lf.add(c)
	c.Flags().IntVar(&p.KeySize, "key-size", 8, "Key size of put request")
	c.Flags().IntVar(&p.ValSize, "val-size", 8, "Value size of put request")
	c.Flags().IntVar(&p.KeySpace, "key-space-size", 1, "Maximum possible keys")
	c.Flags().BoolVar(&p.Sequential, "sequential-keys", false, "Use sequential keys")
	c.Flags().StringVar(&p.Prefix, "key-prefix", "", "Prefix of every key (counts towards --key-size)")
	return c
}

func consistency(s string) (serializable bool, err error) {
	switch s {
	case "l":
		return false, nil
	case "s":
		return true, nil
	}
	return false, fmt.Errorf("--consistency must be l (linearizable) or s (serializable), got %q", s)
}

func rangeCmd(stdout io.Writer) *cobra.Command {
	var lf loadFlags
	var cons string
	r := &load.Range{}
	c := &cobra.Command{
		Use:   "range key [end-range]",
		Short: "Benchmark range",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if r.Serializable, err = consistency(cons); err != nil {
				return err
			}
			r.Key = args[0]
			if len(args) == 2 {
				r.End = args[1]
			}
			kind := "linearizable"
			if r.Serializable {
				kind = "serializable"
			}
			return lf.run(cmd, stdout, r, "bench with "+kind+" range")
		},
	}
	lf.add(c)
	c.Flags().StringVar(&cons, "consistency", "l", "Linearizable(l) or Serializable(s)")
	c.Flags().BoolVar(&r.Prefix, "prefix", false, "Range over every key with the prefix key")
	c.Flags().Int64Var(&r.Limit, "limit", 0, "Maximum number of keys per response (0 is no limit)")
	c.Flags().BoolVar(&r.CountOnly, "count-only", false, "Return only the count of keys")
	c.Flags().BoolVar(&r.KeysOnly, "keys-only", false, "Return only keys, without values")
	return c
}

func txnPutCmd(stdout io.Writer) *cobra.Command {
	var lf loadFlags
	t := &load.TxnPut{}
	c := &cobra.Command{
		Use:   "txn-put",
		Short: "Benchmark txn-put",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := t.Validate(); err != nil {
				return err
			}
			return lf.run(cmd, stdout, t, "")
		},
	}
	lf.add(c)
	c.Flags().IntVar(&t.KeySize, "key-size", 8, "Key size of txn put")
	c.Flags().IntVar(&t.ValSize, "val-size", 8, "Value size of txn put")
	c.Flags().IntVar(&t.OpsPerTxn, "txn-ops", 1, "Number of puts per txn")
	c.Flags().IntVar(&t.KeySpace, "key-space-size", 1, "Maximum possible keys")
	c.Flags().StringVar(&t.Prefix, "key-prefix", "", "Prefix of every key (counts towards --key-size)")
	return c
}

func txnMixedCmd(stdout io.Writer) *cobra.Command {
	var lf loadFlags
	var cons string
	var rwRatio, readRatio float64
	t := &load.TxnMixed{}
	c := &cobra.Command{
		Use:   "txn-mixed",
		Short: "Benchmark a mixed load of txn-put & txn-range",
		Long: `txn-mixed issues transactions that each hold one read or one write.
Writes put a random key of the key space. Reads get a random key of the key
space, or with --range-all every key from --key-prefix on, up to --limit
(etcd benchmark's read). The mix is --rw-ratio reads per write (etcd's flag)
or, when given, --read-ratio, the fraction of requests that read.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if t.Serializable, err = consistency(cons); err != nil {
				return err
			}
			switch {
			case cmd.Flags().Changed("read-ratio"):
				t.ReadRatio = readRatio
			case rwRatio < 0:
				return fmt.Errorf("--rw-ratio must not be negative, got %v", rwRatio)
			default:
				t.ReadRatio = rwRatio / (1 + rwRatio)
			}
			if err := t.Validate(); err != nil {
				return err
			}
			kind := "linearizable"
			if t.Serializable {
				kind = "serializable"
			}
			return lf.run(cmd, stdout, t, fmt.Sprintf("bench with %s reads, %.0f%% of requests", kind, t.ReadRatio*100))
		},
	}
	lf.add(c)
	c.Flags().IntVar(&t.KeySize, "key-size", 8, "Key size of mixed txn")
	c.Flags().IntVar(&t.ValSize, "val-size", 8, "Value size of mixed txn")
	c.Flags().IntVar(&t.KeySpace, "key-space-size", 1, "Maximum possible keys")
	c.Flags().StringVar(&cons, "consistency", "l", "Linearizable(l) or Serializable(s)")
	c.Flags().Float64Var(&rwRatio, "rw-ratio", 1, "Read/write ops ratio")
	c.Flags().Float64Var(&readRatio, "read-ratio", 0.5, "Fraction of requests that read (overrides --rw-ratio), e.g. 0.9")
	c.Flags().BoolVar(&t.RangeAll, "range-all", false, "Reads range over every key (from --key-prefix on) up to --limit, as etcd's benchmark does, instead of one key")
	c.Flags().Int64Var(&t.Limit, "limit", 1000, "Read operation range result limit (with --range-all)")
	c.Flags().BoolVar(&t.Seed, "seed", true, "Put every key of the key space before the run, so that reads find them")
	c.Flags().StringVar(&t.Prefix, "key-prefix", "", "Prefix of every key (counts towards --key-size)")
	return c
}

func leaseKeepAliveCmd(stdout io.Writer) *cobra.Command {
	var lf loadFlags
	l := &load.LeaseKeepAlive{}
	c := &cobra.Command{
		Use:   "lease-keepalive",
		Short: "Benchmark lease keep-alives",
		Long: `lease-keepalive grants one lease per client, then renews them: each
request is one keep-alive of the client's lease. By default a request is
clientv3's KeepAliveOnce (a stream opened, one renewal, the stream closed), as
etcd's benchmark does; with --stream each client keeps one keep-alive stream
open and renews over it, as clientv3's KeepAlive does.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := l.Validate(); err != nil {
				return err
			}
			l.Leases = int(lf.clients)
			return lf.run(cmd, stdout, l, "")
		},
	}
	lf.add(c)
	c.Flags().Int64Var(&l.TTL, "ttl", 100, "TTL of the leases, in seconds")
	c.Flags().BoolVar(&l.Stream, "stream", false, "Renew over one long-lived keep-alive stream per client instead of KeepAliveOnce")
	return c
}

func watchCmd(stdout io.Writer, kind string) *cobra.Command {
	var lf loadFlags
	w := &load.Watch{Kind: kind}
	short, perStream := "Benchmark watch event delivery", 100
	if kind == "watch-latency" {
		short, perStream = "Benchmark watch put-to-event latency", 10
	}
	c := &cobra.Command{
		Use:   kind,
		Short: short,
		Long: kind + ` opens --streams watch streams of --watch-per-stream watchers of one
prefix, then puts fresh keys under it: each request is one put, complete when
every watcher has received its event (duplicates and strays fail it). Events
delivered per second = requests/sec × watchers; a request's latency is from
the put to its event at the last watcher. "watch" is meant for many watchers
and concurrent clients (throughput), "watch-latency" for one client.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := w.Validate(); err != nil {
				return err
			}
			return lf.run(cmd, stdout, w, "")
		},
	}
	lf.add(c)
	c.Flags().IntVar(&w.Streams, "streams", 10, "Watch streams (spread over the connections)")
	c.Flags().IntVar(&w.WatchersPerStream, "watch-per-stream", perStream, "Watchers per stream")
	c.Flags().IntVar(&w.ValSize, "val-size", 32, "Value size of each put")
	c.Flags().IntVar(&w.Stalled, "stalled-streams", 0, "More streams of --watch-per-stream watchers whose client never reads (slow consumers)")
	return c
}

func fsyncCmd(stdout io.Writer) *cobra.Command {
	cfg := fsyncprobe.DefaultConfig(".")
	c := &cobra.Command{
		Use:   "fsync",
		Short: "Measure the disk's synced-write rate (the limit of a one-client put)",
		Long: `fsync appends --block-size bytes at a time to a preallocated file in --dir,
each write followed by fdatasync, as a write-ahead log does, and reports how
many such synced writes the disk takes per second. A put with one client is
acknowledged only after its log entry is synced, so it cannot be faster.
Run it in the filesystem of the server's data dir.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := fsyncprobe.Run(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			fmt.Fprintln(stdout, res)
			return nil
		},
	}
	c.Flags().StringVar(&cfg.Dir, "dir", cfg.Dir, "Directory to probe (its filesystem)")
	c.Flags().IntVar(&cfg.Count, "count", cfg.Count, "Synced writes to measure")
	c.Flags().DurationVar(&cfg.TimeLimit, "time-limit", cfg.TimeLimit, "Stop after this long, whatever --count says")
	c.Flags().IntVar(&cfg.BlockSize, "block-size", cfg.BlockSize, "Bytes per write")
	c.Flags().BoolVar(&cfg.Prealloc, "prealloc", cfg.Prealloc, "Preallocate the file, as write-ahead logs do")
	return c
}

func compareCmd(stdout, stderr io.Writer, args []string) *cobra.Command {
	cfg := compare.Defaults()
	var repo, out, jsonPath string
	c := &cobra.Command{
		Use:   "compare",
		Short: "Run etcd and Cairn side by side and compare them",
		Long: `compare builds cairn from this tree (or takes --cairn-bin), then runs each
workload against etcd ` + etcdchild.Version + ` (embedded in this program, run as a child
process) and Cairn in turn — etcd, Cairn, etcd, Cairn, ... — each server on a
fresh data dir, --reps times, and prints a table of medians with the
Cairn/etcd ratios. Then it loads --keys keys into each and reports resident
memory, on-disk size, and a prefix range and a count_only over them.

Workloads: ` + strings.Join(compare.Names(), ", ") + `.

The full run takes about 17 minutes on 2 cores; --scale shrinks or grows
every request count, --requests sets them all, --keys the memory test's size.
With --out DIR it writes DIR/results.md, DIR/results.svg and DIR/results.json
(a relative DIR is taken from the repository root); otherwise it only prints.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var err error
			if repo == "" {
				wd, _ := os.Getwd()
				repo, err = compare.FindRepoRoot(wd)
				if err != nil && cfg.CairnBin == "" {
					return fmt.Errorf("%w (use --repo or --cairn-bin)", err)
				}
			}
			cfg.RepoRoot = repo
			if out != "" && !filepath.IsAbs(out) {
				if repo == "" {
					return errors.New("--out is relative to the repository root, which was not found (use --repo or an absolute --out)")
				}
				out = filepath.Join(repo, out)
			}
			cfg.Command = "bench " + shellJoin(args)
			cfg.Out = stdout
			cfg.Progress = progressWriter(stdout)
			rep, runErr := compare.Run(cmd.Context(), cfg)
			if rep == nil {
				return runErr
			}
			fmt.Fprintln(stdout)
			if err := rep.WriteMarkdown(stdout, ""); err != nil {
				return err
			}
			if out != "" {
				files, err := compare.Write(rep, out)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "\nwrote %s\n", strings.Join(files, ", "))
			}
			if jsonPath != "" {
				f, err := os.Create(jsonPath)
				if err != nil {
					return err
				}
				if err := rep.WriteJSON(f); err != nil {
					f.Close()
					return err
				}
				if err := f.Close(); err != nil {
					return err
				}
			}
			return runErr
		},
	}
	fs := c.Flags()
	fs.StringVar(&repo, "repo", "", "The Cairn tree (default: found above the working directory)")
	fs.StringVar(&cfg.CairnBin, "cairn-bin", "", "Use this cairn binary instead of building ./app/cairn")
	fs.StringVar(&cfg.CairnLabel, "cairn-label", "", "How the report names the cairn version (default: the tree's git describe)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "Where the run's data dirs go (default: the system temp dir); the fsync probe runs there too")
	fs.StringVar(&out, "out", "", "Write results.md, results.svg and results.json into this directory (relative to the repository root), e.g. docs/bench")
	fs.StringVar(&jsonPath, "json", "", "Write the full report as JSON to this file")
	fs.IntVar(&cfg.Reps, "reps", cfg.Reps, "Repetitions of each workload per system")
	fs.Float64Var(&cfg.Scale, "scale", cfg.Scale, "Multiply every request count by this")
	fs.IntVar(&cfg.Requests, "requests", 0, "Requests per workload run, overriding the defaults and --scale (0: defaults)")
	fs.StringSliceVar(&cfg.Workloads, "workloads", nil, "Run only these workloads (default: all)")
	fs.BoolVar(&cfg.Memory, "memory", cfg.Memory, "Run the memory test")
	fs.IntVar(&cfg.Keys, "keys", cfg.Keys, "Keys the memory test loads")
	fs.IntVar(&cfg.LoadClients, "load-clients", cfg.LoadClients, "Clients that load the memory test's keys")
	fs.IntVar(&cfg.LoadConns, "load-conns", cfg.LoadConns, "Connections they share")
	fs.DurationVar(&cfg.Settle, "settle", cfg.Settle, "Idle time between the memory test's load and its measurements")
	fs.DurationVar(&cfg.TimeLimit, "time-limit", cfg.TimeLimit, "Time limit of each measured run")
	fs.DurationVar(&cfg.LoadTimeLimit, "load-time-limit", cfg.LoadTimeLimit, "Time limit of the memory test's load")
	fs.IntVar(&cfg.FsyncCount, "fsync-count", cfg.FsyncCount, "Synced writes per fsync probe")
	fs.StringVar(&cfg.LogDir, "log-dir", "", "Keep every server's output in this directory")
	fs.BoolVar(&cfg.KeepData, "keep-data", false, "Keep the data dirs")
	return c
}

// renderCmd rewrites the markdown and the chart from a report's JSON.
func renderCmd(stdout io.Writer) *cobra.Command {
	var out string
	c := &cobra.Command{
		Use:   "render results.json",
		Short: "Write results.md, results.svg and results.json again from a compare report's JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			b, err := os.ReadFile(args[0])
			if err != nil {
				return err
			}
			var rep report.Report
			if err := json.Unmarshal(b, &rep); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if out == "" {
				return rep.WriteMarkdown(stdout, "")
			}
			files, err := compare.Write(&rep, out)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "wrote %s\n", strings.Join(files, ", "))
			return nil
		},
	}
	c.Flags().StringVar(&out, "out", "", "Directory to write into (default: print the markdown)")
	return c
}

// etcdCmd runs the embedded etcd in the foreground (what compare starts as
// its child), for manual runs: bench etcd --data-dir x, then bench put.
func etcdCmd() *cobra.Command {
	return &cobra.Command{
		Use:                "etcd [etcd flags]",
		Short:              "Run the embedded etcd " + etcdchild.Version + " with etcd's flags and defaults",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(_ *cobra.Command, args []string) error {
			if code := etcdchild.Main(args); code != 0 {
				return fmt.Errorf("etcd exited with code %d", code)
			}
			return nil
		},
	}
}

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,@%+", r))
		}) < 0 {
			out[i] = a
			continue
		}
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
