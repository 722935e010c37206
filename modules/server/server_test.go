package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/etcdserverpb/etcdserverpbconnect"
	"github.com/cairnkv/cairn/modules/server"
)

func TestUnaryEveryProtocolOnePort(t *testing.T) {
	_, addr := startServer(t, server.Services{KV: newFakeKV()}, nil)
	ctx := ctxT(t)

	t.Run("grpc-go client", func(t *testing.T) {
		var hdr metadata.MD
		resp, err := etcdserverpb.NewKVClient(grpcConn(t, addr)).Range(ctx, &etcdserverpb.RangeRequest{Key: []byte("a")}, grpc.Header(&hdr))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(resp.Kvs[0].Value); got != "grpc-go" {
			t.Errorf("served by %q, want grpc-go", got)
		}
		// gRPC calls carry no version header (it costs an allocation per
		// call; streams neither, TestServerStreamBothTransports); HTTP
		// responses do (below).
		if got := hdr.Get("x-cairn-version"); len(got) != 0 {
			t.Errorf("x-cairn-version metadata = %q on a unary gRPC call", got)
		}
	})
	for _, p := range connectProtocols {
		t.Run(p.name, func(t *testing.T) {
			c := etcdserverpbconnect.NewKVClient(httpClient(t, p.h2c), "http://"+addr, p.opts...)
			cctx, info := connect.NewClientContext(ctx)
			resp, err := c.Range(cctx, &etcdserverpb.RangeRequest{Key: []byte("a")})
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Kvs[0].Key) != "a" || resp.Count != 1 {
				t.Errorf("response %v", resp)
			}
			if got := string(resp.Kvs[0].Value); got != p.want {
				t.Errorf("served by %q, want %q", got, p.want)
			}
			want := testVersion
			if p.want == "grpc-go" {
				want = "" // unary gRPC carries no version header
			}
			if got := info.ResponseHeader().Get("X-Cairn-Version"); got != want {
				t.Errorf("X-Cairn-Version = %q, want %q", got, want)
			}
		})
	}
}

func TestErrorsKeepCodeAndMessage(t *testing.T) {
	_, addr := startServer(t, server.Services{KV: newFakeKV()}, nil)
	ctx := ctxT(t)
	cases := []struct {
		key  string
		code codes.Code
		msg  string
	}{
		// An rpcerr wrapped with %w still goes out as etcd's exact message.
		{"err", codes.OutOfRange, compacted},
		{"status", codes.FailedPrecondition, "a plain grpc status"},
	}
	for _, tc := range cases {
		t.Run(tc.key+"/grpc-go client", func(t *testing.T) {
			_, err := etcdserverpb.NewKVClient(grpcConn(t, addr)).Range(ctx, &etcdserverpb.RangeRequest{Key: []byte(tc.key)})
			wantCode(t, err, tc.code, tc.msg)
		})
		for _, p := range connectProtocols {
			t.Run(tc.key+"/"+p.name, func(t *testing.T) {
				c := etcdserverpbconnect.NewKVClient(httpClient(t, p.h2c), "http://"+addr, p.opts...)
				_, err := c.Range(ctx, &etcdserverpb.RangeRequest{Key: []byte(tc.key)})
				wantCode(t, err, tc.code, tc.msg)
			})
		}
	}
}

func TestUnsetServiceIsUnimplemented(t *testing.T) {
	_, addr := startServer(t, server.Services{KV: newFakeKV()}, nil)
	ctx := ctxT(t)
	const msg = "cairn: the Lease service is not implemented yet"

	_, err := etcdserverpb.NewLeaseClient(grpcConn(t, addr)).LeaseGrant(ctx, &etcdserverpb.LeaseGrantRequest{TTL: 5})
	wantCode(t, err, codes.Unimplemented, msg)
	for _, p := range connectProtocols {
		t.Run(p.name, func(t *testing.T) {
			_, err := etcdserverpbconnect.NewLeaseClient(httpClient(t, p.h2c), "http://"+addr, p.opts...).
				LeaseGrant(ctx, &etcdserverpb.LeaseGrantRequest{TTL: 5})
			wantCode(t, err, codes.Unimplemented, msg)
		})
	}
}

