package server

import (
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// wireMarshaler is a message that knows its own encoding, the bytes
// proto.Marshal would give, more cheaply than proto.Marshal finds them: a
// watch response reuses the encoding of events it shares with other
// watchers' responses. WireSize comes first; AppendWire appends exactly
// that many bytes. A WireSize below 0 declines: the message is marshalled
// as any other.
type wireMarshaler interface {
	WireSize() int
	AppendWire(b []byte) []byte
}

// codec is gRPC's proto codec, which it calls for everything but a
// wireMarshaler. The server forces it (grpc.ForceServerCodecV2) whatever
// content-subtype a request names: grpc-go would otherwise pick a codec by
// subtype, but the only one registered is proto, which it falls back to
// anyway. A codec registered later (JSON, say) would be bypassed.
type codec struct {
	encoding.CodecV2
}

func newCodec() codec {
	return codec{encoding.GetCodecV2(grpcproto.Name)}
}

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	m, ok := v.(wireMarshaler)
	if !ok {
		return c.CodecV2.Marshal(v)
	}
	n := m.WireSize()
	if n < 0 {
		return c.CodecV2.Marshal(v)
	}
	if mem.IsBelowBufferPoolingThreshold(n) {
		return mem.BufferSlice{mem.SliceBuffer(m.AppendWire(make([]byte, 0, n)))}, nil
	}
	pool := mem.DefaultBufferPool()
	buf := pool.Get(n)
	*buf = m.AppendWire((*buf)[:0])
	return mem.BufferSlice{mem.NewBuffer(buf, pool)}, nil
}
