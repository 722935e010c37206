package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
)

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

// readLog decodes the log file's records into a map. A record cut short at
// the end is an error, unless a write may be under way (partial).
func readLog(path string, partial bool) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for len(b) > 0 {
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

// Appends that arrive during a sync share the next one.
func TestGroupCommit(t *testing.T) {
	s, _, path := startFloor(t)
	l := s.log
	release := make(chan struct{})
	held := make(chan struct{}, 1)
	sync0 := l.sync
	l.sync = func() error {
		select {
		case held <- struct{}{}:
			<-release // only the first sync waits
		default:
		}
		return sync0()
	}
	const n = 64
	var wg sync.WaitGroup
	wg.Go(func() { _ = l.append([]byte{1, 'a', 1, 'b'}) })
	<-held // the first append is syncing
	for range n - 1 {
		wg.Go(func() { _ = l.append([]byte{1, 'c', 1, 'd'}) })
	}
	for deadline := time.Now().Add(10 * time.Second); len(l.in) < n-1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d appends queued, want %d", len(l.in), n-1)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got := l.syncs.Load(); got != 2 {
		t.Errorf("%d appends took %d syncs, want 2 (one, then the rest together)", n, got)
	}
	if m := mustReadLog(t, path); len(m) != 2 || m["a"] != "b" || m["c"] != "d" {
		t.Errorf("log = %v", m)
	}
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
