package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/cairnkv/cairn/gen/etcdserverpb/etcdserverpbconnect"
)

// TestRequireHTTP2: only the bidirectional-stream method of a service is
// refused over HTTP/1.1, with a 505 whose body says why; its other methods
// and any call over HTTP/2 reach the service.
func TestRequireHTTP2(t *testing.T) {
	reached := 0
	path, h := requireHTTP2(etcdserverpbconnect.LeaseLeaseKeepAliveProcedure)("/etcdserverpb.Lease/",
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached++ }))
	if path != "/etcdserverpb.Lease/" {
		t.Fatalf("path %q", path)
	}
	for _, tc := range []struct {
		proc  string
		major int
		want  int // status; 0: reached the service
	}{
		{etcdserverpbconnect.LeaseLeaseKeepAliveProcedure, 1, http.StatusHTTPVersionNotSupported},
		{etcdserverpbconnect.LeaseLeaseKeepAliveProcedure, 2, 0},
		{etcdserverpbconnect.LeaseLeaseGrantProcedure, 1, 0},
	} {
		reached = 0
		r := httptest.NewRequest(http.MethodPost, tc.proc, strings.NewReader("{}"))
		r.ProtoMajor = tc.major
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		body, _ := io.ReadAll(w.Result().Body)
		switch {
		case tc.want == 0 && reached != 1:
			t.Errorf("%s over HTTP/%d: did not reach the service (%d %s)", tc.proc, tc.major, w.Code, body)
		case tc.want != 0 && (w.Code != tc.want || reached != 0 || !strings.Contains(string(body), "needs HTTP/2")):
			t.Errorf("%s over HTTP/%d: %d %s (reached %d), want %d saying it needs HTTP/2", tc.proc, tc.major, w.Code, body, reached, tc.want)
		}
	}
}

// TestWithIncomingMetadata: over Connect, the metadata etcd's clients send
// as headers (hasleader, token) reaches the cores as gRPC incoming
// metadata, next to what the context already carried.
func TestWithIncomingMetadata(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("other", "x"))
	h := http.Header{}
	h.Set("Hasleader", "true")
	h.Set("Token", "t1")
	h.Set("Unrelated", "y")
	md, _ := metadata.FromIncomingContext(withIncomingMetadata(ctx, h))
	got := map[string][]string{"hasleader": md.Get("hasleader"), "token": md.Get("token"), "other": md.Get("other"), "unrelated": md.Get("unrelated")}
	want := map[string][]string{"hasleader": {"true"}, "token": {"t1"}, "other": {"x"}, "unrelated": nil}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("incoming metadata %v, want %v", got, want)
	}
	if withIncomingMetadata(ctx, http.Header{}) != ctx {
		t.Fatal("a request without those headers must keep its context")
	}
}
