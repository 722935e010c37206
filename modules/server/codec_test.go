package server

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
)

// selfEncoded is a message with its own encoding, deliberately not
// proto.Marshal's, so the test sees which one the codec used.
type selfEncoded struct {
	*etcdserverpb.WatchResponse
	b []byte
}

func (s selfEncoded) WireSize() int              { return len(s.b) }
func (s selfEncoded) AppendWire(b []byte) []byte { return append(b, s.b...) }

// declining is a message whose own encoding is not to be used.
type declining struct {
	*etcdserverpb.WatchResponse
}

func (declining) WireSize() int              { return -1 }
func (declining) AppendWire(b []byte) []byte { panic("AppendWire after a declining WireSize") }

func TestCodecUsesWireEncoding(t *testing.T) {
	c := newCodec()
	for _, n := range []int{3, 64 << 10} { // below and above gRPC's pooling threshold
		own := bytes.Repeat([]byte{0x5a}, n)
		out, err := c.Marshal(selfEncoded{&etcdserverpb.WatchResponse{WatchId: 1}, own})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Materialize(); !bytes.Equal(got, own) {
			t.Errorf("size %d: codec sent %x..., not the message's own encoding", n, got[:min(len(got), 8)])
		}
		out.Free()
	}

	// A message that declines (WireSize < 0) is marshalled by proto.
	declined := &etcdserverpb.WatchResponse{WatchId: 9}
	out, err := c.Marshal(declining{declined})
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := proto.Marshal(declined); !bytes.Equal(out.Materialize(), want) {
		t.Errorf("declining message: %x, want proto.Marshal's %x", out.Materialize(), want)
	}

	m := &etcdserverpb.RangeRequest{Key: []byte("k")}
	out, err = c.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := proto.Marshal(m)
	if got := out.Materialize(); !bytes.Equal(got, want) {
		t.Errorf("plain message: %x, want proto.Marshal's %x", got, want)
	}
	var back etcdserverpb.RangeRequest
	if err := c.Unmarshal(out, &back); err != nil || string(back.Key) != "k" {
		t.Errorf("Unmarshal: %v, key %q", err, back.Key)
	}
}
