package watch

import (
	"bytes"
	"strings"
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
	wire := newWire(evs)
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
	// Events that are not the cached ones: WireSize declines.
	for name, r := range map[string]*wireResponse{
		"replaced":  {WatchResponse: &pb.WatchResponse{Events: []*mvccpb.Event{proto.Clone(evs[0]).(*mvccpb.Event)}}, wire: wire[:1]},
		"fewer":     {WatchResponse: &pb.WatchResponse{Events: evs[:1]}, wire: wire[:2]},
		"reordered": {WatchResponse: &pb.WatchResponse{Events: []*mvccpb.Event{evs[1], evs[0]}}, wire: wire[:2]},
	} {
		if n := r.WireSize(); n != -1 {
			t.Errorf("%s events: WireSize %d, want -1", name, n)
		}
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

// TestSharedEncodings: watchers that get different parts of one txn, a
// prev_kv watcher beside a plain one on the same key, and watchers caught
// up from history all get their own events, through the shared encodings
// (fakeStream checks each wire response against proto.Marshal).
func TestSharedEncodings(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{})
	e.put("b", "0") // 2
	wide, narrow := e.open(), e.open()
	wide.create(&pb.WatchCreateRequest{Key: []byte("a"), RangeEnd: []byte("c")})
	narrow.create(&pb.WatchCreateRequest{Key: []byte("b")})
	narrow.create(&pb.WatchCreateRequest{Key: []byte("b"), PrevKv: true, WatchId: 7})
	e.txn(putOp("0", "1"), putOp("a", "1"), putOp("b", "1"), putOp("c", "1")) // 3; nobody watches "0"

	if got, want := strings.Join(wide.events(0, 2), "; "), "PUT a@3{c=3,v=1}=1; PUT b@3{c=2,v=2}=1"; got != want {
		t.Errorf("a..c watcher: %s, want %s", got, want)
	}
	seen := map[int64]string{}
	for len(seen) < 2 {
		r := narrow.recv()
		for _, ev := range r.Events {
			s := fmtEvent(ev)
			if ev.PrevKv != nil {
				s += " prev=" + string(ev.PrevKv.Value)
			}
			seen[r.WatchId] += s
		}
	}
	if seen[0] != "PUT b@3{c=2,v=2}=1" || seen[7] != "PUT b@3{c=2,v=2}=1 prev=0" {
		t.Errorf("b watchers: plain %q, prev_kv %q", seen[0], seen[7])
	}

	// From history: two watchers of one catch-up read, different events.
	late := e.open()
	for id, key := range map[int64]string{1: "b", 2: "c"} {
		late.send(&pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{Key: []byte(key), StartRevision: 2, WatchId: id}}})
	}
	got := map[int64][]string{}
	for len(got[1]) < 2 || len(got[2]) < 1 {
		r := late.recv() // the created responses and the events, interleaved
		for _, ev := range r.Events {
			got[r.WatchId] = append(got[r.WatchId], fmtEvent(ev))
		}
	}
	if strings.Join(got[1], "; ") != "PUT b@2{c=2,v=1}=0; PUT b@3{c=2,v=2}=1" || strings.Join(got[2], "; ") != "PUT c@3{c=3,v=1}=1" {
		t.Errorf("caught up: %v", got)
	}

	// Every event response but the prev_kv watcher's went out through the
	// shared encodings: 1 (wide) + 1 (narrow's plain watcher) + at least
	// one per caught-up watcher.
	if n := wide.f.wireSends.Load() + narrow.f.wireSends.Load(); n != 2 {
		t.Errorf("live responses with shared encodings: %d, want 2", n)
	}
	if n := late.f.wireSends.Load(); n < 2 {
		t.Errorf("caught-up responses with shared encodings: %d, want at least 2", n)
	}
}
