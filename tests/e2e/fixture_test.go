package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/protoadapt"
)

const stepTimeout = 15 * time.Second

// fixture runs one scenario on etcd and cairn side by side: every step runs on
// each server in turn (etcd first) and their answers must be equal once the
// header's cluster_id, member_id and raft_term are masked.
type fixture struct {
	t       *testing.T
	servers []*server // etcd first
}

type fixtureCfg struct {
	flags []string
	env   []string
	kinds []kind
}

type fixtureOpt func(*fixtureCfg)

// withFlags passes the same extra flags to both servers.
func withFlags(f ...string) fixtureOpt {
	return func(c *fixtureCfg) { c.flags = append(c.flags, f...) }
}

// withEnv adds NAME=value variables to both servers' environment.
func withEnv(kv ...string) fixtureOpt {
	return func(c *fixtureCfg) { c.env = append(c.env, kv...) }
}

// cairnOnly runs a scenario on cairn alone; with CAIRN_E2E_ETCD_ONLY=1 it runs
// on etcd instead, to validate the scenario itself.
func cairnOnly() fixtureOpt { return func(c *fixtureCfg) { c.kinds = []kind{kindCairn} } }

// newFixture starts the servers (concurrently) and stops them at cleanup.
func newFixture(t *testing.T, opts ...fixtureOpt) *fixture {
	t.Helper()
	cfg := fixtureCfg{kinds: []kind{kindEtcd, kindCairn}}
	for _, o := range opts {
		o(&cfg)
	}
	var kinds []kind
	for _, k := range cfg.kinds {
		if etcdOnly() {
			k = kindEtcd
		}
		if len(kinds) == 0 || kinds[len(kinds)-1] != k || etcdTwice() {
			kinds = append(kinds, k)
		}
	}
	f := &fixture{t: t}
	for i, k := range kinds {
		s := newServer(t, k, cfg.flags...)
		s.env = cfg.env
		if i > 0 && k == kinds[0] {
			s.label = fmt.Sprintf("%s#%d", k, i+1)
		}
		f.servers = append(f.servers, s)
	}
	f.startAll()
	return f
}

func (f *fixture) startAll() {
	f.t.Helper()
	errs := make([]error, len(f.servers))
	var wg sync.WaitGroup
	for i, s := range f.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.firstStart()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			f.t.Fatalf("start %s: %v\nlast log lines:\n%s", f.servers[i], err, f.servers[i].log.tail(40))
		}
	}
}

// sub is the same fixture (same servers) reporting into a subtest. Subtests
// of a fixture run one after another, so the servers report into it too.
func (f *fixture) sub(t *testing.T) *fixture {
	for _, s := range f.servers {
		prev := s.t
		s.t = t
		t.Cleanup(func() { s.t = prev })
	}
	return &fixture{t: t, servers: f.servers}
}

// each runs fn on every server, in order.
func (f *fixture) each(fn func(s *server)) {
	for _, s := range f.servers {
		fn(s)
	}
}

type result struct {
	s    *server
	resp any
	err  error
}

type stepFunc func(ctx context.Context, s *server) (any, error)

// do runs one step on every server and fails the test where cairn's answer
// differs from etcd's.
func (f *fixture) do(step string, fn stepFunc) []result {
	f.t.Helper()
	rs := make([]result, len(f.servers))
	for i, s := range f.servers {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		resp, err := fn(ctx, s)
		cancel()
		rs[i] = result{s: s, resp: resp, err: err}
	}
	f.compare(step, rs)
	return rs
}

// ok is do, and every server must succeed.
func (f *fixture) ok(step string, fn stepFunc) []result {
	f.t.Helper()
	rs := f.do(step, fn)
	for _, r := range rs {
		if r.err != nil {
			f.t.Errorf("%s: [%s] unexpected error: %s", step, r.s, errString(r.err))
		}
	}
	return rs
}

// fails is do, and every server must answer with want: same gRPC code and
// message as etcd's rpctypes value (and errors.Is for clientv3's errors).
func (f *fixture) fails(step string, want error, fn stepFunc) []result {
	f.t.Helper()
	rs := f.do(step, fn)
	for _, r := range rs {
		if msg := errMismatch(r.err, want); msg != "" {
			f.t.Errorf("%s: [%s] %s", step, r.s, msg)
		}
	}
	return rs
}

func (f *fixture) compare(step string, rs []result) {
	f.t.Helper()
	if os.Getenv(envVerbose) == "1" {
		for _, r := range rs {
			f.t.Logf("%s: [%s]\n%s", step, r.s, canon(r.resp, r.err))
		}
	}
	if len(rs) < 2 {
		return
	}
	want := canon(rs[0].resp, rs[0].err)
	for _, r := range rs[1:] {
		if got := canon(r.resp, r.err); got != want {
			f.t.Errorf("%s: %s differs from %s:\n%s", step, r.s, rs[0].s, diff(rs[0].s.String(), want, r.s.String(), got))
		}
	}
}

// expect checks a condition on one server's result.
func (f *fixture) expect(r result, cond bool, format string, args ...any) {
	f.t.Helper()
	if !cond {
		f.t.Errorf("[%s] %s", r.s, fmt.Sprintf(format, args...))
	}
}

// errInfo is an error's gRPC code and message, whether it is a gRPC status or
// clientv3's rpctypes.EtcdError.
func errInfo(err error) (codes.Code, string) {
	var ee rpctypes.EtcdError
	if errors.As(err, &ee) {
		return ee.Code(), ee.Error()
	}
	if st, ok := status.FromError(err); ok {
		return st.Code(), st.Message()
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded, err.Error()
	case errors.Is(err, context.Canceled):
		return codes.Canceled, err.Error()
	}
	return codes.Unknown, err.Error()
}

