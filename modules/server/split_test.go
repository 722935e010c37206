package server_test

import (
	"bytes"
	"net"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/cairnkv/cairn/modules/server"
)

// h2conn is a hand-driven HTTP/2 client connection, to exercise what the
// sniffer must survive that Go's and grpc-go's clients may not happen to do.
type h2conn struct {
	t  *testing.T
	c  net.Conn
	fr *http2.Framer
}

func dialH2(t *testing.T, addr string) *h2conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	return &h2conn{t: t, c: c, fr: fr}
}

func (h *h2conn) must(err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatal(err)
	}
}

func (h *h2conn) getFrame(addr, path string, stream uint32) http2.HeadersFrameParam {
	var buf bytes.Buffer
	enc := hpack.NewEncoder(&buf)
	for _, f := range []hpack.HeaderField{
		{Name: ":method", Value: "GET"}, {Name: ":scheme", Value: "http"},
		{Name: ":authority", Value: addr}, {Name: ":path", Value: path},
	} {
		h.must(enc.WriteField(f))
	}
	return http2.HeadersFrameParam{StreamID: stream, BlockFragment: buf.Bytes(), EndStream: true, EndHeaders: true}
}

// response reads frames until stream ends, ACKing the server's SETTINGS, and
// returns its :status and body.
func (h *h2conn) response(stream uint32) (string, string) {
	h.t.Helper()
	var status string
	var body []byte
	for {
		f, err := h.fr.ReadFrame()
		h.must(err)
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				h.must(h.fr.WriteSettingsAck())
			}
		case *http2.GoAwayFrame:
			h.t.Fatalf("GOAWAY %v %q", f.ErrCode, f.DebugData())
		case *http2.RSTStreamFrame:
			h.t.Fatalf("RST_STREAM %v", f.ErrCode)
		case *http2.MetaHeadersFrame:
			if f.StreamID == stream {
				status = f.PseudoValue("status")
				if f.StreamEnded() {
					return status, string(body)
				}
			}
		case *http2.DataFrame:
			if f.StreamID == stream {
				body = append(body, f.Data()...)
				if f.StreamEnded() {
					return status, string(body)
				}
			}
		}
	}
}

// A client that waits for the server's SETTINGS before its first request (as
// grpc-go's does), ACKs it and PINGs while the sniffer still holds the
// connection, then makes a plain HTTP/2 request: the sniffer answers the PING,
// drops the ACK, and net/http serves two requests on the connection.
func TestSniffClientWaitsForSettings(t *testing.T) {
	_, addr := startServer(t, server.Services{}, nil)
	h := dialH2(t, addr)
	_, err := h.c.Write([]byte(http2.ClientPreface))
	h.must(err)
	h.must(h.fr.WriteSettings())

	f, err := h.fr.ReadFrame()
	h.must(err)
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() {
		t.Fatalf("first server frame %v, want SETTINGS", f)
	}
	h.must(h.fr.WriteSettingsAck())
	ping := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	h.must(h.fr.WritePing(false, ping))
	f, err = h.fr.ReadFrame()
	h.must(err)
	if pf, ok := f.(*http2.PingFrame); !ok || !pf.IsAck() || pf.Data != ping {
		t.Fatalf("got %v, want the PING ACK", f)
	}

	for _, stream := range []uint32{1, 3} {
		h.must(h.fr.WriteHeaders(h.getFrame(addr, "/health", stream)))
		if status, body := h.response(stream); status != "200" || body != `{"health":"true","reason":""}` {
			t.Fatalf("stream %d: %s %q", stream, status, body)
		}
	}
}

// A client that sends its first request right behind the preface (as Go's
// does) ACKs the sniffer's SETTINGS only after the connection went to
// net/http, which would close it as a protocol error if the ACK reached it.
func TestSniffAckAfterHandOver(t *testing.T) {
	_, addr := startServer(t, server.Services{}, nil)
	h := dialH2(t, addr)
	_, err := h.c.Write([]byte(http2.ClientPreface))
	h.must(err)
	h.must(h.fr.WriteSettings())
	h.must(h.fr.WriteHeaders(h.getFrame(addr, "/livez", 1)))

	f, err := h.fr.ReadFrame()
	h.must(err)
	if sf, ok := f.(*http2.SettingsFrame); !ok || sf.IsAck() || sf.NumSettings() != 0 {
		t.Fatalf("first server frame %v, want the sniffer's empty SETTINGS", f)
	}
	h.must(h.fr.WriteSettingsAck())
	if status, body := h.response(1); status != "200" || body != "ok\n" {
		t.Fatalf("stream 1: %s %q", status, body)
	}
	h.must(h.fr.WriteHeaders(h.getFrame(addr, "/livez", 3)))
	if status, body := h.response(3); status != "200" || body != "ok\n" {
		t.Fatalf("stream 3: %s %q", status, body)
	}
	// The connection is still healthy: a PING is answered by net/http now.
	h.must(h.fr.WritePing(false, [8]byte{9}))
	for {
		f, err := h.fr.ReadFrame()
		h.must(err)
		if pf, ok := f.(*http2.PingFrame); ok && pf.IsAck() {
			break
		}
		if ga, ok := f.(*http2.GoAwayFrame); ok {
			t.Fatalf("GOAWAY %v", ga.ErrCode)
		}
	}
}
