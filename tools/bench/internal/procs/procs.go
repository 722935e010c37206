// Package procs runs the servers under test as child processes — etcd (this
// binary re-executed as an embedded etcd) and cairn — with etcd's flags on
// free 127.0.0.1 ports, and measures them from the outside: resident memory
// from /proc/<pid>/status and the on-disk size of their data dirs.
package procs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ReadyLine is what etcd (and so cairn) logs once its client port serves.
const ReadyLine = "ready to serve client requests"

// EtcdChildEnv, set to 1, turns this program into an embedded etcd server
// that takes etcd's flags (see package etcdchild).
const EtcdChildEnv = "CAIRN_BENCH_ETCD_CHILD"

// Kind names a server implementation.
type Kind string

const (
	Etcd  Kind = "etcd"
	Cairn Kind = "cairn"
)

// Spec says how to start a server.
type Spec struct {
	Kind    Kind
	Bin     string // the cairn binary; for etcd, this program (re-executed with EtcdChildEnv=1)
	DataDir string // must not exist yet, or be empty
	Name    string // member name; "m1" when empty
	// ReadyTimeout bounds the wait for ReadyLine (20 s when zero).
	ReadyTimeout time.Duration
	// Log, when not nil, receives the server's whole output.
	Log io.Writer
}

// Server is a running server process.
type Server struct {
	spec      Spec
	clientURL string
	peerURL   string
	cmd       *exec.Cmd
	done      chan struct{}
	tail      *tailBuffer

	mu   sync.Mutex
	werr error
}

// Start launches the server and waits until it logs ReadyLine. Should a port
// have been taken meanwhile, it retries on other ports.
func Start(ctx context.Context, spec Spec) (*Server, error) {
	if spec.Name == "" {
		spec.Name = "m1"
	}
	if spec.ReadyTimeout <= 0 {
		spec.ReadyTimeout = 20 * time.Second
	}
	var err error
	for range 3 {
		s := &Server{spec: spec, tail: newTailBuffer(200)}
		if s.clientURL, err = freeURL(); err != nil {
			return nil, err
		}
		if s.peerURL, err = freeURL(); err != nil {
			return nil, err
		}
		if err = s.start(ctx); err == nil {
			return s, nil
		}
		if !strings.Contains(s.tail.String(), "address already in use") {
			return nil, fmt.Errorf("start %s: %w\nlast log lines:\n%s", spec.Kind, err, s.tail.String())
		}
		_ = os.RemoveAll(spec.DataDir)
	}
	return nil, fmt.Errorf("start %s: %w", spec.Kind, err)
}

// Args are the etcd flags both servers start with: a single member on
// 127.0.0.1, everything else at its default.
func (s *Server) Args() []string {
	return []string{
		"--name", s.spec.Name,
		"--data-dir", s.spec.DataDir,
		"--listen-client-urls", s.clientURL,
		"--advertise-client-urls", s.clientURL,
		"--listen-peer-urls", s.peerURL,
		"--initial-advertise-peer-urls", s.peerURL,
		"--initial-cluster", s.spec.Name + "=" + s.peerURL,
	}
}