// TestUnimplementedEveryMethod calls every method of every service, unset, on
// both transports: each must answer the stub's message, so a method added to
// the protos and not to unimplemented.go fails here.
func TestUnimplementedEveryMethod(t *testing.T) {
	_, addr := startServer(t, server.Services{}, nil)
	ctx := ctxT(t)
	cc := grpcConn(t, addr)
	h2c := httpClient(t, true)
	descs := []*grpc.ServiceDesc{
		&etcdserverpb.KV_ServiceDesc, &etcdserverpb.Watch_ServiceDesc, &etcdserverpb.Lease_ServiceDesc,
		&etcdserverpb.Cluster_ServiceDesc, &etcdserverpb.Maintenance_ServiceDesc, &etcdserverpb.Auth_ServiceDesc,
	}
	n := 0
	for _, d := range descs {
		msg := "cairn: the " + strings.TrimPrefix(d.ServiceName, "etcdserverpb.") + " service is not implemented yet"
		for _, m := range d.Methods {
			proc := "/" + d.ServiceName + "/" + m.MethodName
			n++
			err := cc.Invoke(ctx, proc, &emptypb.Empty{}, &emptypb.Empty{})
			wantCode(t, err, codes.Unimplemented, msg)
			_, err = connect.NewClient[emptypb.Empty, emptypb.Empty](h2c, "http://"+addr+proc).CallUnary(ctx, connect.NewRequest(&emptypb.Empty{}))
			wantCode(t, err, codes.Unimplemented, msg)
		}
		for _, sd := range d.Streams {
			proc := "/" + d.ServiceName + "/" + sd.StreamName
			n++
			gs, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: sd.ServerStreams, ClientStreams: sd.ClientStreams}, proc)
			if err != nil {
				t.Fatal(err)
			}
			if err := gs.SendMsg(&emptypb.Empty{}); err != nil {
				t.Fatal(err)
			}
			_ = gs.CloseSend()
			wantCode(t, gs.RecvMsg(&emptypb.Empty{}), codes.Unimplemented, msg)

			c := connect.NewClient[emptypb.Empty, emptypb.Empty](h2c, "http://"+addr+proc)
			if sd.ClientStreams {
				bs := c.CallBidiStream(ctx)
				_ = bs.Send(&emptypb.Empty{})
				_ = bs.CloseRequest()
				_, err = bs.Receive()
				_ = bs.CloseResponse()
			} else {
				ss, cerr := c.CallServerStream(ctx, connect.NewRequest(&emptypb.Empty{}))
				if cerr == nil {
					for ss.Receive() {
					}
					cerr = ss.Err()
					_ = ss.Close()
				}
				err = cerr
			}
			wantCode(t, err, codes.Unimplemented, msg)
		}
	}
	if n < 40 {
		t.Fatalf("called %d methods; the descriptors look wrong", n)
	}
}

