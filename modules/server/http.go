package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/pprof"
	"strings"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// httpMux serves connect-go's six services and etcd's HTTP endpoints.
func (s *Server) httpMux(svc Services, maxRecv int) http.Handler {
	mux := http.NewServeMux()
	connectHandlers(mux, svc,
		connect.WithReadMaxBytes(maxRecv),
		connect.WithInterceptors(append([]connect.Interceptor{connectInterceptor{}}, s.cfg.Interceptors.Connect...)...),
	)
	mux.HandleFunc("/health", s.serveHealth)
	mux.HandleFunc("/livez", s.serveLivez)
	mux.HandleFunc("/readyz", s.serveReadyz)
	mux.Handle("/version", versionHandler(s.cfg.Version, s.cfg.EtcdVersion))
	mux.Handle("/metrics", promhttp.Handler())
	if s.cfg.EnablePprof {
		// etcd's --enable-pprof: the runtime profiles under /debug/pprof/.
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (s *Server) withVersionHeader(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header()[versionHeader] = s.headerVal
		h.ServeHTTP(w, r)
	})
}

// checkHealth runs the HealthFunc and publishes the result to gRPC health
// watchers.
func (s *Server) checkHealth(ctx context.Context) error { return s.healthSrv.update(ctx) }

func allowGET(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", http.MethodGet)
	http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	return false
}

// serveHealth is etcd's /health: 200 {"health":"true","reason":""}, or 503
// with health "false" and the reason, written exactly as etcd writes them.
func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	if !allowGET(w, r) {
		return
	}
	h := struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}{Health: "true"}
	if err := s.checkHealth(r.Context()); err != nil {
		h.Health, h.Reason = "false", err.Error()
	}
	d, _ := json.Marshal(h)
	if h.Health != "true" {
		http.Error(w, string(d), http.StatusServiceUnavailable)
		s.log.Warn("/health error", zap.String("output", string(d)))
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(d)
}

// serveLivez is etcd's /livez: the process is up and serving HTTP.
func (s *Server) serveLivez(w http.ResponseWriter, r *http.Request) {
	if !allowGET(w, r) {
		return
	}
	writeChecks(w, r, nil)
}

// serveReadyz is etcd's /readyz (k8s-style check list) with one check,
// "health", that runs the HealthFunc.
func (s *Server) serveReadyz(w http.ResponseWriter, r *http.Request) {
	if !allowGET(w, r) {
		return
	}
	writeChecks(w, r, []check{{name: "health", err: s.checkHealth(r.Context())}})
}

type check struct {
	name string
	err  error
}

// writeChecks writes etcd's healthz format: "ok\n" (with ?verbose, each check
// first), or 503 listing every check when one failed.
func writeChecks(w http.ResponseWriter, r *http.Request, checks []check) {
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if c.err != nil {
			failed = true
			fmt.Fprintf(&b, "[-]%s failed: %v\n", c.name, c.err)
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", c.name)
		}
	}
	if failed {
		http.Error(w, b.String(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, verbose := r.URL.Query()["verbose"]; verbose {
		_, _ = fmt.Fprint(w, b.String())
	}
	_, _ = fmt.Fprint(w, "ok\n")
}

// versionHandler serves etcd's /version JSON plus Cairn's own version:
// {"etcdserver":"3.6.8","etcdcluster":"3.6.0","storage":"3.6.0","cairn":"…"}.
func versionHandler(cairn, etcd string) http.Handler {
	major := etcd
	if parts := strings.SplitN(etcd, ".", 3); len(parts) >= 2 {
		major = parts[0] + "." + parts[1] + ".0"
	}
	body, _ := json.Marshal(struct {
		Server  string `json:"etcdserver"`
		Cluster string `json:"etcdcluster"`
		Storage string `json:"storage"`
		Cairn   string `json:"cairn"`
	}{etcd, major, major, cairn})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowGET(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// grpcHealth is grpc.health.v1.Health. Check of the server as a whole
// (service "") runs the HealthFunc on every call; Watch and List come from
// grpc-go's health.Server and see the status of the latest check (any of
// /health, /readyz or Check), and NOT_SERVING once Stop began.
type grpcHealth struct {
	*health.Server
	check HealthFunc
}

func newGRPCHealth(check HealthFunc) *grpcHealth {
	return &grpcHealth{Server: health.NewServer(), check: check}
}

func (h *grpcHealth) Check(ctx context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if req.GetService() == "" {
		_ = h.update(ctx)
	}
	return h.Server.Check(ctx, req)
}

// update runs the check and records its result (ignored after Shutdown).
func (h *grpcHealth) update(ctx context.Context) error {
	err := h.check(ctx)
	st := healthpb.HealthCheckResponse_SERVING
	if err != nil {
		st = healthpb.HealthCheckResponse_NOT_SERVING
	}
	h.Server.SetServingStatus("", st)
	return err
}
