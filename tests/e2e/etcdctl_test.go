package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

// ctlOut is one etcdctl run, rendered for comparison after masking what
// legitimately differs between two servers.
type ctlOut struct {
	code           int
	stdout, stderr string
}

func (o ctlOut) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", o.code, o.stdout, o.stderr)
}

var (
	tookRE     = regexp.MustCompile(`took = [0-9.]+[a-zµ]+`)
	tookJSONRE = regexp.MustCompile(`"took":"[^"]*"`)
	// member ids in hex (a leading zero is not printed).
	hexIDRE = regexp.MustCompile(`\b[0-9a-f]{12,16}\b`)
	// etcdctl's client logs (zap JSON) carry timestamps and are no answer.
	logLineRE = regexp.MustCompile(`(?m)^\{"level":.*\n?`)
	// fields output of header ids and term.
	fieldsIDRE = regexp.MustCompile(`(?m)^"(ClusterID|MemberID|RaftTerm)" : \d+$`)
)

func maskText(s *server, out string) string {
	out = strings.NewReplacer(s.clientURL, "<client-url>", s.peerURL, "<peer-url>").Replace(out)
	out = tookRE.ReplaceAllString(out, "took = <duration>")
	out = tookJSONRE.ReplaceAllString(out, `"took":"<duration>"`)
	out = logLineRE.ReplaceAllString(out, "")
	out = fieldsIDRE.ReplaceAllString(out, `"$1" : <masked>`)
	return hexIDRE.ReplaceAllString(out, "<id>")
}

// maskJSON drops header cluster_id, member_id and raft_term from etcdctl's
// JSON output, masks member IDs and URLs, and re-renders it with sorted keys.
func maskJSON(s *server, out string) string {
	dec := json.NewDecoder(strings.NewReader(out))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return "not JSON: " + maskText(s, out)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				switch k {
				case "cluster_id", "member_id", "raft_term":
					// Ignored wherever they appear, as in the gRPC comparisons.
					delete(x, k)
				case "ID":
					x[k] = "<masked>"
				default:
					x[k] = walk(e)
				}
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		case string:
			return strings.NewReplacer(s.clientURL, "<client-url>", s.peerURL, "<peer-url>").Replace(x)
		}
		return v
	}
	var b strings.Builder
	enc := json.NewEncoder(&b) // map keys come out sorted
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(walk(v))
	return b.String()
}

type ctlMask func(s *server, out string) string

func ctl(mask ctlMask, stdin string, args ...string) stepFunc {
	return func(_ context.Context, s *server) (any, error) {
		o, e, code := s.etcdctl(stdin, args...)
		return ctlOut{code: code, stdout: mask(s, o), stderr: maskText(s, e)}.String(), nil
	}
}

// ctlOK runs etcdctl on every server, compares, and wants exit 0.
func (f *fixture) ctlOK(mask ctlMask, stdin string, args ...string) []result {
	f.t.Helper()
	rs := f.ok("etcdctl "+strings.Join(args, " "), ctl(mask, stdin, args...))
	for _, r := range rs {
		f.expect(r, strings.HasPrefix(r.resp.(string), "exit 0\n"), "etcdctl %v failed:\n%s", args, r.resp)
	}
	return rs
}

// ctlFail runs etcdctl on every server, compares, and wants exit 1 with
// "Error: <etcd's message for want>".
func (f *fixture) ctlFail(want error, stdin string, args ...string) {
	f.t.Helper()
	rs := f.ok("etcdctl "+strings.Join(args, " "), ctl(maskText, stdin, args...))
	for _, r := range rs {
		out := r.resp.(string)
		f.expect(r, strings.HasPrefix(out, "exit 1\n") && strings.Contains(out, "Error: "+rpctypes.ErrorDesc(want)+"\n"),
			"etcdctl %v: want exit 1 and %q, got:\n%s", args, "Error: "+rpctypes.ErrorDesc(want), out)
	}
}

