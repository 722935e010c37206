package watch

import (
	"bytes"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
)

// TestWireResponseMatchesProto checks that a response built from shared
// event encodings is byte for byte what proto.Marshal gives, for responses
// that share events and are encoded concurrently.
func TestWireResponseMatchesProto(t *testing.T) {
	evs := []*mvccpb.Event{
		{Type: mvccpb.Event_PUT, Kv: &mvccpb.KeyValue{Key: []byte("a"), Value: bytes.Repeat([]byte("v"), 300), CreateRevision: 2, ModRevision: 9, Version: 3, Lease: 7}},
		{Type: mvccpb.Event_DELETE, Kv: &mvccpb.KeyValue{Key: []byte("b"), ModRevision: 9}},
		{Type: mvccpb.Event_PUT, Kv: &mvccpb.KeyValue{Key: []byte{}, CreateRevision: 9, ModRevision: 9, Version: 1}},
	}
	wire := newWire(len(evs))
	hdr := &pb.ResponseHeader{ClusterId: 1 << 60, MemberId: 3, Revision: 9, RaftTerm: 2}
	cases := []struct {
		name string
		resp *pb.WatchResponse
		wire []*wireEvent
	}{
		{"all events", &pb.WatchResponse{Header: hdr, WatchId: 5, Events: evs}, wire},
		{"watch id 0", &pb.WatchResponse{Header: hdr, Events: evs[1:]}, wire[1:]},
		{"negative id, merged", &pb.WatchResponse{Header: hdr, WatchId: -1, Events: []*mvccpb.Event{evs[2], evs[0]}}, []*wireEvent{wire[2], wire[0]}},
		{"no header", &pb.WatchResponse{WatchId: 1, Events: evs[:1]}, wire[:1]},
		{"every field", &pb.WatchResponse{
			Header: &pb.ResponseHeader{Revision: -1}, WatchId: 3, Created: true, Canceled: true,
			CompactRevision: 4, CancelReason: "why", Fragment: true, Events: evs[2:],
		}, wire[2:]},
		{"empty header", &pb.WatchResponse{Header: &pb.ResponseHeader{}, Events: evs[:1]}, wire[:1]},
	}
	// appendHead writes every field but events by hand: a field added to
	// WatchResponse or ResponseHeader must be added there (and above).
	if n := (&pb.WatchResponse{}).ProtoReflect().Descriptor().Fields().Len(); n != 8 {
		t.Errorf("WatchResponse has %d fields, appendHead knows 8", n)
	}
	if n := (&pb.ResponseHeader{}).ProtoReflect().Descriptor().Fields().Len(); n != 4 {
		t.Errorf("ResponseHeader has %d fields, appendHead knows 4", n)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for _, c := range cases {
				r := &wireResponse{WatchResponse: c.resp, wire: c.wire}
				n := r.WireSize()
				got := r.AppendWire(nil)
				want, err := proto.MarshalOptions{Deterministic: true}.Marshal(c.resp)
				if err != nil {
					t.Error(err)
					return
				}
				if n != len(got) || !bytes.Equal(got, want) {
					t.Errorf("%s: wire size %d, encoding %x; proto.Marshal gives %x", c.name, n, got, want)
				}
			}
		})
	}
	wg.Wait()
}
