// Command floor is the transport floor of Cairn's benchmarks: a gRPC server of
// etcd's KV and Lease services that does the least a durable server must do,
// on grpc-go configured as Cairn configures it. Driven with `tools/bench`
// like etcd and Cairn, it shows the most any server on grpc-go could reach on
// this machine with this client (docs/benchmarks.md, "The transport floor").
//
//	go build -o bin/floor ./tools/floor
//	bin/floor --data-dir /tmp/floor        # then: bench put --endpoints 127.0.0.1:23790 ...
//
// It takes etcd's --listen-client-urls and --data-dir and ignores the other
// flags `bench compare` gives a server, so compare can run it in Cairn's place:
//
//	go -C tools/bench run . compare --cairn-bin "$PWD/bin/floor" --memory=false \
//		--workloads put-1,put-100,range-1-linearizable,range-1-serializable,lease-keepalive,lease-keepalive-stream
//
// What it does per request, and nothing more:
//
//   - Put appends the key and value to one log file, preallocated as Cairn's
//     WAL and the fsync probe's file are (an fdatasync then writes data, not
//     the file's size), and answers after an fdatasync that covers them.
//     Puts that arrive while a sync runs share the next one (group commit),
//     so one client pays one write and one fdatasync per put, as the fsync
//     probe measures. After the sync the log's goroutine applies the batch,
//     in log order, to a map that Range reads, and counts a revision per put.
//     A failed write or sync fails that put and every later one.
//   - Range answers the one key asked for from that map (a range_end is
//     Unimplemented; limits and revisions are ignored); serializable or not
//     makes no difference.
//   - LeaseGrant, LeaseRevoke and LeaseKeepAlive keep each lease's TTL in
//     memory only; a keep-alive of an unknown lease answers TTL 0, as etcd
//     does.
//
// Everything else is Unimplemented. It is no key-value store: no raft, no
// MVCC, no watch, no expiry, no recovery (the log is never read), and no
// interceptors (Cairn's count requests and map errors).
package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/server"
)

func main() {
	listen := flag.String("listen-client-urls", "http://127.0.0.1:23790", "URL to serve gRPC on (the first of a list; etcd's flag)")
	dir := flag.String("data-dir", "", "directory of the log file (required)")
	version := flag.Bool("version", false, "print the version and exit")
	// etcd's other flags, which bench compare passes to every server: ignored.
	for _, name := range []string{"name", "advertise-client-urls", "listen-peer-urls", "initial-advertise-peer-urls", "initial-cluster"} {
		flag.String(name, "", "ignored")
	}
	flag.Parse()
	if *version {
		fmt.Println("cairn-floor (grpc-go " + grpc.Version + ")")
		return
	}
	u, err := url.Parse(strings.Split(*listen, ",")[0])
	if *dir == "" || flag.NArg() > 0 || err != nil || u.Host == "" {
		fmt.Fprintln(os.Stderr, "usage: floor --data-dir DIR [--listen-client-urls http://HOST:PORT]")
		os.Exit(2)
	}
	// Cairn's own GC setting (app/gc.go), unless the environment sets one.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	l, err := net.Listen("tcp", u.Host)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	s, err := newServer(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		s.stop()
	}()
	// bench and its scripts wait for this line, as for etcd's and Cairn's.
	fmt.Println("ready to serve client requests on", l.Addr())
	if err := s.serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

// floorServer is the floor's gRPC server and state.
type floorServer struct {
	grpc     *grpc.Server
	log      *groupLog
	kv       *kvService
	stopOnce sync.Once
}

func newServer(dir string) (*floorServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "floor.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, err
	}
	kv := &kvService{vals: make(map[string][]byte)}
	log := newGroupLog(f, kv.applyBatch)
	kv.log = log
	// Cairn's client-port transport, at its defaults (WaitForHandlers among
	// them: a stop waits for handlers, so none appends to a closed log).
	g := grpc.NewServer(server.TransportOptions(int(server.MaxRecvBytes(server.DefaultMaxRequestBytes)), server.DefaultNumStreamWorkers)...)
	etcdserverpb.RegisterKVServer(g, kv)
	etcdserverpb.RegisterLeaseServer(g, &leaseService{})
	return &floorServer{grpc: g, log: log, kv: kv}, nil
}

func (s *floorServer) serve(l net.Listener) error { return s.grpc.Serve(l) }

// stop stops serving, then closes the log once no handler runs.
func (s *floorServer) stop() {
	s.stopOnce.Do(func() {
		s.grpc.Stop()
		s.log.close()
	})
}

// header is every response's header: the floor has one member and counts
// a revision per put.
func header(rev int64) *etcdserverpb.ResponseHeader {
	return &etcdserverpb.ResponseHeader{ClusterId: 1, MemberId: 1, Revision: rev, RaftTerm: 1}
}

// groupLog appends records to a file and syncs them: a record is acknowledged
// after an fdatasync that covers it, and the records that arrive during a sync
// share the next one. After the sync it hands the batch, in log order, to
// apply.
type groupLog struct {
	f     *os.File
	apply func(recs []*record) // a synced batch, in log order
	sync  func() error         // fdatasync of f; tests hold it
	syncs atomic.Int64         // syncs started
	in    chan *record
	done  chan struct{}

	// Owned by run.
	off, allocated int64
	err            error // sticky: the first failed write or sync
}

