// Package server owns Cairn's client listeners: one port per listen URL that
// serves the six etcd v3 services over the gRPC protocol through grpc-go's own
// transport, and over gRPC-Web and Connect (JSON or binary, HTTP/1.1 or h2c)
// through connect-go on net/http, together with /health, /livez, /readyz,
// /version, /metrics, gRPC health checking and server reflection.
//
// The split is made once per connection (cmux-style, see split.go): an HTTP/2
// connection whose first request has content-type application/grpc goes to
// grpc-go's Server.Serve, everything else to net/http. grpc-go's transport costs
// about a third of net/http's per small call (DESIGN.md, "Serving"), and the
// clients that matter for throughput (clientv3, etcdctl, kube-apiserver) speak
// gRPC.
//
// Service logic lives in the service modules; this package only adapts
// transports to their grpc-go server interfaces.
package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

const (
	// DefaultMaxRequestBytes is etcd's --max-request-bytes default (1.5 MiB).
	DefaultMaxRequestBytes = 1536 * 1024
	// grpcOverheadBytes is etcd's allowance for gRPC framing on top of
	// --max-request-bytes (embed.Config.MaxRequestBytesWithOverhead).
	grpcOverheadBytes = 512 * 1024
	// DefaultNumStreamWorkers is the grpc-go stream worker pool size used when
	// Config.NumStreamWorkers is 0. Measured (PERF-NOTES.md): with 100
	// concurrent streams, 256 workers cut copystack from ~28% to ~5% of CPU;
	// GOMAXPROCS workers did nothing.
	DefaultNumStreamWorkers = 256
	// connWindowBytes is the HTTP/2 receive window of a gRPC connection:
	// grpc-go's largest dynamic one (its BDP estimator's limit).
	connWindowBytes = 16 << 20
	// DefaultEtcdVersion is reported as "etcdserver" in /version when
	// Config.EtcdVersion is empty.
	DefaultEtcdVersion = "3.6.0"

	// versionHeader is set on every HTTP response (Connect, gRPC-Web,
	// /version, /metrics, ...), not on grpc-go's.
	versionHeader = "X-Cairn-Version"
	// readHeaderTimeout bounds HTTP/1.1 request header reads only; net/http
	// clears it for h2c connections, and it never applies to bodies, so it
	// cannot cut a stream.
	readHeaderTimeout = 30 * time.Second
)

// Services are the six service cores, each implementing the grpc-go server
// interface. A nil service is served by a stub whose every RPC answers
// codes.Unimplemented with a clear message, e.g. "cairn: the Lease service is
// not implemented yet".
type Services struct {
	KV          etcdserverpb.KVServer
	Watch       etcdserverpb.WatchServer
	Lease       etcdserverpb.LeaseServer
	Cluster     etcdserverpb.ClusterServer
	Maintenance etcdserverpb.MaintenanceServer
	Auth        etcdserverpb.AuthServer
}

// Config configures the client listeners.
type Config struct {
	// ListenClientURLs are the addresses to serve, http://host:port (cleartext:
	// HTTP/1.1 and h2c) or unix://path. https and unixs are not supported yet.
	ListenClientURLs []url.URL
	// MaxRequestBytes is etcd's --max-request-bytes (0 → 1.5 MiB). Each
	// transport rejects a message larger than MaxRequestBytes + 512 KiB with
	// ResourceExhausted; the "request is too large" check on key+value belongs
	// to the services, as in etcd.
	MaxRequestBytes uint
	// MaxConcurrentStreams per connection, on both transports
	// (0 → math.MaxUint32, etcd's default: clientv3 multiplexes everything
	// over one connection).
	MaxConcurrentStreams uint32
	// NumStreamWorkers is grpc-go's stream worker pool size
	// (0 → DefaultNumStreamWorkers).
	NumStreamWorkers uint32
	// Version is Cairn's version, for /version and the X-Cairn-Version header.
	Version string
	// EtcdVersion is reported as "etcdserver" in /version (e.g. "3.6.8").
	EtcdVersion string
	// EnablePprof serves Go's runtime profiles under /debug/pprof/ (etcd's
	// --enable-pprof).
	EnablePprof bool
	// Interceptors are code, not flags: the seam for auth, require-leader and
	// logging. They run after Cairn's built-in ones (metrics, error mapping),
	// in order.
	Interceptors Interceptors
}

// Interceptors are extra interceptors per transport. A cross-cutting concern
// (auth token, hasleader) must be given for both: grpc-go serves the gRPC
// protocol, connect-go serves Connect and gRPC-Web.
type Interceptors struct {
	Unary   []grpc.UnaryServerInterceptor
	Stream  []grpc.StreamServerInterceptor
	Connect []connect.Interceptor
}

// HealthFunc reports whether the member can serve (nil = healthy); /health,
// /readyz and the gRPC health service use it.
type HealthFunc func(ctx context.Context) error

// MaxRecvBytes is the largest message a transport takes for a
// --max-request-bytes of maxRequestBytes: etcd's allowance for gRPC framing
// on top.
func MaxRecvBytes(maxRequestBytes uint) uint64 {
	return uint64(maxRequestBytes) + grpcOverheadBytes
}