func TestServerStreamBothTransports(t *testing.T) {
	_, addr := startServer(t, server.Services{KV: newFakeKV()}, nil)
	ctx := ctxT(t)

	check := func(t *testing.T, got []*etcdserverpb.RangeStreamResponse, want string) {
		t.Helper()
		if len(got) != 3 {
			t.Fatalf("got %d chunks, want 3", len(got))
		}
		for i, r := range got {
			kv := r.RangeResponse.Kvs[0]
			if string(kv.Key) != "k/"+string(rune('0'+i)) || string(kv.Value) != want {
				t.Errorf("chunk %d = %s=%s, want k/%d served by %s", i, kv.Key, kv.Value, i, want)
			}
		}
	}
	t.Run("grpc-go client", func(t *testing.T) {
		for _, key := range []string{"k", "err"} {
			st, err := etcdserverpb.NewKVClient(grpcConn(t, addr)).RangeStream(ctx, &etcdserverpb.RangeRequest{Key: []byte(key)})
			if err != nil {
				t.Fatal(err)
			}
			if hdr, err := st.Header(); err != nil || len(hdr.Get("x-cairn-version")) != 0 {
				t.Errorf("stream header x-cairn-version = %q (%v) on a gRPC stream", hdr.Get("x-cairn-version"), err)
			}
			var got []*etcdserverpb.RangeStreamResponse
			for {
				r, err := st.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					if key == "err" {
						wantCode(t, err, codes.OutOfRange, compacted)
						break
					}
					t.Fatal(err)
				}
				got = append(got, r)
			}
			if key == "k" {
				check(t, got, "grpc-go")
			} else if len(got) != 3 {
				t.Errorf("got %d chunks before the error, want 3", len(got))
			}
		}
	})
	for _, p := range connectProtocols {
		t.Run(p.name, func(t *testing.T) {
			c := etcdserverpbconnect.NewKVClient(httpClient(t, p.h2c), "http://"+addr, p.opts...)
			for _, key := range []string{"k", "err"} {
				st, err := c.RangeStream(ctx, &etcdserverpb.RangeRequest{Key: []byte(key)})
				if err != nil {
					t.Fatal(err)
				}
				var got []*etcdserverpb.RangeStreamResponse
				for st.Receive() {
					got = append(got, st.Msg())
				}
				if key == "k" {
					if err := st.Err(); err != nil {
						t.Fatal(err)
					}
					check(t, got, p.want)
				} else {
					wantCode(t, st.Err(), codes.OutOfRange, compacted)
					if len(got) != 3 {
						t.Errorf("got %d chunks before the error, want 3", len(got))
					}
				}
				_ = st.Close()
			}
		})
	}
}

func watchCreate(key string) *etcdserverpb.WatchRequest {
	return &etcdserverpb.WatchRequest{RequestUnion: &etcdserverpb.WatchRequest_CreateRequest{
		CreateRequest: &etcdserverpb.WatchCreateRequest{Key: []byte(key)},
	}}
}

func TestBidiStreamBothTransports(t *testing.T) {
	_, addr := startServer(t, server.Services{Watch: fakeWatch{}}, nil)
	ctx := ctxT(t)

	type bidi struct {
		send    func(*etcdserverpb.WatchRequest) error
		recv    func() (*etcdserverpb.WatchResponse, error)
		close   func() error
		serveBy string
	}
	clients := map[string]func(t *testing.T) bidi{
		"grpc-go client": func(t *testing.T) bidi {
			st, err := etcdserverpb.NewWatchClient(grpcConn(t, addr)).Watch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return bidi{st.Send, st.Recv, st.CloseSend, "grpc-go"}
		},
		"connect+proto/h2c": func(t *testing.T) bidi {
			st, err := etcdserverpbconnect.NewWatchClient(httpClient(t, true), "http://"+addr).Watch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.CloseResponse() })
			return bidi{st.Send, st.Receive, st.CloseRequest, "connect-go/connect"}
		},
		"grpc-web+json/h2c": func(t *testing.T) bidi {
			st, err := etcdserverpbconnect.NewWatchClient(httpClient(t, true), "http://"+addr, connect.WithGRPCWeb(), connect.WithProtoJSON()).Watch(ctx)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.CloseResponse() })
			return bidi{st.Send, st.Receive, st.CloseRequest, "connect-go/grpcweb"}
		},
	}
	for name, open := range clients {
		t.Run(name, func(t *testing.T) {
			b := open(t)
			for i, key := range []string{"a", "b"} {
				if err := b.send(watchCreate(key)); err != nil {
					t.Fatal(err)
				}
				r, err := b.recv()
				if err != nil {
					t.Fatal(err)
				}
				if r.WatchId != int64(i+1) || string(r.Events[0].Kv.Key) != key || r.CancelReason != b.serveBy {
					t.Fatalf("response %d = id %d key %s via %s, want id %d key %s via %s", i, r.WatchId, r.Events[0].Kv.Key, r.CancelReason, i+1, key, b.serveBy)
				}
			}
			if err := b.close(); err != nil {
				t.Fatal(err)
			}
			if _, err := b.recv(); !errors.Is(err, io.EOF) {
				t.Fatalf("after CloseSend: %v, want EOF", err)
			}

			b = open(t)
			if err := b.send(watchCreate("err")); err != nil {
				t.Fatal(err)
			}
			_, err := b.recv()
			wantCode(t, err, codes.OutOfRange, compacted)
		})
	}
}

