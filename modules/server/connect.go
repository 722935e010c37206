package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/etcdserverpb/etcdserverpbconnect"
)

// connect-go adapters. The connect stubs are generated with the "simple"
// option, so every unary handler method has exactly the grpc-go signature and
// is promoted from the embedded grpc-go server unchanged; only streaming
// methods need an adapter, which wraps connect's stream so that it satisfies
// grpc.ServerStreamingServer / grpc.BidiStreamingServer and calls the same
// core. Errors are mapped by connectInterceptor.

// connectHandlers mounts the six services on mux.
func connectHandlers(mux *http.ServeMux, svc Services, opts ...connect.HandlerOption) {
	mux.Handle(etcdserverpbconnect.NewKVHandler(kvHandler{svc.KV}, opts...))
	mux.Handle(requireHTTP2(etcdserverpbconnect.WatchWatchProcedure)(etcdserverpbconnect.NewWatchHandler(watchHandler{svc.Watch}, opts...)))
	mux.Handle(requireHTTP2(etcdserverpbconnect.LeaseLeaseKeepAliveProcedure)(etcdserverpbconnect.NewLeaseHandler(leaseHandler{svc.Lease}, opts...)))
	mux.Handle(etcdserverpbconnect.NewClusterHandler(svc.Cluster, opts...))
	mux.Handle(etcdserverpbconnect.NewMaintenanceHandler(maintenanceHandler{svc.Maintenance}, opts...))
	mux.Handle(etcdserverpbconnect.NewAuthHandler(svc.Auth, opts...))
}

// requireHTTP2 wraps a service's handler so that its bidirectional-stream
// method (procedure) called over HTTP/1.x is answered as connect-go answers
// it (505, connection closed: a full-duplex client would hang otherwise) but
// with a body that says why, for curl and browser users. The service's other
// methods work over HTTP/1.1 as before.
func requireHTTP2(procedure string) func(path string, h http.Handler) (string, http.Handler) {
	return func(path string, h http.Handler) (string, http.Handler) {
		return path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ProtoMajor >= 2 || r.URL.Path != procedure {
				h.ServeHTTP(w, r)
				return
			}
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusHTTPVersionNotSupported)
			msg, _ := json.Marshal(strings.TrimPrefix(procedure, "/") + " is a bidirectional stream: it needs HTTP/2 (h2c or TLS), and this request came over " + r.Proto)
			_, _ = fmt.Fprintf(w, `{"code":"unimplemented","message":%s}`+"\n", msg)
		})
	}
}

type kvHandler struct{ etcdserverpb.KVServer }

func (h kvHandler) RangeStream(ctx context.Context, req *etcdserverpb.RangeRequest, stream *connect.ServerStream[etcdserverpb.RangeStreamResponse]) error {
	return h.KVServer.RangeStream(req, &serverStream[etcdserverpb.RangeStreamResponse]{ctx: ctx, s: stream})
}

type watchHandler struct{ etcdserverpb.WatchServer }

func (h watchHandler) Watch(ctx context.Context, stream *connect.BidiStream[etcdserverpb.WatchRequest, etcdserverpb.WatchResponse]) error {
	ctx = withIncomingMetadata(ctx, stream.RequestHeader())
	return h.WatchServer.Watch(&bidiStream[etcdserverpb.WatchRequest, etcdserverpb.WatchResponse]{ctx: ctx, s: stream})
}

type leaseHandler struct{ etcdserverpb.LeaseServer }

func (h leaseHandler) LeaseKeepAlive(ctx context.Context, stream *connect.BidiStream[etcdserverpb.LeaseKeepAliveRequest, etcdserverpb.LeaseKeepAliveResponse]) error {
	ctx = withIncomingMetadata(ctx, stream.RequestHeader())
	return h.LeaseServer.LeaseKeepAlive(&bidiStream[etcdserverpb.LeaseKeepAliveRequest, etcdserverpb.LeaseKeepAliveResponse]{ctx: ctx, s: stream})
}

type maintenanceHandler struct{ etcdserverpb.MaintenanceServer }

func (h maintenanceHandler) Snapshot(ctx context.Context, req *etcdserverpb.SnapshotRequest, stream *connect.ServerStream[etcdserverpb.SnapshotResponse]) error {
	return h.MaintenanceServer.Snapshot(req, &serverStream[etcdserverpb.SnapshotResponse]{ctx: ctx, s: stream})
}