// CleanEnv is this process's environment without ETCD_* and ETCDCTL_*
// variables (which both servers would read as flags) and without
// EtcdChildEnv.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ETCD_") || strings.HasPrefix(kv, "ETCDCTL_") || strings.HasPrefix(kv, EtcdChildEnv+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (s *Server) start(ctx context.Context) error {
	cmd := exec.Command(s.spec.Bin, s.Args()...)
	cmd.Env = CleanEnv()
	if s.spec.Kind == Etcd {
		cmd.Env = append(cmd.Env, EtcdChildEnv+"=1")
	}
	// The server dies with this program, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return err
	}
	pw.Close()
	s.cmd = cmd
	s.done = make(chan struct{})
	ready := make(chan struct{})
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		defer pr.Close()
		var once sync.Once
		br := bufio.NewReaderSize(pr, 64<<10)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				s.tail.add(line)
				if s.spec.Log != nil {
					_, _ = io.WriteString(s.spec.Log, line)
				}
				if strings.Contains(line, ReadyLine) {
					once.Do(func() { close(ready) })
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() {
		err := cmd.Wait()
		<-logDone
		s.mu.Lock()
		s.werr = err
		s.mu.Unlock()
		close(s.done)
	}()
	timer := time.NewTimer(s.spec.ReadyTimeout)
	defer timer.Stop()
	select {
	case <-ready:
		return nil
	case <-s.done:
		return fmt.Errorf("exited before %q: %v", ReadyLine, s.exitErr())
	case <-timer.C:
		s.kill()
		return fmt.Errorf("no %q within %v", ReadyLine, s.spec.ReadyTimeout)
	case <-ctx.Done():
		s.kill()
		return ctx.Err()
	}
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

func (s *Server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.werr
}

// Kind is the server's implementation.
func (s *Server) Kind() Kind { return s.spec.Kind }

// ClientURL is the URL clients reach the server at.
func (s *Server) ClientURL() string { return s.clientURL }

// DataDir is the server's data dir.
func (s *Server) DataDir() string { return s.spec.DataDir }

// Pid is the server's process id.
func (s *Server) Pid() int { return s.cmd.Process.Pid }

// Running says whether the process is still alive.
func (s *Server) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// LogTail is the last lines the server printed.
func (s *Server) LogTail() string { return s.tail.String() }

// Stop sends SIGTERM and waits (bounded) for the process to exit; it kills
// it when the time is up. A server that exits with an error, or dies of its
// SIGTERM (as etcd's own binary does after its shutdown), is reported only
// in the first case.
func (s *Server) Stop(timeout time.Duration) error {
	if !s.Running() {
		if err := s.exitErr(); err != nil {
			return fmt.Errorf("%s had exited: %v", s.spec.Kind, err)
		}
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(timeout):
		s.kill()
		return fmt.Errorf("%s did not exit within %v of SIGTERM; killed", s.spec.Kind, timeout)
	}
	err := s.exitErr()
	var ee *exec.ExitError
	if err != nil && errors.As(err, &ee) && !ee.Exited() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: unclean exit after SIGTERM: %v", s.spec.Kind, err)
	}
	return nil
}

// freeURL is http://127.0.0.1:<port> with a port below the kernel's
// ephemeral range (where outgoing connections would steal it between the
// check and the server's bind), checked free by listening on it.
func freeURL() (string, error) {
	lo, hi := 10000, ephemeralLow()
	for range 200 {
		p := 0
		if hi-lo >= 1000 {
			p = lo + rand.IntN(hi-lo)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		p = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if taken(p) {
			continue
		}
		return fmt.Sprintf("http://127.0.0.1:%d", p), nil
	}
	return "", errors.New("no free port on 127.0.0.1")
}

// Ports handed out in this process are never handed out twice.
var handed struct {
	sync.Mutex
	m map[int]bool
}

func taken(p int) bool {
	handed.Lock()
	defer handed.Unlock()
	if handed.m == nil {
		handed.m = map[int]bool{}
	}
	if handed.m[p] {
		return true
	}
	handed.m[p] = true
	return false
}

func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 0
	}
	return lo
}

// tailBuffer keeps the last n lines.
type tailBuffer struct {
	mu    sync.Mutex
	n     int
	lines []string
}

func newTailBuffer(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) add(line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == t.n {
		copy(t.lines, t.lines[1:])
		t.lines = t.lines[:t.n-1]
	}
	t.lines = append(t.lines, line)
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "")
}

// Memory is a process's memory as /proc/<pid>/status reports it, in bytes.
type Memory struct {
	VmRSS    int64 `json:"vm_rss"`    // resident now
	VmHWM    int64 `json:"vm_hwm"`    // peak resident
	RssAnon  int64 `json:"rss_anon"`  // resident anonymous memory (heaps)
	RssFile  int64 `json:"rss_file"`  // resident file mappings (binary, mmapped files)
	RssShmem int64 `json:"rss_shmem"` // resident shared memory
}

