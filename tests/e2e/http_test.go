package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
)

func httpDo(ctx context.Context, method, url, contentType string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header, b, err
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)

	f.ok("GET /health", func(ctx context.Context, s *server) (any, error) {
		code, _, body, err := httpDo(ctx, "GET", s.clientURL+"/health", "", nil)
		return fmt.Sprintf("%d %s", code, body), err
	})
	f.each(func(s *server) {
		code, _, body, err := httpDo(context.Background(), "GET", s.clientURL+"/health", "", nil)
		var h map[string]any
		ok := err == nil && code == 200 && json.Unmarshal(body, &h) == nil
		f.expect(result{s: s}, ok && h["health"] == "true" && h["reason"] == "", "/health: %d %s %v, want 200 {\"health\":\"true\",\"reason\":\"\"}", code, body, err)
	})

	f.ok("GET /version", func(ctx context.Context, s *server) (any, error) {
		code, _, body, err := httpDo(ctx, "GET", s.clientURL+"/version", "", nil)
		if err != nil {
			return nil, err
		}
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Sprintf("%d not JSON: %s", code, body), nil
		}
		server, _ := v["etcdserver"].(string)
		return fmt.Sprintf("%d etcdserver 3.6.x: %v, etcdcluster %v", code, strings.HasPrefix(server, "3.6."), v["etcdcluster"]), nil
	})
}

// TestConnectJSON speaks Connect's unary JSON protocol, as curl would: cairn
// only (etcd has no Connect endpoint).
func TestConnectJSON(t *testing.T) {
	t.Parallel()
	if etcdOnly() {
		t.Skip("etcd does not serve Connect: nothing to validate in " + envEtcdOnly + " mode")
	}
	f := newFixture(t, cairnOnly())
	s := f.servers[0]
	ctx := context.Background()
	post := func(method, body string) (int, map[string]any) {
		t.Helper()
		code, hdr, b, err := httpDo(ctx, "POST", s.clientURL+"/etcdserverpb.KV/"+method, "application/json", []byte(body))
		if err != nil {
			t.Fatalf("POST %s: %v", method, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("POST %s %s: %d %q (Content-Type %q) is not JSON: %v", method, body, code, b, hdr.Get("Content-Type"), err)
		}
		return code, m
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	code, m := post("Put", `{"key":"Zm9v","value":"YmFy"}`)
	if code != 200 {
		t.Fatalf("Connect Put foo=bar: HTTP %d %v, want 200", code, m)
	}
	putRev := jsonInt(jsonPath(m, "header", "revision"))
	if putRev != 2 {
		t.Errorf("Connect Put: header.revision %v, want 2 (%v)", jsonPath(m, "header", "revision"), m)
	}

	code, m = post("Range", `{"key":"Zm9v"}`)
	if code != 200 {
		t.Fatalf("Connect Range foo: HTTP %d %v", code, m)
	}
	kvs, _ := m["kvs"].([]any)
	if len(kvs) != 1 {
		t.Fatalf("Connect Range foo: kvs %v, want one", m["kvs"])
	}
	kv, _ := kvs[0].(map[string]any)
	if kv["key"] != b64("foo") || kv["value"] != b64("bar") {
		t.Errorf("Connect Range foo: kv %v, want key %q value %q", kv, b64("foo"), b64("bar"))
	}
	for _, f := range [][2]string{{"createRevision", "create_revision"}, {"modRevision", "mod_revision"}} {
		v := kv[f[0]]
		if v == nil {
			v = kv[f[1]]
		}
		if jsonInt(v) != 2 {
			t.Errorf("Connect Range foo: %s = %v, want 2", f[0], v)
		}
	}
	if jsonInt(kv["version"]) != 1 || jsonInt(m["count"]) != 1 {
		t.Errorf("Connect Range foo: version %v count %v, want 1 and 1", kv["version"], m["count"])
	}

	// The same data through gRPC.
	got, err := s.client().Get(ctx, "foo")
	if err != nil || len(got.Kvs) != 1 || string(got.Kvs[0].Value) != "bar" || got.Kvs[0].ModRevision != 2 {
		t.Errorf("clientv3 Get foo after Connect Put: %v %v", got, err)
	}

	code, m = post("Range", `{"key":"Zm9v","rangeEnd":"AA==","countOnly":true}`)
	if code != 200 || jsonInt(m["count"]) != 1 || m["kvs"] != nil {
		t.Errorf("Connect Range count_only: %d %v", code, m)
	}

	code, m = post("Range", `{}`)
	want := rpctypes.ErrorDesc(rpctypes.ErrGRPCEmptyKey)
	if code != 400 || m["code"] != "invalid_argument" || m["message"] != want {
		t.Errorf("Connect Range with no key: HTTP %d %v, want 400 {code: invalid_argument, message: %q}", code, m, want)
	}
	code, m = post("Range", `{"key":"Zm9v","revision":"100"}`)
	want = rpctypes.ErrorDesc(rpctypes.ErrGRPCFutureRev)
	if code != 400 || m["code"] != "out_of_range" || m["message"] != want {
		// Connect maps OutOfRange to HTTP 400.
		t.Errorf("Connect Range at a future revision: HTTP %d %v, want 400 {code: out_of_range, message: %q}", code, m, want)
	}
	code, m = post("DeleteRange", `{"key":"Zm9v","prevKv":true}`)
	if code != 200 || jsonInt(m["deleted"]) != 1 {
		t.Errorf("Connect DeleteRange foo: %d %v", code, m)
	}
}

func jsonPath(m map[string]any, path ...string) any {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[p]
	}
	return cur
}

// jsonInt reads protojson's int64 (a string) or a number.
func jsonInt(v any) int64 {
	switch x := v.(type) {
	case string:
		var n int64
		fmt.Sscan(x, &n)
		return n
	case float64:
		return int64(x)
	}
	return -1
}
