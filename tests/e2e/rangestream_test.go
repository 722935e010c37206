package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// rangeStreamMethod is etcd 3.7's KV.RangeStream; etcd 3.6 does not have it,
// so it is called raw: requests are etcd's RangeRequest, and each
// RangeStreamResponse { RangeResponse range_response = 1; } is unwrapped by
// hand with protowire.
const rangeStreamMethod = "/etcdserverpb.KV/RangeStream"

// rawCodec marshals etcd's gogo messages with their own methods. Its empty
// name keeps the content-type "application/grpc", as clientv3 sends it.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return v.(gogoMessage).Marshal() }
func (rawCodec) Unmarshal(b []byte, v any) error {
	switch m := v.(type) {
	case *rangeStreamResponse:
		return m.unmarshal(b)
	case gogoMessage:
		return m.Unmarshal(b)
	}
	return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
}
func (rawCodec) Name() string { return "" }

type rangeStreamResponse struct {
	RangeResponse *pb.RangeResponse // nil when field 1 is absent
}

func (r *rangeStreamResponse) unmarshal(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			if r.RangeResponse == nil {
				r.RangeResponse = &pb.RangeResponse{}
			}
			// A repeated occurrence of a message field merges into it, as
			// gogo's generated Unmarshal does (it does not reset).
			if err := r.RangeResponse.Unmarshal(v); err != nil {
				return err
			}
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// rangeStream calls KV.RangeStream and returns every chunk.
func rangeStream(ctx context.Context, s *server, req *pb.RangeRequest) ([]*pb.RangeResponse, error) {
	desc := &grpc.StreamDesc{StreamName: "RangeStream", ServerStreams: true}
	st, err := s.client().ActiveConnection().NewStream(ctx, desc, rangeStreamMethod, grpc.ForceCodec(rawCodec{}))
	if err != nil {
		return nil, err
	}
	if err := st.SendMsg(req); err != nil {
		return nil, err
	}
	if err := st.CloseSend(); err != nil {
		return nil, err
	}
	var chunks []*pb.RangeResponse
	for range 1_000_000 {
		var m rangeStreamResponse
		err := st.RecvMsg(&m)
		if errors.Is(err, io.EOF) {
			return chunks, nil
		}
		if err != nil {
			return chunks, err
		}
		if m.RangeResponse == nil {
			m.RangeResponse = &pb.RangeResponse{}
		}
		chunks = append(chunks, m.RangeResponse)
	}
	return chunks, errors.New("RangeStream: too many chunks")
}

// merge joins chunks as the proto comment says a client may: kvs concatenated,
// header/more/count from the chunks that carry them.
func merge(chunks []*pb.RangeResponse) *pb.RangeResponse {
	out := &pb.RangeResponse{}
	for _, c := range chunks {
		out.Kvs = append(out.Kvs, c.Kvs...)
		if c.Header != nil {
			out.Header = c.Header
		}
		if c.More {
			out.More = true
		}
		if c.Count != 0 {
			out.Count = c.Count
		}
	}
	return out
}

func TestRangeStream(t *testing.T) {
	t.Parallel()
	f := newFixture(t, cairnOnly())
	s := f.servers[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if s.kind == kindEtcd {
		// Validates the raw call itself: etcd 3.6 answers Unimplemented.
		_, err := rangeStream(ctx, s, &pb.RangeRequest{Key: []byte("a")})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("etcd 3.6 RangeStream: %v, want Unimplemented", err)
		}
		t.Skip("etcd 3.6 has no RangeStream: the rest runs on cairn only")
	}

	const n = 5000
	val := make([]byte, 200)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	for i := 0; i < n; i += 100 {
		var puts []clientv3.Op
		for j := i; j < i+100; j++ {
			puts = append(puts, clientv3.OpPut(fmt.Sprintf("rs/%05d", j), fmt.Sprintf("%05d-%s", j, val)))
		}
		if _, err := s.client().Txn(ctx).Then(puts...).Commit(); err != nil {
			t.Fatalf("load: %v", err)
		}
	}
	if _, err := s.client().Put(ctx, "rs/00042", "overwritten"); err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		req  *pb.RangeRequest
	}{
		{"prefix", &pb.RangeRequest{Key: []byte("rs/"), RangeEnd: []byte("rs0")}},
		{"from key", &pb.RangeRequest{Key: []byte{0}, RangeEnd: []byte{0}}},
		{"limit 1200", &pb.RangeRequest{Key: []byte("rs/"), RangeEnd: []byte("rs0"), Limit: 1200}},
		{"keys only", &pb.RangeRequest{Key: []byte("rs/"), RangeEnd: []byte("rs0"), KeysOnly: true}},
		{"count only", &pb.RangeRequest{Key: []byte("rs/"), RangeEnd: []byte("rs0"), CountOnly: true}},
		{"old revision", &pb.RangeRequest{Key: []byte("rs/"), RangeEnd: []byte("rs0"), Revision: 30}},
		{"serializable", &pb.RangeRequest{Key: []byte("rs/"), RangeEnd: []byte("rs0"), Serializable: true}},
		{"sorted by mod desc, limit 10", &pb.RangeRequest{Key: []byte("rs/"), RangeEnd: []byte("rs0"), SortTarget: pb.RangeRequest_MOD, SortOrder: pb.RangeRequest_DESCEND, Limit: 10}},
		{"single key", &pb.RangeRequest{Key: []byte("rs/00042")}},
		{"empty", &pb.RangeRequest{Key: []byte("nothing")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, err := s.kv().Range(ctx, tc.req)
			if err != nil {
				t.Fatalf("Range: %v", err)
			}
			chunks, err := rangeStream(ctx, s, tc.req)
			if err != nil {
				t.Fatalf("RangeStream %v: %v (after %d chunks)", tc.req, err, len(chunks))
			}
			if len(chunks) == 0 {
				t.Fatalf("RangeStream: no chunk at all")
			}
			for i, c := range chunks[:len(chunks)-1] {
				if c.Header != nil || c.Count != 0 || c.More {
					t.Errorf("chunk %d of %d: header %v count %d more %v, want them on the last chunk only", i, len(chunks), c.Header, c.Count, c.More)
				}
			}
			last := chunks[len(chunks)-1]
			if last.Header == nil || last.Header.Revision != want.Header.Revision {
				t.Errorf("last chunk header %v, want revision %d", last.Header, want.Header.Revision)
			}
			got := merge(chunks)
			if g, w := canonValue(got), canonValue(want); g != w {
				t.Errorf("RangeStream (%d chunks) differs from Range:\n%s", len(chunks), diff("Range", w, "RangeStream", g))
			}
			t.Logf("%d kvs in %d chunks", len(got.Kvs), len(chunks))
		})
	}
	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			req  *pb.RangeRequest
		}{
			{"empty key", &pb.RangeRequest{}},
			{"future revision", &pb.RangeRequest{Key: []byte("a"), Revision: 1 << 40}},
			{"bad sort", &pb.RangeRequest{Key: []byte("a"), SortOrder: 7}},
		} {
			_, werr := s.kv().Range(ctx, tc.req)
			_, gerr := rangeStream(ctx, s, tc.req)
			if werr == nil || errString(werr) != errString(gerr) {
				t.Errorf("%s: RangeStream error %v, Range error %v: want the same error", tc.name, gerr, werr)
			}
		}
	})
}

