package server_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/etcdserverpb/etcdserverpbconnect"
	"github.com/cairnkv/cairn/modules/mvcc"
	"github.com/cairnkv/cairn/modules/raftlog"
	"github.com/cairnkv/cairn/modules/server"
	"github.com/cairnkv/cairn/modules/storage"
	"github.com/cairnkv/cairn/modules/watch"
)

// etcd's error for a hasleader stream on a member without a leader
// (rpctypes.ErrGRPCNoLeader).
const noLeader = "etcdserver: no leader"

// leaderToggle is the watch service's Raft: a member whose leader the test
// sets (0: none).
type leaderToggle struct{ leader atomic.Uint64 }

func (r *leaderToggle) Status() raftlog.Status {
	return raftlog.Status{ClusterID: 1, MemberID: 2, Term: 3, Leader: r.leader.Load()}
}

// startWatchServer serves the real Watch service (over an mvcc store on
// pebble in a temp dir) on a server, and returns its address.
func startWatchServer(t *testing.T, r watch.Raft, cfg watch.Config) string {
	t.Helper()
	db, err := storage.Open(storage.Config{Dir: t.TempDir(), CacheBytes: 8 << 20, MemTableBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	hub := watch.NewHub(watch.HubConfig{})
	store, err := mvcc.New(db, mvcc.Config{OnCommit: hub.OnCommit})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	t.Cleanup(hub.Close)
	svc := watch.New(cfg, hub, store, r)
	_, addr := startServer(t, server.Services{Watch: svc}, nil)
	// Before the server stops (cleanups run last in, first out): the app
	// closes the service first too, streams do not end by themselves.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		svc.Close(ctx)
	})
	return addr
}

// watchStream is one Watch stream of a client, whichever transport.
type watchStream struct {
	send func(*etcdserverpb.WatchRequest) error
	recv func() (*etcdserverpb.WatchResponse, error)
}

// create sends a create request and returns the response, or the error that
// ended the stream. A send that fails because the server already ended the
// stream returns io.EOF (both clients): the stream's error comes from recv.
func (w watchStream) create(key string) (*etcdserverpb.WatchResponse, error) {
	if err := w.send(watchCreate(key)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return w.recv()
}

// TestWatchRequireLeaderBothTransports: clientv3's WithRequireLeader
// (metadata hasleader=true) reaches the real Watch service over grpc-go and,
// as the Hasleader header, over Connect and gRPC-Web (connect-go, h2c). With
// it, a stream opened on a member without a leader ends at once, and a stream
// opened while there was one ends once the leader is gone (after the
// service's leader checks), both with etcd's Unavailable "etcdserver: no
// leader". Without it, a stream is never ended for that: its creates are
// answered without a leader, and still after the hasleader streams ended.
func TestWatchRequireLeaderBothTransports(t *testing.T) {
	raft := &leaderToggle{}
	addr := startWatchServer(t, raft, watch.Config{LeaderCheckInterval: 10 * time.Millisecond})
	ctx := ctxT(t)

	transports := []struct {
		name string
		open func(t *testing.T, hasLeader bool) watchStream
	}{
		{"grpc-go client", func(t *testing.T, hasLeader bool) watchStream {
			sctx := ctx
			if hasLeader {
				sctx = metadata.AppendToOutgoingContext(ctx, "hasleader", "true")
			}
			st, err := etcdserverpb.NewWatchClient(grpcConn(t, addr)).Watch(sctx)
			if err != nil {
				t.Fatal(err)
			}
			return watchStream{st.Send, st.Recv}
		}},
		{"connect+proto/h2c", func(t *testing.T, hasLeader bool) watchStream {
			sctx, info := connect.NewClientContext(ctx)
			if hasLeader {
				info.RequestHeader().Set("Hasleader", "true")
			}
			st, err := etcdserverpbconnect.NewWatchClient(httpClient(t, true), "http://"+addr).Watch(sctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.CloseResponse() })
			return watchStream{st.Send, st.Receive}
		}},
		{"grpc-web+proto/h2c", func(t *testing.T, hasLeader bool) watchStream {
			sctx, info := connect.NewClientContext(ctx)
			if hasLeader {
				info.RequestHeader().Set("Hasleader", "true")
			}
			st, err := etcdserverpbconnect.NewWatchClient(httpClient(t, true), "http://"+addr, connect.WithGRPCWeb()).Watch(sctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.CloseResponse() })
			return watchStream{st.Send, st.Receive}
		}},
	}
	wantCreated := func(t *testing.T, what string, r *etcdserverpb.WatchResponse, err error) {
		t.Helper()
		if err != nil || !r.Created || r.Canceled {
			t.Fatalf("%s: create answered %v, %v; want a created response", what, r, err)
		}
	}

	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			raft.leader.Store(0)
			_, err := tr.open(t, true).create("a")
			wantCode(t, err, codes.Unavailable, noLeader)
			plain := tr.open(t, false)
			r, err := plain.create("a")
			wantCreated(t, "no leader, without hasleader", r, err)

			raft.leader.Store(2)
			held := tr.open(t, true)
			r, err = held.create("a")
			wantCreated(t, "a leader, with hasleader", r, err)
			raft.leader.Store(0)
			_, err = held.recv()
			wantCode(t, err, codes.Unavailable, noLeader)

			r, err = plain.create("b")
			wantCreated(t, "without hasleader, after the hasleader stream ended", r, err)
		})
	}
}