func TestEtcdctl(t *testing.T) {
	t.Parallel()
	etcdctlBinary(t) // build before starting servers
	f := newFixture(t)
	text, js := ctlMask(maskText), ctlMask(maskJSON)

	t.Run("put and get", func(t *testing.T) {
		f := f.sub(t)
		for i, kv := range [][2]string{{"foo", "bar"}, {"foo/a", "3"}, {"foo/b", "1"}, {"foo/c", "2"}, {"foo/a", "4"}, {"other", "x"}, {"foo/b", "0"}} {
			args := []string{"put", kv[0], kv[1]}
			if i == 4 {
				args = append(args, "--prev-kv")
			}
			f.ctlOK(text, "", args...)
		}
		f.ctlOK(text, "", "put", "foo/c", "--ignore-value", "--prev-kv")
		f.ctlOK(text, "", "get", "foo")
		f.ctlOK(text, "", "get", "nothing")
		f.ctlOK(text, "", "get", "--prefix", "foo")
		f.ctlOK(text, "", "get", "--prefix", "--limit", "2", "foo")
		f.ctlOK(text, "", "get", "--rev", "2", "foo/a", "--prefix")
		f.ctlOK(text, "", "get", "--rev", "5", "foo", "--prefix")
		f.ctlOK(text, "", "get", "--from-key", "foo/b")
		f.ctlOK(text, "", "get", "foo/a", "foo/c")
		for _, by := range []string{"CREATE", "KEY", "MODIFY", "VALUE", "VERSION"} {
			for _, order := range []string{"ASCEND", "DESCEND"} {
				f.ctlOK(text, "", "get", "--prefix", "foo/", "--sort-by", by, "--order", order)
			}
		}
		f.ctlOK(text, "", "get", "--prefix", "foo", "--keys-only")
		f.ctlOK(text, "", "get", "--prefix", "foo", "--print-value-only")
		f.ctlOK(text, "", "get", "--prefix", "foo", "--count-only", "-w", "fields")
		f.ctlOK(text, "", "get", "--prefix", "foo", "-w", "fields")
		f.ctlOK(js, "", "get", "--prefix", "foo", "-w", "json")
		f.ctlOK(js, "", "get", "--prefix", "foo", "--limit", "1", "-w", "json")
		f.ctlOK(js, "", "get", "--prefix", "foo", "--keys-only", "-w", "json")
		f.ctlOK(js, "", "get", "--prefix", "foo", "--rev", "3", "-w", "json")
		f.ctlOK(js, "", "get", "--prefix", "foo", "--consistency", "s", "-w", "json")
		f.ctlOK(js, "", "put", "bar", "baz", "-w", "json")
	})

	t.Run("del", func(t *testing.T) {
		f := f.sub(t)
		f.ctlOK(text, "", "del", "--prefix", "--prev-kv", "foo/")
		f.ctlOK(text, "", "del", "nothing")
		f.ctlOK(text, "", "del", "--prev-kv", "foo")
		f.ctlOK(js, "", "del", "--prefix", "--prev-kv", "bar", "-w", "json")
		f.ctlOK(text, "", "del", "--from-key", "o")
		f.ctlOK(text, "", "get", "--from-key", "")
	})

	t.Run("txn", func(t *testing.T) {
		f := f.sub(t)
		f.ctlOK(text, "", "put", "t/key1", "v1")
		script := strings.Join([]string{
			`mod("t/key1") > "0"`,
			`value("t/key1") = "v1"`,
			``,
			`put t/key1 "overwrote"`,
			`put t/key2 "created"`,
			`get t/key1`,
			``,
			`put t/key1 "else"`,
			``,
		}, "\n") + "\n"
		f.ctlOK(text, script, "txn")
		f.ctlOK(text, script, "txn")
		f.ctlOK(text, script, "txn", "--interactive")
		f.ctlOK(js, script, "txn", "-w", "json")
		f.ctlOK(text, strings.Join([]string{`version("t/key2") = "1"`, ``, `del --prefix t/`, `get --prefix t/`, ``, ``, ``}, "\n"), "txn")
		f.ctlOK(text, "\n\n\n", "txn")
		f.ctlOK(text, "", "get", "--prefix", "t/")
	})

	t.Run("errors", func(t *testing.T) {
		f := f.sub(t)
		f.ctlFail(rpctypes.ErrGRPCFutureRev, "", "get", "foo", "--rev", "1000")
		f.ctlFail(rpctypes.ErrGRPCEmptyKey, "", "put", "", "v")
		f.ctlFail(rpctypes.ErrGRPCKeyNotFound, "", "put", "missing", "--ignore-value")
		f.ctlFail(rpctypes.ErrGRPCLeaseNotFound, "", "put", "k", "v", "--lease", "3039")
		f.ctlFail(rpctypes.ErrGRPCDuplicateKey, "\nput k 1\nput k 2\n\n\n", "txn")
	})

	t.Run("compaction", func(t *testing.T) {
		f := f.sub(t)
		f.ctlOK(text, "", "compaction", "3")
		f.ctlFail(rpctypes.ErrGRPCCompacted, "", "get", "foo", "--rev", "2")
		f.ctlOK(text, "", "get", "--prefix", "", "--rev", "3", "--keys-only")
		f.ctlOK(text, "", "compaction", "--physical", "5")
		f.ctlFail(rpctypes.ErrGRPCCompacted, "", "get", "foo", "--rev", "4")
		f.ctlFail(rpctypes.ErrGRPCCompacted, "", "compaction", "4")
		f.ctlFail(rpctypes.ErrGRPCFutureRev, "", "compaction", "1000")
	})

	t.Run("endpoint", func(t *testing.T) {
		f := f.sub(t)
		f.ctlOK(text, "", "endpoint", "health")
		f.ctlOK(text, "", "endpoint", "health", "-w", "json")
		rs := f.ctlOK(statusMask, "", "endpoint", "status", "-w", "json")
		_ = rs
		f.ctlOK(func(s *server, out string) string {
			return fmt.Sprint(len(strings.Split(strings.TrimSpace(out), ","))) + " columns"
		}, "", "endpoint", "status")
	})

	t.Run("member list", func(t *testing.T) {
		f := f.sub(t)
		f.ctlOK(text, "", "member", "list")
		f.ctlOK(memberListMask, "", "member", "list", "-w", "json")
		f.ctlOK(text, "", "member", "list", "--consistency", "s")
	})
}

