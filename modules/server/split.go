package server

// The per-connection protocol split, after cmux (what etcd uses) but without
// its per-matcher buffering. Each accepted connection is read just far enough
// to decide where it goes, once, and then handed over whole:
//
//   - not the HTTP/2 client preface (HTTP/1.x, anything else) → net/http;
//   - HTTP/2 (prior knowledge, h2c) whose first HEADERS carries content-type
//     application/grpc or application/grpc+… → grpc-go's Server.Serve;
//   - any other HTTP/2 → net/http (connect-go, /health, /metrics, …).
//
// grpc-go clients wait for the server's SETTINGS before they send their first
// HEADERS, so the sniffer answers the client's SETTINGS with an empty SETTINGS
// frame of its own (cmux's HTTP2MatchHeaderFieldSendSettings), and answers
// PINGs, because the real server is not there yet. The client ACKs that extra
// SETTINGS. grpc-go ignores SETTINGS ACKs, but net/http counts them and closes
// a connection that ACKs a SETTINGS it never sent, so on the way to net/http
// the sniffer removes that one ACK from the byte stream.
//
// The bytes read while sniffing are replayed to the chosen server: it sees the
// connection from its first byte. A connection that a mis-route sends to
// net/http still works (connect-go speaks the gRPC protocol too), only slower.
//
// Nothing here runs per request: after the hand-over, reads pass straight
// through (through one frame filter on the net/http side until that ACK went by).

import (
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/net/http2/hpack"
)

const (
	clientPreface  = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	frameHeaderLen = 9
	// maxSniffFrame is HTTP/2's initial SETTINGS_MAX_FRAME_SIZE: the client
	// may not send larger frames before a server raised the limit, and the
	// sniffer's SETTINGS does not.
	maxSniffFrame = 16384
	// maxSniffBytes bounds what is buffered before a decision; past it the
	// connection goes to net/http, which serves every protocol.
	maxSniffBytes = 256 << 10

	frameHeaders      = 0x1
	frameSettings     = 0x4
	framePing         = 0x6
	frameContinuation = 0x9

	flagAck        = 0x1
	flagEndHeaders = 0x4
	flagPadded     = 0x8
	flagPriority   = 0x20
)

// emptySettings is a SETTINGS frame with no parameters (all defaults).
var emptySettings = []byte{0, 0, 0, frameSettings, 0, 0, 0, 0, 0}

// clientListener is one bound listen URL and the two listeners it feeds.
type clientListener struct {
	spec listenSpec
	raw  net.Listener
	grpc *connListener
	http *connListener
}

func newClientListener(sp listenSpec, raw net.Listener) *clientListener {
	return &clientListener{
		spec: sp,
		raw:  raw,
		grpc: newConnListener(raw.Addr()),
		http: newConnListener(raw.Addr()),
	}
}

func (l *clientListener) close() {
	_ = l.grpc.Close()
	_ = l.http.Close()
}

// connListener is a net.Listener fed with already-accepted connections.
type connListener struct {
	addr net.Addr
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, ch: make(chan net.Conn), done: make(chan struct{})}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// deliver hands c to the server accepting on l, or closes it if l is closed.
func (l *connListener) deliver(c net.Conn) {
	select {
	case l.ch <- c:
	case <-l.done:
		_ = c.Close()
	}
}

func (s *Server) acceptLoop(l *clientListener) {
	var backoff time.Duration
	for {
		c, err := l.raw.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off as net/http does.
			if backoff == 0 {
				backoff = 5 * time.Millisecond
			} else if backoff *= 2; backoff > time.Second {
				backoff = time.Second
			}
			s.log.Warn("accept failed; retrying", zap.String("address", l.raw.Addr().String()), zap.Error(err), zap.Duration("backoff", backoff))
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			_ = c.Close()
			continue
		}
		s.sniffing[c] = struct{}{}
		s.loops.Add(1)
		s.mu.Unlock()
		go s.route(l, c)
	}
}

