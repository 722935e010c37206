package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// readyLine is what etcd (and so cairn) logs once the client port serves.
const readyLine = "ready to serve client requests"

const (
	readyTimeout = 20 * time.Second
	stopTimeout  = 15 * time.Second
)

type kind string

const (
	kindEtcd  kind = "etcd"
	kindCairn kind = "cairn"
)

// server is one etcd or cairn process, started with etcd's flags on free
// 127.0.0.1 ports. Restarts reuse its data dir and ports.
type server struct {
	t         testing.TB
	kind      kind
	label     string // how reports name it; the kind by default
	name      string
	dataDir   string
	clientURL string
	peerURL   string
	extra     []string
	env       []string // added to the environment
	bin       string   // the cairn binary, or this test binary for etcd

	log *logBuffer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited
	werr error         // its exit status, once done is closed
	cli  *clientv3.Client
}

func (s *server) String() string {
	if s.label != "" {
		return s.label
	}
	return string(s.kind)
}

func newServer(t testing.TB, k kind, extra ...string) *server {
	t.Helper()
	s := &server{
		t:       t,
		kind:    k,
		name:    "m1",
		dataDir: filepath.Join(t.TempDir(), "data"),
		extra:   extra,
		log:     &logBuffer{},
	}
	s.newPorts()
	switch k {
	case kindCairn:
		s.bin = cairnBinary(t)
	case kindEtcd:
		self, err := os.Executable()
		if err != nil {
			t.Fatalf("test binary: %v", err)
		}
		s.bin = self
	}
	t.Cleanup(func() {
		s.shutdown()
		s.dumpLog()
	})
	return s
}

// Ports are taken below the kernel's ephemeral range (where outgoing
// connections would steal them between the check and the server's bind), never
// twice in a run, and checked free by listening on them.
var ports struct {
	sync.Mutex
	used map[int]bool
	rnd  *rand.Rand
}

func freePort(t testing.TB) int {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	if ports.used == nil {
		ports.used = map[int]bool{}
		ports.rnd = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	}
	lo, hi := 10000, ephemeralLow()
	for range 200 {
		p := 0
		if hi-lo >= 1000 {
			p = lo + ports.rnd.IntN(hi-lo)
		}
		if ports.used[p] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		p = l.Addr().(*net.TCPAddr).Port
		l.Close()
		if ports.used[p] {
			continue
		}
		ports.used[p] = true
		return p
	}
	t.Fatalf("no free port")
	return 0
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

func (s *server) newPorts() {
	s.clientURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(s.t))
	s.peerURL = fmt.Sprintf("http://127.0.0.1:%d", freePort(s.t))
}

// firstStart starts a new server; should a port have been taken meanwhile, it
// tries again (bounded) on other ports.
func (s *server) firstStart() error {
	var err error
	for range 3 {
		if err = s.tryStart(); err == nil || !strings.Contains(s.log.tail(30), "address already in use") {
			return err
		}
		s.log.mark("=== e2e: port taken, retrying on other ports")
		_ = os.RemoveAll(s.dataDir)
		s.newPorts()
	}
	return err
}

func (s *server) hostPort() string { return strings.TrimPrefix(s.clientURL, "http://") }

func (s *server) args() []string {
	a := []string{
		"--name", s.name,
		"--data-dir", s.dataDir,
		"--listen-client-urls", s.clientURL,
		"--advertise-client-urls", s.clientURL,
		"--listen-peer-urls", s.peerURL,
		"--initial-advertise-peer-urls", s.peerURL,
		"--initial-cluster", s.name + "=" + s.peerURL,
	}
	return append(a, s.extra...)
}

// cleanEnv is the environment without ETCD_* / ETCDCTL_* variables, which
// both servers and etcdctl would read as flags.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ETCD_") || strings.HasPrefix(kv, "ETCDCTL_") || strings.HasPrefix(kv, envEtcdChild+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// start launches the process, waits (bounded) for its ready line and connects
// a clientv3 client. It fails the test on any error.
func (s *server) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatalf("start %s: %v\nlast log lines:\n%s", s, err, s.log.tail(40))
	}
}

func (s *server) tryStart() error {
	cmd := exec.Command(s.bin, s.args()...)
	cmd.Env = append(cleanEnv(), s.env...)
	if s.kind == kindEtcd {
		cmd.Env = append(cmd.Env, envEtcdChild+"=1")
	}
	// The server dies with the test binary, whatever happens to it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	s.log.mark(fmt.Sprintf("=== e2e: starting %s %s", s.kind, strings.Join(s.args(), " ")))
	if err := cmd.Start(); err != nil {
		return err
	}
	ready := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Add(2)
	go func() { defer readers.Done(); s.log.consume(stdout, "", nil) }()
	go func() {
		defer readers.Done()
		s.log.consume(stderr, readyLine, func() { once.Do(func() { close(ready) }) })
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() {
		readers.Wait()
		err := cmd.Wait()
		s.mu.Lock()
		s.werr = err
		s.mu.Unlock()
		s.log.mark(fmt.Sprintf("=== e2e: %s exited: %v", s.kind, err))
		close(done)
	}()

	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-done:
		return fmt.Errorf("exited before %q: %v", readyLine, s.exitErr())
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("no %q within %v", readyLine, readyTimeout)
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   []string{s.clientURL},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return fmt.Errorf("clientv3: %w", err)
	}
	s.mu.Lock()
	s.cli = cli
	s.mu.Unlock()
	return nil
}