// rawGET sends a curl-like HTTP/1.1 request on a fresh connection.
func rawGET(t *testing.T, addr, method, path string) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: "+addr+"\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestHealthEndpoints(t *testing.T) {
	var h healthToggle
	_, addr := startServer(t, server.Services{}, h.check)

	cases := []struct {
		name, method, path string
		fail               error
		code               int
		body               string
	}{
		{"health ok", "GET", "/health", nil, 200, `{"health":"true","reason":""}`},
		{"health failing", "GET", "/health", errors.New("RAFT NO LEADER"), 503, `{"health":"false","reason":"RAFT NO LEADER"}` + "\n"},
		{"health POST", "POST", "/health", nil, 405, "Method Not Allowed\n"},
		{"livez", "GET", "/livez", nil, 200, "ok\n"},
		{"livez while unhealthy", "GET", "/livez", errors.New("RAFT NO LEADER"), 200, "ok\n"},
		{"readyz", "GET", "/readyz", nil, 200, "ok\n"},
		{"readyz verbose", "GET", "/readyz?verbose", nil, 200, "[+]health ok\nok\n"},
		{"readyz failing", "GET", "/readyz", errors.New("RAFT NO LEADER"), 503, "[-]health failed: RAFT NO LEADER\n\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h.set(tc.fail)
			resp, body := rawGET(t, addr, tc.method, tc.path)
			if resp.StatusCode != tc.code || body != tc.body {
				t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, body, tc.code, tc.body)
			}
			if got := resp.Header.Get("X-Cairn-Version"); got != testVersion {
				t.Errorf("X-Cairn-Version = %q", got)
			}
		})
	}
}

func TestVersionEndpoint(t *testing.T) {
	_, addr := startServer(t, server.Services{}, nil)
	resp, body := rawGET(t, addr, "GET", "/version")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%q: %v", body, err)
	}
	want := map[string]string{"etcdserver": "3.6.8", "etcdcluster": "3.6.0", "storage": "3.6.0", "cairn": testVersion}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q (body %s)", k, got[k], v, body)
		}
	}
	// etcd's field order, for scripts that compare text.
	if !strings.HasPrefix(body, `{"etcdserver":"3.6.8","etcdcluster":"3.6.0","storage":"3.6.0"`) {
		t.Errorf("body %s", body)
	}
}