// route sniffs c and hands it to grpc-go or net/http. A connection that has
// not sent its first request stays here (there is no timeout: an idle gRPC
// client connection is legitimate); Stop closes it.
func (s *Server) route(l *clientListener, c net.Conn) {
	defer s.loops.Done()
	conn, toGRPC, err := sniff(c)
	s.mu.Lock()
	delete(s.sniffing, c)
	s.mu.Unlock()
	if err != nil {
		_ = c.Close()
		if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
			s.log.Debug("client connection closed before its protocol was known", zap.Stringer("remote", c.RemoteAddr()), zap.Error(err))
		}
		return
	}
	if toGRPC {
		l.grpc.deliver(conn)
	} else {
		l.http.deliver(conn)
	}
}

// isGRPCContentType reports whether a request's content-type is the gRPC
// protocol proper (not gRPC-Web, whose types start application/grpc-web).
func isGRPCContentType(ct string) bool {
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+' || rest[0] == ';')
}

// sniffer holds a connection's bytes while its protocol is decided.
type sniffer struct {
	c    net.Conn
	in   []byte // read from c, not yet examined
	out  []byte // examined, to be replayed to the chosen server
	read int    // total bytes read

	sentSettings bool // our SETTINGS went out
	droppedAck   bool // and its ACK was already removed
}

// sniff reads from c until its protocol is known. It returns the connection
// to hand over (replaying what was read) and whether it goes to grpc-go.
func sniff(c net.Conn) (net.Conn, bool, error) {
	sn := &sniffer{c: c, in: make([]byte, 0, 4096)}
	for {
		m := min(len(sn.in), len(clientPreface))
		if string(sn.in[:m]) != clientPreface[:m] {
			return sn.handOver(false), false, nil // HTTP/1.x or not HTTP at all
		}
		if m == len(clientPreface) {
			break
		}
		if err := sn.fill(len(sn.in) + 1); err != nil {
			return nil, false, err
		}
	}
	sn.keep(len(clientPreface))

	var contentType string
	var sawContentType bool
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == "content-type" && !sawContentType {
			contentType, sawContentType = f.Value, true
		}
	})
	for {
		if sn.read > maxSniffBytes {
			return sn.handOver(false), false, nil
		}
		if err := sn.fill(frameHeaderLen); err != nil {
			return nil, false, err
		}
		length, typ, flags := parseFrameHeader(sn.in)
		if length > maxSniffFrame {
			return sn.handOver(false), false, nil // let net/http report the protocol error
		}
		n := frameHeaderLen + int(length)
		if err := sn.fill(n); err != nil {
			return nil, false, err
		}
		payload := sn.in[frameHeaderLen:n]
		switch typ {
		case frameSettings:
			if flags&flagAck != 0 {
				if sn.sentSettings && !sn.droppedAck {
					sn.droppedAck = true
					sn.drop(n)
					continue
				}
			} else if !sn.sentSettings {
				if _, err := c.Write(emptySettings); err != nil {
					return nil, false, err
				}
				sn.sentSettings = true
			}
			sn.keep(n)
		case framePing:
			if flags&flagAck == 0 && length == 8 {
				ack := make([]byte, frameHeaderLen+8)
				ack[2], ack[3], ack[4] = 8, framePing, flagAck
				copy(ack[frameHeaderLen:], payload)
				if _, err := c.Write(ack); err != nil {
					return nil, false, err
				}
				sn.drop(n)
				continue
			}
			sn.keep(n)
		case frameHeaders, frameContinuation:
			block, ok := payload, true
			if typ == frameHeaders {
				block, ok = headerBlockFragment(flags, payload)
			}
			sn.keep(n)
			if !ok {
				return sn.handOver(false), false, nil
			}
			if _, err := dec.Write(block); err != nil {
				return sn.handOver(false), false, nil
			}
			if sawContentType || flags&flagEndHeaders != 0 {
				toGRPC := isGRPCContentType(contentType)
				return sn.handOver(toGRPC), toGRPC, nil
			}
		default:
			sn.keep(n)
		}
	}
}