// pid is the process ID of the running process.
func (s *server) pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		s.t.Fatalf("%s: not started", s)
	}
	return s.cmd.Process.Pid
}

func (s *server) exitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.werr
}

// client is the clientv3 client of the running process.
func (s *server) client() *clientv3.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cli == nil {
		s.t.Fatalf("%s: not running", s)
	}
	return s.cli
}

// kv is the raw gRPC KV client, for requests clientv3 cannot express.
func (s *server) kv() pb.KVClient { return pb.NewKVClient(s.client().ActiveConnection()) }

func (s *server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done == nil {
		return false
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (s *server) closeClient() {
	s.mu.Lock()
	cli := s.cli
	s.cli = nil
	s.mu.Unlock()
	if cli != nil {
		_ = cli.Close()
	}
}

// stop sends SIGTERM and waits (bounded) for the process to exit. etcd's own
// binary re-raises the signal after its shutdown, so both a zero exit and
// death by SIGTERM are clean.
func (s *server) stop() {
	s.t.Helper()
	s.closeClient()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
		s.t.Errorf("%s did not exit within %v of SIGTERM", s, stopTimeout)
		return
	}
	if err := s.exitErr(); err != nil {
		var ee *exec.ExitError
		bySigterm := errors.As(err, &ee) && !ee.Exited() && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGTERM
		if !bySigterm {
			s.t.Errorf("%s: unclean exit after SIGTERM: %v", s, err)
		}
	}
}

// kill9 kills the process with SIGKILL and waits for it.
func (s *server) kill9() {
	s.t.Helper()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	_ = cmd.Process.Kill()
	select {
	case <-done:
	case <-time.After(stopTimeout):
		s.t.Fatalf("%s: not dead %v after SIGKILL", s, stopTimeout)
	}
	s.closeClient()
}

func (s *server) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

// shutdown is the cleanup: stop whatever still runs, quietly.
func (s *server) shutdown() {
	s.closeClient()
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(stopTimeout):
		_ = cmd.Process.Kill()
		<-done
	}
}

// dumpLog writes the server's log tail into the test log when the test failed,
// and its whole log into $CAIRN_E2E_LOG_DIR when set.
func (s *server) dumpLog() {
	if dir := os.Getenv(envLogDir); dir != "" {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(s.t.Name()) + "." + s.String() + ".log"
		_ = os.MkdirAll(dir, 0o755)
		_ = os.WriteFile(filepath.Join(dir, name), s.log.bytes(), 0o644)
	}
	// etcd is the reference: its log only matters when it failed to start,
	// and start errors carry their own log tail.
	if !s.t.Failed() || s.kind == kindEtcd {
		return
	}
	s.t.Logf("last 80 log lines of %s:\n%s", s, s.log.tail(80))
}

// logBuffer keeps a process's output (bounded) for failure reports.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const maxLog = 8 << 20

func (l *logBuffer) write(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(line) > maxLog {
		b := l.buf.Bytes()
		keep := append([]byte(nil), b[len(b)/2:]...)
		l.buf.Reset()
		l.buf.WriteString("... (earlier output dropped)\n")
		l.buf.Write(keep)
	}
	l.buf.WriteString(line)
}

func (l *logBuffer) mark(s string) { l.write(s + "\n") }

// consume copies r line by line; onMatch runs for each line containing match.
func (l *logBuffer) consume(r io.Reader, match string, onMatch func()) {
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			l.write(line)
			if match != "" && strings.Contains(line, match) {
				onMatch()
			}
		}
		if err != nil {
			return
		}
	}
}

func (l *logBuffer) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]byte(nil), l.buf.Bytes()...)
}

func (l *logBuffer) tail(n int) string {
	lines := strings.Split(strings.TrimRight(string(l.bytes()), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// etcdctl runs the pinned etcdctl against this server.
func (s *server) etcdctl(stdin string, args ...string) (stdout, stderr string, code int) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append([]string{"--endpoints=" + s.clientURL, "--dial-timeout=5s", "--command-timeout=10s"}, args...)
	cmd := exec.CommandContext(ctx, etcdctlBinary(s.t), full...)
	cmd.Env = cleanEnv()
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		s.t.Fatalf("%s: etcdctl %v: %v", s, args, err)
	}
	if ctx.Err() != nil {
		s.t.Fatalf("%s: etcdctl %v timed out", s, args)
	}
	return o.String(), e.String(), code
}

// metricValue reads an unlabelled metric from the server's /metrics.
func metricValue(t *testing.T, s *server, name string) float64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
	defer cancel()
	_, _, body, err := httpDo(ctx, "GET", s.clientURL+"/metrics", "", nil)
	if err != nil {
		t.Fatalf("[%s] /metrics: %v", s, err)
	}
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("[%s] no %s in /metrics", s, name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatalf("[%s] %s: %v", s, name, err)
	}
	return v
}