type record struct {
	key, value []byte
	rev        int64 // set by apply
	err        chan error
}

// preallocBytes is how far ahead of the write offset the log is allocated
// (tests lower it).
var preallocBytes int64 = 64 << 20

func newGroupLog(f *os.File, apply func([]*record)) *groupLog {
	l := &groupLog{f: f, apply: apply, in: make(chan *record, 1024), done: make(chan struct{})}
	l.sync = func() error { return unix.Fdatasync(int(f.Fd())) }
	go l.run()
	return l
}

// append logs key and value and returns once they are synced and applied.
func (l *groupLog) append(r *record) error {
	r.err = make(chan error, 1)
	l.in <- r
	return <-r.err
}

func (l *groupLog) run() {
	defer close(l.done)
	var batch []*record
	var buf []byte
	for r := range l.in {
		batch = append(batch[:0], r)
	drain:
		for {
			select {
			case r, ok := <-l.in:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		buf = buf[:0]
		for _, r := range batch {
			buf = binary.AppendUvarint(buf, uint64(len(r.key)))
			buf = append(buf, r.key...)
			buf = binary.AppendUvarint(buf, uint64(len(r.value)))
			buf = append(buf, r.value...)
		}
		if l.err == nil {
			l.err = l.write(buf)
		}
		if l.err == nil {
			l.apply(batch)
		}
		for _, r := range batch {
			r.err <- l.err
		}
		clear(batch)
	}
}

// write writes buf at the end of the log, allocating ahead first, and syncs.
func (l *groupLog) write(buf []byte) error {
	if end := l.off + int64(len(buf)); end > l.allocated {
		n := max(preallocBytes, end-l.allocated)
		if err := unix.Fallocate(int(l.f.Fd()), 0, l.allocated, n); err != nil {
			return err
		}
		l.allocated += n
	}
	if _, err := l.f.WriteAt(buf, l.off); err != nil {
		return err
	}
	l.off += int64(len(buf))
	l.syncs.Add(1)
	return l.sync()
}

// close stops the log after the records already handed to it; no append may
// follow.
func (l *groupLog) close() {
	close(l.in)
	<-l.done
	_ = l.f.Close()
}

type kvService struct {
	etcdserverpb.UnimplementedKVServer
	log  *groupLog
	mu   sync.RWMutex
	rev  int64
	vals map[string][]byte
}

// Put logs the key and value and answers once they are synced and applied.
func (s *kvService) Put(_ context.Context, r *etcdserverpb.PutRequest) (*etcdserverpb.PutResponse, error) {
	rec := &record{key: r.Key, value: r.Value}
	if err := s.log.append(rec); err != nil {
		return nil, err
	}
	return &etcdserverpb.PutResponse{Header: header(rec.rev)}, nil
}

// applyBatch applies a synced batch in log order (the log's goroutine calls
// it): each put takes the next revision.
func (s *kvService) applyBatch(recs []*record) {
	s.mu.Lock()
	for _, r := range recs {
		s.rev++
		r.rev = s.rev
		s.vals[string(r.key)] = r.value
	}
	s.mu.Unlock()
}

func (s *kvService) Range(_ context.Context, r *etcdserverpb.RangeRequest) (*etcdserverpb.RangeResponse, error) {
	if len(r.RangeEnd) > 0 {
		return nil, status.Error(codes.Unimplemented, "floor: only single-key ranges")
	}
	s.mu.RLock()
	v, ok := s.vals[string(r.Key)]
	rev := s.rev
	s.mu.RUnlock()
	resp := &etcdserverpb.RangeResponse{Header: header(rev)}
	if ok {
		resp.Kvs = []*mvccpb.KeyValue{{Key: r.Key, Value: v, Version: 1}}
		resp.Count = 1
	}
	return resp, nil
}

type leaseService struct {
	etcdserverpb.UnimplementedLeaseServer
	nextID atomic.Int64
	ttls   sync.Map // int64 → int64
}

func (s *leaseService) LeaseGrant(_ context.Context, r *etcdserverpb.LeaseGrantRequest) (*etcdserverpb.LeaseGrantResponse, error) {
	id := r.ID
	if id == 0 {
		id = s.nextID.Add(1)
	}
	s.ttls.Store(id, r.TTL)
	return &etcdserverpb.LeaseGrantResponse{Header: header(0), ID: id, TTL: r.TTL}, nil
}

func (s *leaseService) LeaseRevoke(_ context.Context, r *etcdserverpb.LeaseRevokeRequest) (*etcdserverpb.LeaseRevokeResponse, error) {
	s.ttls.Delete(r.ID)
	return &etcdserverpb.LeaseRevokeResponse{Header: header(0)}, nil
}

func (s *leaseService) LeaseKeepAlive(stream etcdserverpb.Lease_LeaseKeepAliveServer) error {
	for {
		r, err := stream.Recv()
		if err != nil {
			return nil // the client went away or cancelled: the stream is done
		}
		var ttl int64
		if v, ok := s.ttls.Load(r.ID); ok {
			ttl = v.(int64)
		}
		if err := stream.Send(&etcdserverpb.LeaseKeepAliveResponse{Header: header(0), ID: r.ID, TTL: ttl}); err != nil {
			return err
		}
	}
}