func TestMetricsEndpoint(t *testing.T) {
	_, addr := startServer(t, server.Services{KV: newFakeKV()}, nil)
	ctx := ctxT(t)
	if _, err := etcdserverpb.NewKVClient(grpcConn(t, addr)).Range(ctx, &etcdserverpb.RangeRequest{Key: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := etcdserverpbconnect.NewKVClient(httpClient(t, false), "http://"+addr).Range(ctx, &etcdserverpb.RangeRequest{Key: []byte("err")}); err == nil {
		t.Fatal("want an error")
	}
	resp, body := rawGET(t, addr, "GET", "/metrics")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("status %d, content-type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, series := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} `,
		`grpc_server_handled_total{grpc_code="OutOfRange",grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} `,
		`grpc_server_started_total{grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"} `,
		`grpc_server_msg_received_total{grpc_method="Range",grpc_service="etcdserverpb.KV",grpc_type="unary"} `,
		"go_goroutines ",
	} {
		i := strings.Index(body, series)
		if i < 0 {
			t.Errorf("no series %s", series)
			continue
		}
		if strings.HasPrefix(series, "grpc_server_handled_total") || strings.HasPrefix(series, "grpc_server_msg") {
			if v := strings.Fields(body[i+len(series):])[0]; v == "0" {
				t.Errorf("%s is 0", series)
			}
		}
	}
}

func TestGRPCHealthAndReflection(t *testing.T) {
	var h healthToggle
	_, addr := startServer(t, server.Services{}, h.check)
	ctx := ctxT(t)
	cc := grpcConn(t, addr)

	hc := healthpb.NewHealthClient(cc)
	for _, fail := range []error{nil, errors.New("no leader"), nil} {
		h.set(fail)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		want := healthpb.HealthCheckResponse_SERVING
		if fail != nil {
			want = healthpb.HealthCheckResponse_NOT_SERVING
		}
		if resp.Status != want {
			t.Errorf("health with %v = %v, want %v", fail, resp.Status, want)
		}
	}

	rc, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, s := range resp.GetListServicesResponse().GetService() {
		names[s.Name] = true
	}
	for _, want := range []string{"etcdserverpb.KV", "etcdserverpb.Watch", "etcdserverpb.Lease", "etcdserverpb.Cluster", "etcdserverpb.Maintenance", "etcdserverpb.Auth", "grpc.health.v1.Health"} {
		if !names[want] {
			t.Errorf("reflection does not list %s (got %v)", want, names)
		}
	}
}

func TestMessageSizeCap(t *testing.T) {
	const maxReq = 1024
	_, addr := startServer(t, server.Services{KV: newFakeKV()}, nil, func(c *server.Config) { c.MaxRequestBytes = maxReq })
	ctx := ctxT(t)
	small := make([]byte, 256<<10)          // under 1 KiB + 512 KiB
	large := make([]byte, maxReq+512<<10+1) // over, by the value alone

	kv := etcdserverpb.NewKVClient(grpcConn(t, addr))
	if resp, err := kv.Put(ctx, &etcdserverpb.PutRequest{Key: []byte("k"), Value: small}); err != nil || resp.Header.Revision != int64(len(small)) {
		t.Fatalf("grpc small put: %v %v", resp, err)
	}
	_, err := kv.Put(ctx, &etcdserverpb.PutRequest{Key: []byte("k"), Value: large})
	if got := codeOf(err); got != codes.ResourceExhausted {
		t.Errorf("grpc large put: %v, want ResourceExhausted", err)
	}
	for _, p := range connectProtocols {
		t.Run(p.name, func(t *testing.T) {
			c := etcdserverpbconnect.NewKVClient(httpClient(t, p.h2c), "http://"+addr, p.opts...)
			if _, err := c.Put(ctx, &etcdserverpb.PutRequest{Key: []byte("k"), Value: small}); err != nil {
				t.Fatalf("small put: %v", err)
			}
			_, err := c.Put(ctx, &etcdserverpb.PutRequest{Key: []byte("k"), Value: large})
			if got := codeOf(err); got != codes.ResourceExhausted {
				t.Errorf("large put: %v, want ResourceExhausted", err)
			}
		})
	}
}

func TestStopWaitsForInFlightUnaryThenRefuses(t *testing.T) {
	kv := newFakeKV()
	s, addr := startServer(t, server.Services{KV: kv}, nil)
	ctx := ctxT(t)

	type result struct {
		resp *etcdserverpb.RangeResponse
		err  error
	}
	grpcKV := etcdserverpb.NewKVClient(grpcConn(t, addr))
	connectKV := etcdserverpbconnect.NewKVClient(httpClient(t, false), "http://"+addr)
	results := make(chan result, 2)
	for _, call := range []func(context.Context, *etcdserverpb.RangeRequest) (*etcdserverpb.RangeResponse, error){
		func(ctx context.Context, r *etcdserverpb.RangeRequest) (*etcdserverpb.RangeResponse, error) {
			return grpcKV.Range(ctx, r)
		},
		connectKV.Range,
	} {
		go func() {
			resp, err := call(ctx, &etcdserverpb.RangeRequest{Key: []byte("block")})
			results <- result{resp, err}
		}()
	}
	served := map[string]bool{<-kv.started: true, <-kv.started: true}
	if !served["grpc-go"] || !served["connect-go/connect"] {
		t.Fatalf("in-flight calls on %v", served)
	}

	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(ctx) }()

	// New connections are refused once Stop has closed the listener.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("still accepting connections after Stop")
		}
		time.Sleep(5 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while calls were in flight", err)
	case r := <-results:
		t.Fatalf("a blocked call returned early: %v %v", r.resp, r.err)
	default:
	}

	close(kv.release)
	for range 2 {
		r := <-results
		if r.err != nil {
			t.Errorf("in-flight call failed: %v", r.err)
		} else if string(r.resp.Kvs[0].Key) != "block" {
			t.Errorf("in-flight call answered %v", r.resp)
		}
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("dial succeeded after Stop")
	}
}

