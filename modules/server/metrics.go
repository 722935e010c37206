package server

import (
	"errors"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// RPC metrics under etcd's names (go-grpc-prometheus, which etcd registers):
// grpc_server_started_total, grpc_server_handled_total,
// grpc_server_msg_received_total and grpc_server_msg_sent_total, with the same
// labels. Calls over Connect and gRPC-Web count too: they are the same RPCs.
// Counters are resolved once per method, so a call costs a map lookup and
// atomic adds.

const (
	typeUnary        = "unary"
	typeClientStream = "client_stream"
	typeServerStream = "server_stream"
	typeBidiStream   = "bidi_stream"
)

var (
	metricsOnce  sync.Once
	startedVec   *prometheus.CounterVec
	handledVec   *prometheus.CounterVec
	msgRecvVec   *prometheus.CounterVec
	msgSentVec   *prometheus.CounterVec
	methodsCache sync.Map // full method name → *methodMetrics
)

func registerMetrics() {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	startedVec = registerCounterVec(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grpc_server_started_total",
		Help: "Total number of RPCs started on the server.",
	}, labels))
	handledVec = registerCounterVec(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grpc_server_handled_total",
		Help: "Total number of RPCs completed on the server, regardless of success or failure.",
	}, append(labels[:3:3], "grpc_code")))
	msgRecvVec = registerCounterVec(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grpc_server_msg_received_total",
		Help: "Total number of RPC stream messages received on the server.",
	}, labels))
	msgSentVec = registerCounterVec(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "grpc_server_msg_sent_total",
		Help: "Total number of gRPC stream messages sent by the server.",
	}, labels))
}

// registerCounterVec registers v in the default registry, or returns the
// identical collector already there (another Server in the same process).
func registerCounterVec(v *prometheus.CounterVec) *prometheus.CounterVec {
	if err := prometheus.Register(v); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
				return existing
			}
		}
	}
	return v
}

// initMetrics registers the metrics (once per process) and creates every
// method's series up front, as go-grpc-prometheus does, so that dashboards see
// zeros rather than missing series.
func initMetrics(services map[string]grpc.ServiceInfo) {
	metricsOnce.Do(registerMetrics)
	for svc, info := range services {
		for _, m := range info.Methods {
			typ := typeUnary
			switch {
			case m.IsClientStream && m.IsServerStream:
				typ = typeBidiStream
			case m.IsClientStream:
				typ = typeClientStream
			case m.IsServerStream:
				typ = typeServerStream
			}
			methodMetricsFor("/"+svc+"/"+m.Name, typ)
		}
	}
}

type methodMetrics struct {
	typ, service, method string
	started, received    prometheus.Counter
	sent                 prometheus.Counter
	handled              [codes.Unauthenticated + 1]prometheus.Counter
}

func methodMetricsFor(fullMethod, typ string) *methodMetrics {
	if m, ok := methodsCache.Load(fullMethod); ok {
		return m.(*methodMetrics)
	}
	service, method := splitFullMethod(fullMethod)
	m := &methodMetrics{
		typ:      typ,
		service:  service,
		method:   method,
		started:  startedVec.WithLabelValues(typ, service, method),
		received: msgRecvVec.WithLabelValues(typ, service, method),
		sent:     msgSentVec.WithLabelValues(typ, service, method),
	}
	for c := range m.handled {
		m.handled[c] = handledVec.WithLabelValues(typ, service, method, codes.Code(c).String())
	}
	actual, _ := methodsCache.LoadOrStore(fullMethod, m)
	return actual.(*methodMetrics)
}

func (m *methodMetrics) done(c codes.Code) {
	if int(c) < len(m.handled) {
		m.handled[c].Inc()
		return
	}
	handledVec.WithLabelValues(m.typ, m.service, m.method, c.String()).Inc()
}

func splitFullMethod(full string) (service, method string) {
	full = strings.TrimPrefix(full, "/")
	if i := strings.LastIndexByte(full, '/'); i >= 0 {
		return full[:i], full[i+1:]
	}
	return "unknown", full
}

func connectStreamType(t connect.StreamType) string {
	switch t {
	case connect.StreamTypeClient:
		return typeClientStream
	case connect.StreamTypeServer:
		return typeServerStream
	case connect.StreamTypeBidi:
		return typeBidiStream
	default:
		return typeUnary
	}
}