// TransportOptions are the grpc-go options that shape what the client port's
// transport costs per request (New adds the codec, limits, keepalive policy
// and interceptors). tools/floor serves with them too, so that its floor is
// measured on Cairn's transport.
func TransportOptions(maxRecv int, streamWorkers uint32) []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(maxRecv),
		grpc.MaxSendMsgSize(math.MaxInt32),
		grpc.NumStreamWorkers(streamWorkers),
		// Static receive windows, so grpc-go runs no BDP estimator: it
		// sent the client a PING (and a WINDOW_UPDATE) after the first DATA
		// frame of each round trip, one more write and wake-up per request
		// for a client with one request at a time (one-client puts +5%
		// without them). A stream's window takes a whole request of the
		// largest size; a connection's is the estimator's limit.
		grpc.InitialWindowSize(int32(maxRecv)),
		grpc.InitialConnWindowSize(int32(max(maxRecv, connWindowBytes))),
		// Stop waits for handlers to return, so nothing below the server
		// (raft, mvcc, pebble) is closed under a running handler.
		grpc.WaitForHandlers(true),
	}
}

// Server is the set of client listeners.
type Server struct {
	cfg       Config
	log       *zap.Logger
	grpc      *grpc.Server
	healthSrv *grpcHealth
	http      *http.Server
	headerVal []string // X-Cairn-Version value, len == cap so appends copy

	specs []listenSpec

	mu        sync.Mutex
	started   bool
	stopped   bool
	listeners []*clientListener
	sniffing  map[net.Conn]struct{} // accepted, protocol not decided yet
	loops     sync.WaitGroup        // accept loops, sniffers and Serve calls
}

// listenSpec is one parsed listen URL.
type listenSpec struct {
	url     url.URL
	network string // "tcp" or "unix"
	address string
	// A TLS listener will carry a *tls.Config here; the acceptor would
	// complete the handshake before sniffing (and hand grpc-go the TLS state
	// through a credentials shim). Not supported yet: parseListenURL rejects it.
}

// New builds the server; nothing listens until Start.
func New(cfg Config, log *zap.Logger, svc Services, health HealthFunc) (*Server, error) {
	if log == nil {
		log = zap.NewNop()
	}
	if health == nil {
		health = func(context.Context) error { return nil }
	}
	if len(cfg.ListenClientURLs) == 0 {
		return nil, errors.New("server: no listen client URLs")
	}
	specs := make([]listenSpec, 0, len(cfg.ListenClientURLs))
	for _, u := range cfg.ListenClientURLs {
		sp, err := parseListenURL(u)
		if err != nil {
			return nil, err
		}
		specs = append(specs, sp)
	}
	if cfg.MaxRequestBytes == 0 {
		cfg.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if cfg.MaxConcurrentStreams == 0 {
		cfg.MaxConcurrentStreams = math.MaxUint32
	}
	if cfg.NumStreamWorkers == 0 {
		cfg.NumStreamWorkers = DefaultNumStreamWorkers
	}
	if cfg.Version == "" {
		cfg.Version = "unknown"
	}
	if cfg.EtcdVersion == "" {
		cfg.EtcdVersion = DefaultEtcdVersion
	}
	maxRecv := MaxRecvBytes(cfg.MaxRequestBytes)
	if maxRecv > math.MaxInt32 {
		return nil, fmt.Errorf("server: max request bytes %d too large", cfg.MaxRequestBytes)
	}
	svc = svc.withStubs()

	s := &Server{
		cfg:       cfg,
		log:       log,
		headerVal: []string{cfg.Version},
		specs:     specs,
		sniffing:  make(map[net.Conn]struct{}),
	}

	s.grpc = grpc.NewServer(append(TransportOptions(int(maxRecv), cfg.NumStreamWorkers),
		// The proto codec, with a fast path for messages that carry their
		// encoding (watch responses; see codec). Clients speak only proto.
		grpc.ForceServerCodecV2(newCodec()),
		grpc.MaxConcurrentStreams(cfg.MaxConcurrentStreams),
		// etcd's --grpc-keepalive-min-time default.
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
			MinTime:             5 * time.Second,
			PermitWithoutStream: false, // as etcd 3.6
		}),
		// KeepaliveParams stay grpc-go's defaults (2h / 20s), which are etcd's.
		grpc.ChainUnaryInterceptor(append([]grpc.UnaryServerInterceptor{s.unaryInterceptor}, cfg.Interceptors.Unary...)...),
		grpc.ChainStreamInterceptor(append([]grpc.StreamServerInterceptor{s.streamInterceptor}, cfg.Interceptors.Stream...)...),
	)...)
	etcdserverpb.RegisterKVServer(s.grpc, svc.KV)
	etcdserverpb.RegisterWatchServer(s.grpc, svc.Watch)
	etcdserverpb.RegisterLeaseServer(s.grpc, svc.Lease)
	etcdserverpb.RegisterClusterServer(s.grpc, svc.Cluster)
	etcdserverpb.RegisterMaintenanceServer(s.grpc, svc.Maintenance)
	etcdserverpb.RegisterAuthServer(s.grpc, svc.Auth)
	s.healthSrv = newGRPCHealth(health)
	healthpb.RegisterHealthServer(s.grpc, s.healthSrv)
	reflection.Register(s.grpc)
	initMetrics(s.grpc.GetServiceInfo())

	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	errLog, err := zap.NewStdLogAt(log.Named("http"), zap.WarnLevel)
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:   s.withVersionHeader(s.httpMux(svc, int(maxRecv))),
		Protocols: &protocols,
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams: int(cfg.MaxConcurrentStreams),
		},
		// No ReadTimeout, WriteTimeout or IdleTimeout: they end Watch and
		// LeaseKeepAlive streams (DESIGN.md, "Serving").
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          errLog,
	}
	return s, nil
}