func TestStopEndsStreamsAtDeadline(t *testing.T) {
	s, addr := startServer(t, server.Services{Watch: fakeWatch{}}, nil)
	ctx := ctxT(t)

	gw, err := etcdserverpb.NewWatchClient(grpcConn(t, addr)).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cw, err := etcdserverpbconnect.NewWatchClient(httpClient(t, true), "http://"+addr).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cw.CloseResponse()
	// Both streams are established in their cores.
	if err := gw.Send(watchCreate("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := gw.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := cw.Send(watchCreate("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := cw.Receive(); err != nil {
		t.Fatal(err)
	}

	stopCtx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := s.Stop(stopCtx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Stop took %v with a 200ms deadline", d)
	}
	if _, err := gw.Recv(); codeOf(err) != codes.Unavailable {
		t.Errorf("grpc watch after Stop: %v, want Unavailable", err)
	}
	if _, err := cw.Receive(); err == nil {
		t.Error("connect watch still open after Stop")
	}
}

func TestListenersAddrsAndReadyLog(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	sock := filepath.Join(t.TempDir(), "client.sock")
	cfg := server.Config{ListenClientURLs: []url.URL{
		loopbackURL(), loopbackURL(), {Scheme: "unix", Path: sock},
	}}
	s, err := server.New(cfg, zap.New(core), server.Services{KV: newFakeKV()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.Addrs() != nil {
		t.Errorf("Addrs before Start = %v", s.Addrs())
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(context.Background())

	addrs := s.Addrs()
	if len(addrs) != 3 || addrs[0].String() == addrs[1].String() || addrs[2].String() != sock {
		t.Fatalf("Addrs = %v", addrs)
	}
	ctx := ctxT(t)
	for _, target := range []string{addrs[0].String(), addrs[1].String(), "unix://" + sock} {
		if port := strings.TrimPrefix(target, "127.0.0.1:"); port == "0" {
			t.Errorf("unbound port in %s", target)
		}
		if _, err := etcdserverpb.NewKVClient(grpcConn(t, target)).Range(ctx, &etcdserverpb.RangeRequest{Key: []byte("a")}); err != nil {
			t.Errorf("Range via %s: %v", target, err)
		}
	}
	ready := logs.FilterMessage("ready to serve client requests").All()
	if len(ready) != 3 {
		t.Fatalf("%d ready lines, want 3 (one per listener)", len(ready))
	}
	for i, e := range ready {
		if e.Level != zapcore.InfoLevel || e.ContextMap()["address"] != addrs[i].String() {
			t.Errorf("ready line %d: %v %v", i, e.Level, e.ContextMap())
		}
	}
}

func TestNewRejectsUnsupportedURLs(t *testing.T) {
	for _, u := range []url.URL{
		{Scheme: "https", Host: "127.0.0.1:0"},
		{Scheme: "unixs", Host: "sock"},
		{Scheme: "ftp", Host: "127.0.0.1:0"},
		{Scheme: "http", Host: "127.0.0.1:0", Path: "/x"},
	} {
		if _, err := server.New(server.Config{ListenClientURLs: []url.URL{u}}, nil, server.Services{}, nil); err == nil {
			t.Errorf("New accepted %s", u.String())
		} else if u.Scheme == "https" && !strings.Contains(err.Error(), "not supported yet") {
			t.Errorf("https error %q does not say TLS is not supported yet", err)
		}
	}
	if _, err := server.New(server.Config{}, nil, server.Services{}, nil); err == nil {
		t.Error("New accepted no listen URLs")
	}
}

func TestFxModule(t *testing.T) {
	var s *server.Server
	app := fxtest.New(t,
		fx.Supply(server.Config{ListenClientURLs: []url.URL{loopbackURL()}}),
		fx.Supply(zap.NewNop()),
		server.Module,
		fx.Populate(&s),
	)
	app.RequireStart()
	addr := s.Addrs()[0].String()
	_, err := etcdserverpb.NewKVClient(grpcConn(t, addr)).Range(ctxT(t), &etcdserverpb.RangeRequest{Key: []byte("a")})
	wantCode(t, err, codes.Unimplemented, "cairn: the KV service is not implemented yet")
	app.RequireStop()
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Fatal("still listening after the app stopped")
	}
}

// The Config.Interceptors seam runs on both transports, inside Cairn's own
// interceptors.
func TestInterceptorSeam(t *testing.T) {
	var grpcCalls, connectCalls []string
	var mu sync.Mutex
	record := func(list *[]string, method string) {
		mu.Lock()
		defer mu.Unlock()
		*list = append(*list, method)
	}
	_, addr := startServer(t, server.Services{KV: newFakeKV(), Watch: fakeWatch{}}, nil, func(c *server.Config) {
		c.Interceptors.Unary = []grpc.UnaryServerInterceptor{func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			record(&grpcCalls, info.FullMethod)
			return h(ctx, req)
		}}
		c.Interceptors.Stream = []grpc.StreamServerInterceptor{func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			record(&grpcCalls, info.FullMethod)
			return h(srv, ss)
		}}
		c.Interceptors.Connect = []connect.Interceptor{connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
			return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				record(&connectCalls, req.Spec().Procedure)
				return next(ctx, req)
			}
		})}
	})
	ctx := ctxT(t)
	if _, err := etcdserverpb.NewKVClient(grpcConn(t, addr)).Range(ctx, &etcdserverpb.RangeRequest{Key: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	w, err := etcdserverpb.NewWatchClient(grpcConn(t, addr)).Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = w.CloseSend()
	if _, err := w.Recv(); err != io.EOF {
		t.Fatalf("watch: %v", err)
	}
	if _, err := etcdserverpbconnect.NewKVClient(httpClient(t, false), "http://"+addr).Range(ctx, &etcdserverpb.RangeRequest{Key: []byte("a")}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(grpcCalls, ",") != "/etcdserverpb.KV/Range,/etcdserverpb.Watch/Watch" {
		t.Errorf("grpc interceptors saw %v", grpcCalls)
	}
	if strings.Join(connectCalls, ",") != "/etcdserverpb.KV/Range" {
		t.Errorf("connect interceptors saw %v", connectCalls)
	}
}

// TestNoBDPPings: the gRPC port has static receive windows, a stream's
// large enough for the largest request, so grpc-go sends no BDP PING (nor a
// WINDOW_UPDATE) in answer to a request's DATA: one write fewer per request.
func TestNoBDPPings(t *testing.T) {
	_, addr := startServer(t, server.Services{KV: newFakeKV()}, nil)
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write([]byte(http2.ClientPreface)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var hbuf bytes.Buffer
	enc := hpack.NewEncoder(&hbuf)
	for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/etcdserverpb.KV/Range"},
		{":authority", addr}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hbuf.Bytes(), EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
	msg, _ := proto.Marshal(&etcdserverpb.RangeRequest{Key: []byte("a")})
	body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(msg)))
	if err := fr.WriteData(1, true, append(body, msg...)); err != nil {
		t.Fatal(err)
	}
	wantWindow := uint32(server.DefaultMaxRequestBytes + 512<<10)
	sawWindow := false
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Fatalf("before the response's trailers: %v", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			// The port's protocol sniffer sends an empty SETTINGS first
			// (split.go), then grpc-go its own.
			if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
				sawWindow = true
				if v != wantWindow {
					t.Errorf("SETTINGS_INITIAL_WINDOW_SIZE = %d, want %d", v, wantWindow)
				}
			}
			_ = fr.WriteSettingsAck()
		case *http2.PingFrame:
			if !f.IsAck() {
				t.Errorf("the server sent a PING (a BDP estimate) during a request")
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID != 0 { // stream 0's raises the connection window once
				t.Errorf("WINDOW_UPDATE for stream %d after a %d-byte request", f.StreamID, len(body))
			}
		case *http2.HeadersFrame:
			if f.StreamID == 1 && f.StreamEnded() {
				if !sawWindow {
					t.Error("no SETTINGS_INITIAL_WINDOW_SIZE from the server")
				}
				return
			}
		}
	}
}
