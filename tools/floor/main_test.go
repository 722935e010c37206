package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
)

func TestMain(m *testing.M) {
	preallocBytes = 64 << 10 // the tests read the whole file after each put
	os.Exit(m.Run())
}

func startFloor(t *testing.T) (*floorServer, *grpc.ClientConn, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := newServer(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.serve(l) }()
	t.Cleanup(s.stop)
	cc, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return s, cc, filepath.Join(dir, "floor.log")
}

// readLog decodes the log file's records into a map, up to the zeroed,
// preallocated tail (the tests' keys are never empty). A record cut short is
// an error, unless a write may be under way (partial).
func readLog(path string, partial bool) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for len(b) > 0 && b[0] != 0 {
		var kv [2][]byte
		for i := range kv {
			n, w := binary.Uvarint(b)
			if w <= 0 || uint64(len(b)-w) < n {
				if partial {
					return m, nil
				}
				return nil, fmt.Errorf("log record cut short %d bytes from the end", len(b))
			}
			kv[i], b = b[w:w+int(n)], b[w+int(n):]
		}
		m[string(kv[0])] = string(kv[1])
	}
	return m, nil
}

func mustReadLog(t *testing.T, path string) map[string]string {
	t.Helper()
	m, err := readLog(path, false)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Every acknowledged put is in the log file, and Range answers it.
func TestPutIsLoggedBeforeAck(t *testing.T) {
	_, cc, path := startFloor(t)
	kv := etcdserverpb.NewKVClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("key-%02d", i)
			if _, err := kv.Put(ctx, &etcdserverpb.PutRequest{Key: []byte(key), Value: []byte("v" + key)}); err != nil {
				errs <- err
				return
			}
			// Acknowledged: it must be in the file now, before the others finish.
			m, err := readLog(path, true) // other puts may be writing
			if err != nil {
				errs <- err
			} else if got, ok := m[key]; !ok || got != "v"+key {
				errs <- fmt.Errorf("%s acknowledged but the log has %q (present %v)", key, got, ok)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := len(mustReadLog(t, path)); got != n {
		t.Errorf("log holds %d keys, want %d", got, n)
	}
	resp, err := kv.Range(ctx, &etcdserverpb.RangeRequest{Key: []byte("key-07")})
	if err != nil || len(resp.Kvs) != 1 || !bytes.Equal(resp.Kvs[0].Value, []byte("vkey-07")) || resp.Count != 1 {
		t.Fatalf("Range(key-07) = %v, %v", resp, err)
	}
	if resp.Header.Revision != n {
		t.Errorf("revision %d after %d puts", resp.Header.Revision, n)
	}
	resp, err = kv.Range(ctx, &etcdserverpb.RangeRequest{Key: []byte("absent")})
	if err != nil || len(resp.Kvs) != 0 || resp.Count != 0 {
		t.Fatalf("Range(absent) = %v, %v", resp, err)
	}
}

// A put is acknowledged only after its sync, and the puts that arrive during
// a sync share the next one.
func TestGroupCommit(t *testing.T) {
	s, _, path := startFloor(t)
	l := s.log
	release := make(chan struct{})
	var released sync.Once
	unhold := func() { released.Do(func() { close(release) }) }
	defer unhold() // before the server's cleanup, which waits for the sync
	held := make(chan struct{})
	var first sync.Once
	sync0 := l.sync
	l.sync = func() error {
		first.Do(func() {
			close(held)
			<-release
		})
		return sync0()
	}
	const n = 64
	var wg sync.WaitGroup
	acked := make(chan struct{})
	wg.Go(func() {
		_ = l.append(&record{key: []byte("a"), value: []byte("b")})
		close(acked)
	})
	<-held // the first put is written, its sync under way
	for i := range n - 1 {
		wg.Go(func() { _ = l.append(&record{key: fmt.Appendf(nil, "c%02d", i), value: []byte("d")}) })
	}
	for deadline := time.Now().Add(10 * time.Second); len(l.in) < n-1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d appends queued, want %d", len(l.in), n-1)
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case <-acked:
		t.Fatal("a put was acknowledged before its sync returned")
	default:
	}
	unhold()
	wg.Wait()
	if got := l.syncs.Load(); got != 2 {
		t.Errorf("%d appends took %d syncs, want 2 (one, then the rest together)", n, got)
	}
	if m := mustReadLog(t, path); len(m) != n || m["a"] != "b" || m["c07"] != "d" {
		t.Errorf("log holds %d keys (a=%q c07=%q), want %d", len(m), m["a"], m["c07"], n)
	}
	if s.kv.rev != n || string(s.kv.vals["a"]) != "b" {
		t.Errorf("after %d puts: revision %d, a=%q", n, s.kv.rev, s.kv.vals["a"])
	}
}

// The puts of one batch apply in log order: the later put of a key wins, and
// revisions follow the log.
func TestBatchAppliesInLogOrder(t *testing.T) {
	s, _, _ := startFloor(t)
	recs := []*record{{key: []byte("k"), value: []byte("1")}, {key: []byte("x"), value: []byte("x")}, {key: []byte("k"), value: []byte("2")}}
	s.kv.applyBatch(recs)
	if got := string(s.kv.vals["k"]); got != "2" {
		t.Errorf("k = %q after puts of 1 then 2", got)
	}
	for i, r := range recs {
		if r.rev != int64(i+1) {
			t.Errorf("put %d got revision %d", i, r.rev)
		}
	}
}

// A failed sync fails its put and every later one: nothing is acknowledged
// after the log may have lost a write.
func TestFailedSyncFailsLaterPuts(t *testing.T) {
	s, _, _ := startFloor(t)
	l := s.log
	errSync := errors.New("injected sync failure")
	l.sync = func() error { return errSync }
	if err := l.append(&record{key: []byte("a"), value: []byte("1")}); !errors.Is(err, errSync) {
		t.Fatalf("put during a failed sync: %v", err)
	}
	l.sync = func() error { return nil } // the disk "recovers": too late
	if err := l.append(&record{key: []byte("b"), value: []byte("2")}); !errors.Is(err, errSync) {
		t.Fatalf("put after a failed sync: %v", err)
	}
	if len(s.kv.vals) != 0 {
		t.Errorf("failed puts reached the map: %v", s.kv.vals)
	}
}

// Stopping under load neither panics nor hangs: handlers finish before the
// log closes.
func TestStopUnderLoad(t *testing.T) {
	s, cc, _ := startFloor(t)
	kv := etcdserverpb.NewKVClient(cc)
	var wg sync.WaitGroup
	var acked atomic.Int64
	for c := range 32 {
		wg.Go(func() {
			for i := 0; i < 10_000; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := kv.Put(ctx, &etcdserverpb.PutRequest{Key: fmt.Appendf(nil, "k%d-%d", c, i), Value: []byte("v")})
				cancel()
				if err != nil {
					return
				}
				acked.Add(1)
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); acked.Load() < 100; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d puts acknowledged", acked.Load())
		}
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() {
		s.stop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("stop under load did not return")
	}
	wg.Wait()
}

func TestLeases(t *testing.T) {
	_, cc, _ := startFloor(t)
	lc := etcdserverpb.NewLeaseClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := lc.LeaseGrant(ctx, &etcdserverpb.LeaseGrantRequest{TTL: 42})
	if err != nil || g.ID == 0 || g.TTL != 42 {
		t.Fatalf("LeaseGrant = %v, %v", g, err)
	}
	st, err := lc.LeaseKeepAlive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, ttl int64
	}{{g.ID, 42}, {g.ID + 1000, 0}} {
		if err := st.Send(&etcdserverpb.LeaseKeepAliveRequest{ID: c.id}); err != nil {
			t.Fatal(err)
		}
		r, err := st.Recv()
		if err != nil || r.ID != c.id || r.TTL != c.ttl {
			t.Fatalf("keep-alive of %d = %v, %v; want TTL %d", c.id, r, err, c.ttl)
		}
	}
	if _, err := lc.LeaseRevoke(ctx, &etcdserverpb.LeaseRevokeRequest{ID: g.ID}); err != nil {
		t.Fatal(err)
	}
	if err := st.Send(&etcdserverpb.LeaseKeepAliveRequest{ID: g.ID}); err != nil {
		t.Fatal(err)
	}
	if r, err := st.Recv(); err != nil || r.TTL != 0 {
		t.Fatalf("keep-alive after revoke = %v, %v; want TTL 0", r, err)
	}
}