func parseFrameHeader(b []byte) (length uint32, typ, flags byte) {
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]), b[3], b[4]
}

// headerBlockFragment strips a HEADERS frame's padding and priority fields.
func headerBlockFragment(flags byte, p []byte) ([]byte, bool) {
	pad := 0
	if flags&flagPadded != 0 {
		if len(p) < 1 {
			return nil, false
		}
		pad = int(p[0])
		p = p[1:]
	}
	if flags&flagPriority != 0 {
		if len(p) < 5 {
			return nil, false
		}
		p = p[5:]
	}
	if pad > len(p) {
		return nil, false
	}
	return p[:len(p)-pad], true
}

// fill reads until at least n bytes are waiting in sn.in.
func (sn *sniffer) fill(n int) error {
	var m int
	var err error
	sn.in, m, err = readAtLeast(sn.c, sn.in, n)
	sn.read += m
	return err
}

// readAtLeast reads from r into buf's spare capacity, growing it, until buf
// holds at least n bytes; it returns buf and how many bytes it read.
func readAtLeast(r io.Reader, buf []byte, n int) ([]byte, int, error) {
	read := 0
	for len(buf) < n {
		if cap(buf)-len(buf) < 1024 || cap(buf) < n {
			grown := make([]byte, len(buf), max(2*cap(buf), n+4096))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		read += m
		if err != nil && len(buf) < n {
			return buf, read, err
		}
	}
	return buf, read, nil
}

func (sn *sniffer) keep(n int) {
	sn.out = append(sn.out, sn.in[:n]...)
	sn.in = sn.in[n:]
}

func (sn *sniffer) drop(n int) { sn.in = sn.in[n:] }

// handOver builds the connection to give the chosen server. sn.in starts at a
// frame boundary (or holds non-HTTP/2 bytes, where nothing was sent).
func (sn *sniffer) handOver(toGRPC bool) net.Conn {
	sc := &sniffedConn{Conn: sn.c}
	if !toGRPC && sn.sentSettings && !sn.droppedAck {
		sc.head = sn.out
		sc.dropAck = true
		sc.buf = sn.in
	} else {
		sc.head = append(sn.out, sn.in...)
	}
	return sc
}

// sniffedConn replays the sniffed bytes, then reads the connection.
type sniffedConn struct {
	net.Conn
	head []byte // replayed verbatim first
	// dropAck: the sniffer's SETTINGS is not ACKed yet; the next SETTINGS ACK
	// in the stream is removed (see the file comment). buf holds bytes read
	// from the connection and not yet examined; it starts at a frame boundary.
	dropAck bool
	buf     []byte
}

func (c *sniffedConn) Read(p []byte) (int, error) {
	for {
		if len(c.head) > 0 {
			n := copy(p, c.head)
			c.head = c.head[n:]
			return n, nil
		}
		if !c.dropAck {
			if len(c.buf) > 0 {
				c.head, c.buf = c.buf, nil
				continue
			}
			return c.Conn.Read(p)
		}
		// Pass whole frames until the ACK went by.
		if err := c.fill(frameHeaderLen); err != nil {
			return 0, err
		}
		length, typ, flags := parseFrameHeader(c.buf)
		n := frameHeaderLen + int(length)
		if err := c.fill(n); err != nil {
			return 0, err
		}
		if typ == frameSettings && flags&flagAck != 0 {
			c.buf = c.buf[n:]
			c.dropAck = false
			continue
		}
		// head aliases buf's array below buf; fill only appends past it.
		c.head, c.buf = c.buf[:n:n], c.buf[n:]
	}
}

func (c *sniffedConn) fill(n int) error {
	var err error
	c.buf, _, err = readAtLeast(c.Conn, c.buf, n)
	return err
}

// CloseWrite lets net/http half-close HTTP/1.1 connections as it does for TCP.
func (c *sniffedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