// ReadMemory reads pid's /proc status.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	return ParseStatus(f)
}

// ParseStatus reads the Vm*/Rss* lines of a /proc/<pid>/status file.
func ParseStatus(r io.Reader) (Memory, error) {
	var m Memory
	fields := map[string]*int64{
		"VmRSS:": &m.VmRSS, "VmHWM:": &m.VmHWM,
		"RssAnon:": &m.RssAnon, "RssFile:": &m.RssFile, "RssShmem:": &m.RssShmem,
	}
	seen := 0
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		dst, ok := fields[f[0]]
		if !ok {
			continue
		}
		var kb int64
		if _, err := fmt.Sscan(f[1], &kb); err != nil {
			return Memory{}, fmt.Errorf("%s %q: %w", f[0], f[1], err)
		}
		*dst = kb << 10
		seen++
	}
	if err := sc.Err(); err != nil {
		return Memory{}, err
	}
	if m.VmRSS == 0 || m.VmHWM == 0 {
		return Memory{}, errors.New("no VmRSS/VmHWM in status")
	}
	return m, nil
}

// Disk is the size of a directory tree.
type Disk struct {
	Allocated int64 `json:"allocated"` // blocks the files occupy (what du reports)
	Apparent  int64 `json:"apparent"`  // sum of file sizes (du --apparent-size)
	Files     int   `json:"files"`
}

// DiskUsage walks dir like du: every regular file's allocated blocks
// (st_blocks × 512) and size, hard links counted once. Files that vanish
// during the walk (a server compacting) are skipped.
func DiskUsage(dir string) (Disk, error) {
	var d Disk
	seen := map[[2]uint64]bool{}
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && path != dir {
				return nil
			}
			return err
		}
		info, err := e.Info()
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil
			}
			return err
		}
		st, ok := info.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		id := [2]uint64{uint64(st.Dev), st.Ino}
		if seen[id] {
			return nil
		}
		seen[id] = true
		// Directories take blocks too; du counts them.
		d.Allocated += st.Blocks * 512
		if info.Mode().IsRegular() {
			d.Apparent += info.Size()
			d.Files++
		}
		return nil
	})
	return d, err
}

// CPUTime is the CPU time (user + system, all threads) process pid has used,
// from /proc/<pid>/stat, in clock ticks of 1/100 s.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// clockTicks is USER_HZ, 100 on every Linux platform Go supports.
const clockTicks = 100

func parseStatCPU(stat string) (time.Duration, error) {
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted from the last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	var utime, stime int64
	if _, err := fmt.Sscan(f[11], &utime); err != nil {
		return 0, err
	}
	if _, err := fmt.Sscan(f[12], &stime); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * time.Second / clockTicks, nil
}

// SelfCPUTime is the CPU time (user + system) this process has used.
func SelfCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// MachineCPU is the CPU time all processes on the machine have used, and
// the time the hypervisor took from this machine (steal), from /proc/stat.
type MachineCPU struct {
	Busy  time.Duration // user + nice + system + irq + softirq, over all CPUs
	Steal time.Duration
}

// ReadMachineCPU reads /proc/stat.
func ReadMachineCPU() (MachineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return MachineCPU{}, err
	}
	return parseProcStat(string(b))
}

func parseProcStat(stat string) (MachineCPU, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return MachineCPU{}, errors.New("malformed /proc/stat")
	}
	var v [8]int64 // user nice system idle iowait irq softirq steal
	for i := range v {
		if _, err := fmt.Sscan(f[i+1], &v[i]); err != nil {
			return MachineCPU{}, err
		}
	}
	tick := time.Second / clockTicks
	return MachineCPU{
		Busy:  time.Duration(v[0]+v[1]+v[2]+v[5]+v[6]) * tick,
		Steal: time.Duration(v[7]) * tick,
	}, nil
}
