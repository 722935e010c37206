package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// syncBuffer is a bytes.Buffer safe for a writer and a poller.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ctlWatch runs `etcdctl watch …`, then write (if any), waits (bounded)
// until stdout contains want — or, with want empty, until etcdctl exits by
// itself — and interrupts it as a user would. Repeated progress lines
// (their number depends on timing) are collapsed.
func ctlWatch(write stepFunc, want string, args ...string) stepFunc {
	return func(ctx context.Context, s *server) (any, error) {
		cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		full := append([]string{"--endpoints=" + s.clientURL, "--dial-timeout=5s", "--command-timeout=10s", "watch"}, args...)
		cmd := exec.CommandContext(cctx, etcdctlBinary(s.t), full...)
		cmd.Env = cleanEnv()
		var o, e syncBuffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		if write != nil {
			if _, err := write(ctx, s); err != nil {
				_ = cmd.Process.Kill()
				<-done
				return nil, err
			}
		}
		var err error
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			select {
			case err = <-done:
				break wait
			case <-tick.C:
				if want != "" && strings.Contains(o.String(), want) {
					_ = cmd.Process.Signal(syscall.SIGINT)
					err = <-done
					break wait
				}
			case <-cctx.Done():
				return nil, errors.New("etcdctl watch: timed out; stdout so far:\n" + o.String())
			}
		}
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return ctlOut{code: code, stdout: collapseProgress(maskText(s, o.String())), stderr: maskText(s, e.String())}.String(), nil
	}
}

var progressLinesRE = regexp.MustCompile(`(?m)^(progress notify: \d+\n)+`)

func collapseProgress(out string) string {
	return progressLinesRE.ReplaceAllStringFunc(out, func(m string) string {
		return m[:strings.IndexByte(m, '\n')+1]
	})
}

// TestWatchEtcdctl compares `etcdctl watch` output: history with --rev,
// --prefix, ranges, --prev-kv, live events, a compacted revision, and
// --progress-notify.
func TestWatchEtcdctl(t *testing.T) {
	t.Parallel()
	f := newFixture(t, withFlags("--watch-progress-notify-interval=300ms"))
	watchHistory(f) // revisions 2..10

	f.ok("prefix from rev 2, then live", ctlWatch(put("a", "live"), "live", "a", "--prefix", "--rev=2"))
	f.ok("prefix with prev-kv", ctlWatch(put("ab", "live2"), "live2", "a", "--prefix", "--rev=2", "--prev-kv"))
	f.ok("single key", ctlWatch(nil, "\n2\n", "b", "--rev=2"))
	f.ok("range", ctlWatch(nil, "live2", "ab", "c", "--rev=2"))
	f.ok("all keys (empty prefix)", ctlWatch(put("zz", "end"), "end", "--prefix", "", "--rev=1"))
	f.ok("progress notify", ctlWatch(nil, "progress notify:", "quiet", "--progress-notify"))
	f.ok("compact", compact(8, clientv3.WithCompactPhysical()))
	f.ok("compacted revision", ctlWatch(nil, "", "a", "--rev=3"))
}