var (
	_ etcdserverpbconnect.KVHandler          = kvHandler{}
	_ etcdserverpbconnect.WatchHandler       = watchHandler{}
	_ etcdserverpbconnect.LeaseHandler       = leaseHandler{}
	_ etcdserverpbconnect.ClusterHandler     = etcdserverpb.ClusterServer(nil)
	_ etcdserverpbconnect.MaintenanceHandler = maintenanceHandler{}
	_ etcdserverpbconnect.AuthHandler        = etcdserverpb.AuthServer(nil)

	_ grpc.ServerStreamingServer[etcdserverpb.RangeStreamResponse]                    = (*serverStream[etcdserverpb.RangeStreamResponse])(nil)
	_ grpc.BidiStreamingServer[etcdserverpb.WatchRequest, etcdserverpb.WatchResponse] = (*bidiStream[etcdserverpb.WatchRequest, etcdserverpb.WatchResponse])(nil)
)

// serverStream is a connect server stream seen as a grpc-go one.
type serverStream[Res any] struct {
	ctx context.Context
	s   *connect.ServerStream[Res]
}

func (a *serverStream[Res]) Send(m *Res) error        { return a.s.Send(m) }
func (a *serverStream[Res]) Context() context.Context { return a.ctx }
func (a *serverStream[Res]) SetHeader(md metadata.MD) error {
	addMetadata(a.s.ResponseHeader(), md)
	return nil
}
func (a *serverStream[Res]) SendHeader(md metadata.MD) error {
	addMetadata(a.s.ResponseHeader(), md)
	return a.s.Send(nil) // connect: nil flushes the headers
}
func (a *serverStream[Res]) SetTrailer(md metadata.MD) { addMetadata(a.s.ResponseTrailer(), md) }
func (a *serverStream[Res]) SendMsg(m any) error       { return a.s.Conn().Send(m) }
func (a *serverStream[Res]) RecvMsg(m any) error       { return a.s.Conn().Receive(m) }

// bidiStream is a connect bidi stream seen as a grpc-go one.
type bidiStream[Req, Res any] struct {
	ctx context.Context
	s   *connect.BidiStream[Req, Res]
}

// Recv returns io.EOF itself (not wrapped) when the client closed its side:
// cores compare with == io.EOF, as etcd's do.
func (a *bidiStream[Req, Res]) Recv() (*Req, error) {
	m, err := a.s.Receive()
	if err != nil && errors.Is(err, io.EOF) {
		return nil, io.EOF
	}
	return m, err
}
func (a *bidiStream[Req, Res]) Send(m *Res) error        { return a.s.Send(m) }
func (a *bidiStream[Req, Res]) Context() context.Context { return a.ctx }
func (a *bidiStream[Req, Res]) SetHeader(md metadata.MD) error {
	addMetadata(a.s.ResponseHeader(), md)
	return nil
}
func (a *bidiStream[Req, Res]) SendHeader(md metadata.MD) error {
	addMetadata(a.s.ResponseHeader(), md)
	return a.s.Send(nil)
}
func (a *bidiStream[Req, Res]) SetTrailer(md metadata.MD) { addMetadata(a.s.ResponseTrailer(), md) }
func (a *bidiStream[Req, Res]) SendMsg(m any) error       { return a.s.Conn().Send(m) }
func (a *bidiStream[Req, Res]) RecvMsg(m any) error {
	err := a.s.Conn().Receive(m)
	if err != nil && errors.Is(err, io.EOF) {
		return io.EOF
	}
	return err
}

// clientMetadataKeys are the request metadata keys etcd's clients send that
// the service cores read (hasleader: clientv3's WithRequireLeader; token:
// the auth token).
var clientMetadataKeys = []string{"hasleader", "token"}

// withIncomingMetadata adds the clientMetadataKeys of a Connect request's
// headers to ctx's incoming gRPC metadata, as grpc-go delivers them, so a
// core reads them the same way over either transport.
func withIncomingMetadata(ctx context.Context, h http.Header) context.Context {
	var md metadata.MD
	for _, k := range clientMetadataKeys {
		if vs := h.Values(k); len(vs) > 0 {
			if md == nil {
				md, _ = metadata.FromIncomingContext(ctx)
				md = md.Copy()
			}
			md.Set(k, vs...)
		}
	}
	if md == nil {
		return ctx
	}
	return metadata.NewIncomingContext(ctx, md)
}

// addMetadata copies gRPC metadata into HTTP headers, base64-encoding binary
// (-bin) values as the gRPC and Connect protocols require.
func addMetadata(h http.Header, md metadata.MD) {
	for k, vs := range md {
		bin := strings.HasSuffix(k, "-bin")
		for _, v := range vs {
			if bin {
				v = connect.EncodeBinaryHeader([]byte(v))
			}
			h.Add(k, v)
		}
	}
}
