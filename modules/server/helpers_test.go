package server_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
	"github.com/cairnkv/cairn/modules/server"
)

const (
	testVersion = "9.9.9-test"
	compacted   = "etcdserver: mvcc: required revision has been compacted"
)

// transportOf names the transport that serves the call in ctx, from what each
// one puts in the handler context: connect-go its CallInfo (with the protocol
// it decoded), grpc-go its method. Nothing test-only is added in production.
func transportOf(ctx context.Context) string {
	if ci, ok := connect.CallInfoForHandlerContext(ctx); ok {
		return "connect-go/" + ci.Peer().Protocol
	}
	if _, ok := grpc.Method(ctx); ok {
		return "grpc-go"
	}
	return "unknown"
}

// fakeKV answers Range with the key and the transport that served it, and
// fails or blocks on a few magic keys.
type fakeKV struct {
	etcdserverpb.UnimplementedKVServer
	started chan string   // receives the transport of each "block" call once it is in the core
	release chan struct{} // closed to let "block" calls return
}

func newFakeKV() *fakeKV {
	return &fakeKV{started: make(chan string, 16), release: make(chan struct{})}
}

func (f *fakeKV) Range(ctx context.Context, req *etcdserverpb.RangeRequest) (*etcdserverpb.RangeResponse, error) {
	switch string(req.Key) {
	case "err":
		return nil, fmt.Errorf("fake core: %w", rpcerr.ErrCompacted)
	case "status":
		return nil, status.Error(codes.FailedPrecondition, "a plain grpc status")
	case "block":
		f.started <- transportOf(ctx)
		<-f.release
	}
	return &etcdserverpb.RangeResponse{
		Count: 1,
		Kvs:   []*mvccpb.KeyValue{{Key: req.Key, Value: []byte(transportOf(ctx))}},
	}, nil
}

func (f *fakeKV) Put(_ context.Context, req *etcdserverpb.PutRequest) (*etcdserverpb.PutResponse, error) {
	return &etcdserverpb.PutResponse{Header: &etcdserverpb.ResponseHeader{Revision: int64(len(req.Value))}}, nil
}

// RangeStream sends three chunks, then fails if the key is "err".
func (f *fakeKV) RangeStream(req *etcdserverpb.RangeRequest, stream grpc.ServerStreamingServer[etcdserverpb.RangeStreamResponse]) error {
	for i := range 3 {
		err := stream.Send(&etcdserverpb.RangeStreamResponse{RangeResponse: &etcdserverpb.RangeResponse{
			Kvs: []*mvccpb.KeyValue{{Key: fmt.Appendf(nil, "%s/%d", req.Key, i), Value: []byte(transportOf(stream.Context()))}},
		}})
		if err != nil {
			return err
		}
	}
	if string(req.Key) == "err" {
		return fmt.Errorf("fake core: %w", rpcerr.ErrCompacted)
	}
	return nil
}

// fakeWatch answers each create request with a response naming the key and
// the transport; key "err" ends the stream with ErrCompacted; key "hold"
// keeps the stream open until the client or the server ends it.
type fakeWatch struct {
	etcdserverpb.UnimplementedWatchServer
}

func (fakeWatch) Watch(stream grpc.BidiStreamingServer[etcdserverpb.WatchRequest, etcdserverpb.WatchResponse]) error {
	tr := transportOf(stream.Context())
	for id := int64(1); ; id++ {
		req, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		key := req.GetCreateRequest().GetKey()
		if string(key) == "err" {
			return fmt.Errorf("fake core: %w", rpcerr.ErrCompacted)
		}
		err = stream.Send(&etcdserverpb.WatchResponse{
			WatchId:      id,
			Created:      true,
			CancelReason: tr, // an echo of the transport, for the test
			Events:       []*mvccpb.Event{{Kv: &mvccpb.KeyValue{Key: key}}},
		})
		if err != nil {
			return err
		}
	}
}

// healthToggle is a HealthFunc whose answer the test sets.
type healthToggle struct{ err atomic.Pointer[error] }

func (h *healthToggle) set(err error) {
	if err == nil {
		h.err.Store(nil)
		return
	}
	h.err.Store(&err)
}

func (h *healthToggle) check(context.Context) error {
	if p := h.err.Load(); p != nil {
		return *p
	}
	return nil
}

func loopbackURL() url.URL { return url.URL{Scheme: "http", Host: "127.0.0.1:0"} }

// startServer starts a server on 127.0.0.1:0 and returns it and its address.
func startServer(t *testing.T, svc server.Services, health server.HealthFunc, mutate ...func(*server.Config)) (*server.Server, string) {
	t.Helper()
	cfg := server.Config{
		ListenClientURLs: []url.URL{loopbackURL()},
		Version:          testVersion,
		EtcdVersion:      "3.6.8",
	}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := server.New(cfg, zaptest.NewLogger(t), svc, health)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return s, s.Addrs()[0].String()
}

func grpcConn(t *testing.T, target string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// httpClient returns an HTTP/1.1-only client, or an h2c (prior knowledge)
// client.
func httpClient(t *testing.T, h2c bool) *http.Client {
	var p http.Protocols
	if h2c {
		p.SetUnencryptedHTTP2(true)
	} else {
		p.SetHTTP1(true)
	}
	tr := &http.Transport{Protocols: &p}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// httpClientB is an h2c client for benchmarks.
func httpClientB() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: &p}}
}

// connectProtocol is one way for a connect-go client to call.
type connectProtocol struct {
	name string
	h2c  bool
	opts []connect.ClientOption
	want string // transport that must serve it
}

// connectProtocols are Connect and gRPC-Web, JSON and binary, over HTTP/1.1
// and h2c, plus connect-go's gRPC protocol over h2c (which must reach grpc-go).
var connectProtocols = []connectProtocol{
	{name: "connect+proto/http1", want: "connect-go/connect"},
	{name: "connect+json/http1", opts: []connect.ClientOption{connect.WithProtoJSON()}, want: "connect-go/connect"},
	{name: "connect+proto/h2c", h2c: true, want: "connect-go/connect"},
	{name: "connect+json/h2c", h2c: true, opts: []connect.ClientOption{connect.WithProtoJSON()}, want: "connect-go/connect"},
	{name: "grpc-web+proto/http1", opts: []connect.ClientOption{connect.WithGRPCWeb()}, want: "connect-go/grpcweb"},
	{name: "grpc-web+json/http1", opts: []connect.ClientOption{connect.WithGRPCWeb(), connect.WithProtoJSON()}, want: "connect-go/grpcweb"},
	{name: "grpc-web+proto/h2c", h2c: true, opts: []connect.ClientOption{connect.WithGRPCWeb()}, want: "connect-go/grpcweb"},
	{name: "grpc+proto/h2c(connect-go client)", h2c: true, opts: []connect.ClientOption{connect.WithGRPC()}, want: "grpc-go"},
}

// wantCode checks err's gRPC or Connect code and message.
func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v %q", code, msg)
	}
	var gotCode codes.Code
	var gotMsg string
	var ce *connect.Error
	if errors.As(err, &ce) {
		gotCode, gotMsg = codes.Code(ce.Code()), ce.Message()
	} else {
		st := status.Convert(err)
		gotCode, gotMsg = st.Code(), st.Message()
	}
	if gotCode != code || gotMsg != msg {
		t.Fatalf("got %v %q, want %v %q (error: %v)", gotCode, gotMsg, code, msg, err)
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// codeOf is err's gRPC or Connect code.
func codeOf(err error) codes.Code {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return codes.Code(ce.Code())
	}
	return status.Code(err)
}
