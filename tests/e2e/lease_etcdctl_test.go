package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// remainingRE: the remaining TTL printed by `lease timetolive` depends on
// when each server was asked.
var remainingRE = regexp.MustCompile(`remaining\((\d+)s\)`)

func maskRemaining(s *server, out string) string {
	return remainingRE.ReplaceAllString(maskText(s, out), "remaining(<ttl>)")
}

// ctlStream runs a long-running etcdctl command (lease keep-alive) for d,
// then interrupts it as a user would, and returns its output.
func ctlStream(d time.Duration, args ...string) stepFunc {
	return func(_ context.Context, s *server) (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		full := append([]string{"--endpoints=" + s.clientURL, "--dial-timeout=5s", "--command-timeout=10s"}, args...)
		cmd := exec.CommandContext(ctx, etcdctlBinary(s.t), full...)
		cmd.Env = cleanEnv()
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(d):
			_ = cmd.Process.Signal(syscall.SIGINT)
			<-done
		}
		return ctlOut{stdout: maskText(s, o.String()), stderr: maskText(s, e.String())}.String(), nil
	}
}

func TestLeaseEtcdctl(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	// etcdctl cannot choose an ID: grant with one over gRPC, so that the
	// IDs (and keys' lease fields) compare.
	f.ok("grant 1000", grant(leaseA, 60))
	id := fmt.Sprintf("%x", leaseA)

	f.ctlOK(maskText, "", "lease", "grant", "100")
	f.ctlOK(maskText, "", "lease", "grant", "1")
	f.ctlOK(maskText, "", "lease", "list")
	f.ctlOK(maskText, "", "put", "--lease="+id, "lk/1", "v")
	f.ctlOK(maskText, "", "put", "--lease="+id, "lk/2", "v")
	f.ctlOK(maskJSON, "", "get", "lk/", "--prefix", "-w", "json")
	f.ctlOK(maskRemaining, "", "lease", "timetolive", id)
	f.ok("etcdctl lease timetolive --keys", func(ctx context.Context, s *server) (any, error) {
		o, e, code := s.etcdctl("", "lease", "timetolive", "--keys", id)
		// Keys are listed in the server's order (etcd: map order).
		o = regexp.MustCompile(`attached keys\(\[(.*)\]\)`).ReplaceAllStringFunc(o, func(m string) string {
			ks := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(m, "attached keys(["), "])"))
			slices.Sort(ks)
			return "attached keys([" + strings.Join(ks, " ") + "])"
		})
		return ctlOut{code: code, stdout: maskRemaining(s, o), stderr: maskText(s, e)}.String(), nil
	})
	f.ctlOK(maskText, "", "lease", "keep-alive", "--once", id)
	f.ok("etcdctl lease keep-alive (interrupted)", ctlStream(2*time.Second, "lease", "keep-alive", id))
	f.ctlOK(maskText, "", "lease", "revoke", id)
	f.ctlOK(maskText, "", "get", "lk/", "--prefix", "--count-only", "-w", "fields")
	f.ctlOK(maskText, "", "lease", "timetolive", id)
	// etcdctl wraps this one: "Error: failed to revoke lease (etcdserver: requested lease not found)".
	f.ok("etcdctl lease revoke of a revoked lease", ctl(maskText, "", "lease", "revoke", id))
	f.ctlFail(rpctypes.ErrGRPCLeaseNotFound, "", "put", "--lease="+id, "lk/1", "v")
	// keep-alive on a revoked lease ends by itself.
	f.ok("etcdctl lease keep-alive of a revoked lease", ctlStream(20*time.Second, "lease", "keep-alive", id))
	// Exit 2: "Error: etcdserver: requested lease not found".
	f.ok("etcdctl lease keep-alive --once of a revoked lease", ctl(maskText, "", "lease", "keep-alive", "--once", id))
	f.ok("etcdctl lease grant with a too large TTL", ctl(maskText, "", "lease", "grant", "9000000001"))
	f.ok("leases via clientv3", func(ctx context.Context, s *server) (any, error) {
		r, err := s.client().Leases(ctx)
		if err != nil {
			return nil, err
		}
		return fmt.Sprintf("%d leases", len(r.Leases)), nil
	})
	f.ok("get with lease revoked", get("lk/", clientv3.WithPrefix()))
}
