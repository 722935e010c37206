package watch

import (
	"encoding/binary"
	"sync/atomic"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
)

// An applied txn's events usually go out to many watchers, each in its own
// response (a WatchResponse names one watcher). proto.Marshal would encode
// every event once per watcher; instead each event is encoded once, by the
// first send loop that needs it, and every response that carries it copies
// those bytes. The server's gRPC codec asks a message for its encoding
// through WireSize and AppendWire (modules/server); every other codec sees a
// plain WatchResponse.

// wireEvent caches the encoding of one event, ev, as a WatchResponse field:
// tag 11, length, Event. It is filled once, by whichever send loop gets
// there first (a racing second one computes the same bytes).
type wireEvent struct {
	ev *mvccpb.Event
	b  atomic.Pointer[[]byte]
}

// fieldEvents is WatchResponse.events.
const fieldEvents = 11

func (e *wireEvent) bytes() []byte {
	if p := e.b.Load(); p != nil {
		return *p
	}
	n := proto.Size(e.ev)
	b := make([]byte, 0, 1+protowire.SizeVarint(uint64(n))+n)
	b = protowire.AppendTag(b, fieldEvents, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	b, _ = proto.MarshalOptions{UseCachedSize: true}.MarshalAppend(b, e.ev)
	e.b.Store(&b)
	return b
}

// newWire returns the encoding caches of a txn's events, one per event.
func newWire(evs []*mvccpb.Event) []*wireEvent {
	ws := make([]wireEvent, len(evs))
	ps := make([]*wireEvent, len(evs))
	for i := range ws {
		ws[i].ev = evs[i]
		ps[i] = &ws[i]
	}
	return ps
}

// wireResponse is an event response whose events reuse their shared
// encodings (wire[i] caches Events[i]). It is a proto.Message (the embedded
// response), so any codec can marshal it the usual way; an interceptor that
// wants the WatchResponse finds it embedded.
type wireResponse struct {
	*pb.WatchResponse
	wire []*wireEvent
	// head is the response without its events, set by WireSize (in
	// headBuf unless it has a long cancel reason).
	head    []byte
	headBuf [64]byte
}

// The server's gRPC codec (modules/server) looks for these two methods.
var _ interface {
	WireSize() int
	AppendWire([]byte) []byte
} = (*wireResponse)(nil)

// WireSize returns the length of the response's encoding, or -1 if its
// events are no longer the ones wire caches (something replaced them):
// then the codec marshals it as any other message.
func (r *wireResponse) WireSize() int {
	if len(r.wire) != len(r.Events) {
		return -1
	}
	for i, w := range r.wire {
		if w.ev != r.Events[i] {
			return -1
		}
	}
	r.head = appendHead(r.headBuf[:0], r.WatchResponse)
	n := len(r.head)
	for _, w := range r.wire {
		n += len(w.bytes())
	}
	return n
}

// AppendWire appends the response's encoding, after a WireSize that was not
// -1: the same bytes as a deterministic proto.Marshal, since events are its
// last field.
func (r *wireResponse) AppendWire(b []byte) []byte {
	b = append(b, r.head...)
	for _, w := range r.wire {
		b = append(b, w.bytes()...)
	}
	return b
}

// appendHead appends the fields of r before its events, as proto.Marshal
// does (in field order, proto3 zero values left out): hand-written because
// proto.Marshal's per-message cost is as large as an event's.
func appendHead(b []byte, r *pb.WatchResponse) []byte {
	if h := r.Header; h != nil {
		var hb [4 * (1 + binary.MaxVarintLen64)]byte
		hdr := appendVarint(hb[:0], 1, h.ClusterId)
		hdr = appendVarint(hdr, 2, h.MemberId)
		hdr = appendVarint(hdr, 3, uint64(h.Revision))
		hdr = appendVarint(hdr, 4, h.RaftTerm)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, hdr)
	}
	b = appendVarint(b, 2, uint64(r.WatchId))
	b = appendVarint(b, 3, protowire.EncodeBool(r.Created))
	b = appendVarint(b, 4, protowire.EncodeBool(r.Canceled))
	b = appendVarint(b, 5, uint64(r.CompactRevision))
	if r.CancelReason != "" {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendString(b, r.CancelReason)
	}
	return appendVarint(b, 7, protowire.EncodeBool(r.Fragment))
}

// appendVarint appends a proto3 varint field unless v is zero.
func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}