func parseListenURL(u url.URL) (listenSpec, error) {
	switch u.Scheme {
	case "http":
		if u.Host == "" {
			return listenSpec{}, fmt.Errorf("server: listen URL %q has no host:port", u.String())
		}
		if u.Path != "" && u.Path != "/" {
			return listenSpec{}, fmt.Errorf("server: listen URL %q must not have a path", u.String())
		}
		return listenSpec{url: u, network: "tcp", address: u.Host}, nil
	case "unix":
		// etcd's form: unix://host:port names a socket file "host:port".
		addr := u.Host + u.Path
		if addr == "" {
			return listenSpec{}, fmt.Errorf("server: listen URL %q has no socket path", u.String())
		}
		return listenSpec{url: u, network: "unix", address: addr}, nil
	case "https", "unixs":
		return listenSpec{}, fmt.Errorf("server: listen URL %q: TLS client listeners are not supported yet", u.String())
	default:
		return listenSpec{}, fmt.Errorf("server: listen URL %q: unsupported scheme %q (want http or unix)", u.String(), u.Scheme)
	}
}

// Start opens the listeners and serves in the background; it returns once
// they accept. It logs "ready to serve client requests" for each listener.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return errors.New("server: Start after Stop")
	}
	if s.started {
		return errors.New("server: already started")
	}
	var ls []*clientListener
	for _, sp := range s.specs {
		raw, err := net.Listen(sp.network, sp.address)
		if err != nil {
			for _, l := range ls {
				_ = l.raw.Close()
			}
			return fmt.Errorf("server: listen on %s: %w", sp.url.String(), err)
		}
		ls = append(ls, newClientListener(sp, raw))
	}
	s.started = true
	s.listeners = ls
	for _, l := range ls {
		s.loops.Add(3)
		go func() {
			defer s.loops.Done()
			if err := s.grpc.Serve(l.grpc); err != nil && !errors.Is(err, net.ErrClosed) && !errors.Is(err, grpc.ErrServerStopped) {
				s.log.Error("grpc server stopped", zap.String("address", l.spec.url.String()), zap.Error(err))
			}
		}()
		go func() {
			defer s.loops.Done()
			if err := s.http.Serve(l.http); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				s.log.Error("http server stopped", zap.String("address", l.spec.url.String()), zap.Error(err))
			}
		}()
		go func() {
			defer s.loops.Done()
			s.acceptLoop(l)
		}()
		// etcd's exact text: harnesses and operators wait for it.
		s.log.Info("ready to serve client requests",
			zap.String("address", l.raw.Addr().String()),
			zap.String("url", l.spec.url.String()),
			zap.Strings("protocols", []string{"grpc", "grpc-web", "connect"}),
		)
	}
	return nil
}

// Addrs returns the bound addresses (useful with port 0), in the order of
// Config.ListenClientURLs; nil before Start.
func (s *Server) Addrs() []net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	addrs := make([]net.Addr, 0, len(s.listeners))
	for _, l := range s.listeners {
		addrs = append(addrs, l.raw.Addr())
	}
	if len(addrs) == 0 {
		return nil
	}
	return addrs
}

// Stop stops accepting, lets in-flight calls finish (grpc GracefulStop,
// http.Server.Shutdown) until ctx is done, then closes everything: long-lived
// streams (Watch, LeaseKeepAlive) never finish by themselves, so they are ended
// then, and gRPC clients see Unavailable. Stop returns nil in both cases; a
// second Stop is a no-op.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return nil
	}
	s.stopped = true
	ls := s.listeners
	for _, l := range ls {
		_ = l.raw.Close()
	}
	for c := range s.sniffing {
		_ = c.Close()
	}
	s.mu.Unlock()

	s.healthSrv.Shutdown() // watchers of grpc health see NOT_SERVING

	grpcDone := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(grpcDone)
	}()
	forced := false
	if err := s.http.Shutdown(ctx); err != nil {
		forced = true
		_ = s.http.Close()
	}
	select {
	case <-grpcDone:
	case <-ctx.Done():
		forced = true
		s.grpc.Stop()
		<-grpcDone
	}
	for _, l := range ls {
		l.close()
	}
	s.loops.Wait()
	if forced {
		s.log.Info("closed remaining client connections and streams at shutdown deadline")
	}
	s.log.Info("stopped serving client requests")
	return nil
}