// statusMask reduces `endpoint status -w json` to statusShape.
func statusMask(s *server, out string) string {
	var eps []struct {
		Endpoint string
		Status   *pb.StatusResponse
	}
	if err := json.Unmarshal([]byte(out), &eps); err != nil || len(eps) != 1 || eps[0].Status == nil {
		return fmt.Sprintf("unexpected endpoint status output (%v): %s", err, out)
	}
	var fields []string
	var raw []map[string]map[string]any
	_ = json.Unmarshal([]byte(out), &raw)
	if len(raw) == 1 {
		for k := range raw[0]["Status"] {
			fields = append(fields, k)
		}
	}
	sort.Strings(fields)
	ep := strings.NewReplacer(s.clientURL, "<client-url>").Replace(eps[0].Endpoint)
	return fmt.Sprintf("endpoint %s\nfields %v\n%s", ep, fields, statusShape(s, eps[0].Status))
}

// memberListMask checks ids against the header and masks ids and URLs.
func memberListMask(s *server, out string) string {
	var ml struct {
		Header  *pb.ResponseHeader
		Members []*pb.Member
	}
	d := json.NewDecoder(bytes.NewReader([]byte(out)))
	if err := d.Decode(&ml); err != nil {
		return fmt.Sprintf("not JSON (%v): %s", err, out)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "header revision %d\n", ml.Header.GetRevision())
	for _, m := range ml.Members {
		fmt.Fprintf(&b, "member id is header member_id: %v name %q peer %v client %v learner %v\n",
			m.ID == ml.Header.GetMemberId(), m.Name, masked(s, m.PeerURLs), masked(s, m.ClientURLs), m.IsLearner)
	}
	return b.String() + "\n" + maskJSON(s, out)
}