func errString(err error) string {
	c, d := errInfo(err)
	return fmt.Sprintf("code=%s desc=%q", c, d)
}

func errMismatch(got, want error) string {
	if got == nil {
		return fmt.Sprintf("succeeded, want error %s", errString(want))
	}
	wc, wd := errInfo(want)
	gc, gd := errInfo(got)
	if gc != wc || gd != wd || gd != rpctypes.ErrorDesc(want) {
		return fmt.Sprintf("error %s, want %s", errString(got), errString(want))
	}
	var we rpctypes.EtcdError
	var ge rpctypes.EtcdError
	if errors.As(want, &we) && errors.As(got, &ge) && !errors.Is(got, we) {
		return fmt.Sprintf("errors.Is(%v, %v) is false", got, want)
	}
	return ""
}

// canon renders a result for comparison: proto messages as text with the
// header's cluster_id, member_id and raft_term zeroed.
func canon(resp any, err error) string {
	if err != nil {
		return "ERROR " + errString(err)
	}
	return canonValue(resp)
}

type gogoMessage interface {
	protoadapt.MessageV1
	Marshal() ([]byte, error)
	Unmarshal([]byte) error
}

func canonValue(v any) string {
	switch m := v.(type) {
	case nil:
		return "<nil>"
	case string:
		return m
	case *clientv3.GetResponse:
		return canonValue((*pb.RangeResponse)(m))
	case *clientv3.PutResponse:
		return canonValue((*pb.PutResponse)(m))
	case *clientv3.DeleteResponse:
		return canonValue((*pb.DeleteRangeResponse)(m))
	case *clientv3.TxnResponse:
		return canonValue((*pb.TxnResponse)(m))
	case *clientv3.CompactResponse:
		return canonValue((*pb.CompactionResponse)(m))
	case gogoMessage:
		if reflect.ValueOf(m).IsNil() {
			return "<nil>"
		}
		c := cloneMsg(m)
		maskHeaders(c)
		b, err := prototext.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(protoadapt.MessageV2Of(c))
		if err != nil {
			return fmt.Sprintf("<prototext: %v> %v", err, c)
		}
		return fmt.Sprintf("%T\n%s", m, b)
	case []any:
		var sb strings.Builder
		for i, e := range m {
			fmt.Fprintf(&sb, "[%d] %s\n", i, canonValue(e))
		}
		return sb.String()
	}
	return fmt.Sprintf("%#v", v)
}

func cloneMsg(m gogoMessage) gogoMessage {
	b, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	c := reflect.New(reflect.TypeOf(m).Elem()).Interface().(gogoMessage)
	if err := c.Unmarshal(b); err != nil {
		panic(err)
	}
	return c
}

func maskHeader(h *pb.ResponseHeader) {
	if h != nil {
		h.ClusterId, h.MemberId, h.RaftTerm = 0, 0, 0
	}
}

func maskHeaders(m any) {
	switch m := m.(type) {
	case *pb.RangeResponse:
		maskHeader(m.Header)
	case *pb.PutResponse:
		maskHeader(m.Header)
	case *pb.DeleteRangeResponse:
		maskHeader(m.Header)
	case *pb.CompactionResponse:
		maskHeader(m.Header)
	case *pb.TxnResponse:
		maskHeader(m.Header)
		for _, r := range m.Responses {
			switch x := r.Response.(type) {
			case *pb.ResponseOp_ResponseRange:
				maskHeaders(x.ResponseRange)
			case *pb.ResponseOp_ResponsePut:
				maskHeaders(x.ResponsePut)
			case *pb.ResponseOp_ResponseDeleteRange:
				maskHeaders(x.ResponseDeleteRange)
			case *pb.ResponseOp_ResponseTxn:
				maskHeaders(x.ResponseTxn)
			}
		}
	case *pb.StatusResponse:
		maskHeader(m.Header)
	case *pb.AlarmResponse:
		maskHeader(m.Header)
	case *pb.MemberListResponse:
		maskHeader(m.Header)
	}
}

// diff shows two renderings: whole when short, else around the first
// differing line.
func diff(na, a, nb, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	if len(la) <= 40 && len(lb) <= 40 {
		return fmt.Sprintf("--- %s\n%s\n--- %s\n%s", na, a, nb, b)
	}
	i := 0
	for i < len(la) && i < len(lb) && la[i] == lb[i] {
		i++
	}
	from := max(0, i-5)
	cut := func(l []string) string {
		to := min(len(l), i+15)
		if from >= to {
			return "(ends here)"
		}
		return strings.Join(l[from:to], "\n")
	}
	return fmt.Sprintf("(%d vs %d lines; first difference at line %d)\n--- %s\n%s\n--- %s\n%s", len(la), len(lb), i+1, na, cut(la), nb, cut(lb))
}

// Helpers to read results.

func rangeResp(r result) *pb.RangeResponse {
	switch m := r.resp.(type) {
	case *clientv3.GetResponse:
		return (*pb.RangeResponse)(m)
	case *pb.RangeResponse:
		return m
	}
	return nil
}

func headerRev(r result) int64 {
	switch m := r.resp.(type) {
	case *clientv3.GetResponse:
		return m.Header.GetRevision()
	case *clientv3.PutResponse:
		return m.Header.GetRevision()
	case *clientv3.DeleteResponse:
		return m.Header.GetRevision()
	case *clientv3.TxnResponse:
		return m.Header.GetRevision()
	case *clientv3.CompactResponse:
		return m.Header.GetRevision()
	case interface{ GetHeader() *pb.ResponseHeader }:
		return m.GetHeader().GetRevision()
	}
	return 0
}