// TestRangeStreamDecoder checks the hand-made RangeStreamResponse decoder on
// bytes built with protowire (no server needed): field 1 holds a
// RangeResponse, repeated occurrences merge, unknown fields are skipped.
func TestRangeStreamDecoder(t *testing.T) {
	t.Parallel()
	a := &pb.RangeResponse{Kvs: []*mvccpb.KeyValue{{Key: []byte("a"), Value: []byte("1"), ModRevision: 2}}}
	b := &pb.RangeResponse{Header: &pb.ResponseHeader{Revision: 7}, Kvs: []*mvccpb.KeyValue{{Key: []byte("b")}}, Count: 2, More: true}
	var wire []byte
	wire = protowire.AppendTag(wire, 1, protowire.BytesType)
	wire = protowire.AppendBytes(wire, mustMarshal(a))
	wire = protowire.AppendTag(wire, 9, protowire.VarintType) // unknown field
	wire = protowire.AppendVarint(wire, 42)
	wire = protowire.AppendTag(wire, 1, protowire.BytesType)
	wire = protowire.AppendBytes(wire, mustMarshal(b))

	var got rangeStreamResponse
	if err := (rawCodec{}).Unmarshal(wire, &got); err != nil {
		t.Fatal(err)
	}
	want := &pb.RangeResponse{Header: b.Header, Kvs: append(a.Kvs, b.Kvs...), Count: 2, More: true}
	if g, w := canonValue(got.RangeResponse), canonValue(want); g != w {
		t.Errorf("decoded:\n%s", diff("want", w, "got", g))
	}
	var empty rangeStreamResponse
	if err := (rawCodec{}).Unmarshal(nil, &empty); err != nil || empty.RangeResponse != nil {
		t.Errorf("empty message: %v %v", empty.RangeResponse, err)
	}
	if err := (rawCodec{}).Unmarshal([]byte{0x0a, 0x05, 1}, &empty); err == nil {
		t.Errorf("truncated message decoded without error")
	}
}

func mustMarshal(m gogoMessage) []byte {
	b, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	return b
}
