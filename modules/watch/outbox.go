package watch

import (
	"sync"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
)

// stream is the hub's view of one Watch stream: its watchers and the outbox
// its send loop drains.
type stream struct {
	out *outbox

	// Guarded by Hub.mu.
	watchers        map[int64]*watcher
	nextID          int64
	closed          bool
	progressPending bool
}

func (h *Hub) newStream() *stream {
	watchStreamGauge.Inc()
	return &stream{
		out:      newOutbox(h.cfg.QueueBytes, h.cfg.QueueResponses, h.wake),
		watchers: make(map[int64]*watcher),
	}
}

// outItem is one response waiting to be sent. w is the watcher of an event
// response (nil for control responses); size counts its event bytes. wire,
// when set, holds the shared encodings of resp.Events (see wireResponse).
type outItem struct {
	w    *watcher
	resp *pb.WatchResponse
	wire []*wireEvent
	size int
}

// outbox is the bounded queue between the hub (OnCommit on the apply
// goroutine, the catch-up worker, the receive loop) and the stream's one send
// loop. Event responses are refused once it holds maxBytes of events or
// maxItems responses, so a client that does not read costs at most that
// (plus one catch-up response and the control responses, which are always
// taken: the receive loop stops reading requests while too many of them
// wait, see full). Its lock is taken after Hub.mu, never before.
type outbox struct {
	maxBytes, maxItems int
	wakeHub            func()

	mu    sync.Mutex
	items []outItem
	head  int
	// off is the sequence number of items[0]; pending maps a watcher to the
	// sequence number of its queued, unsent event response.
	off     int
	pending map[*watcher]int
	bytes   int // event bytes queued and being sent
	waiting bool
	closed  bool

	ready   chan struct{} // an item was queued
	drained chan struct{} // an item was sent
}

func newOutbox(maxBytes, maxItems int, wakeHub func()) *outbox {
	return &outbox{
		maxBytes: maxBytes, maxItems: maxItems, wakeHub: wakeHub,
		pending: make(map[*watcher]int),
		ready:   make(chan struct{}, 1), drained: make(chan struct{}, 1),
	}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// push queues it unless force is false and the outbox is full. It reports
// whether it did; a closed outbox takes everything and drops it.
//
// Events for a watcher that already has an event response waiting are
// appended to that response instead of queued behind: a client that reads
// more slowly than the store writes gets fewer, larger responses (as etcd's
// catch-up gives), which costs both sides less per event. A response that
// carries no events (created, canceled, progress) ends every merge: events
// pushed after it are never moved before it. A progress response promises
// that every event up to its revision was sent and nothing past it
// (clientv3 resumes from its revision + 1), so an event merged ahead of it
// would be delivered twice after a reconnect.
func (o *outbox) push(it outItem, force bool) bool {
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return true
	}
	if it.w != nil {
		if seq, ok := o.pending[it.w]; ok && o.items[seq-o.off].size+it.size <= maxMergeBytes {
			if !force && o.bytes >= o.maxBytes {
				o.mu.Unlock()
				return false
			}
			p := &o.items[seq-o.off]
			// The queued slice may be shared (cap == len): append copies it.
			p.resp.Events = append(p.resp.Events, it.resp.Events...)
			if p.wire != nil && it.wire != nil {
				p.wire = append(p.wire, it.wire...)
			} else {
				p.wire = nil
			}
			p.resp.Header.Revision = max(p.resp.Header.Revision, it.resp.Header.Revision)
			p.size += it.size
			o.bytes += it.size
			o.mu.Unlock()
			return true
		}
	}
	if !force && (o.bytes >= o.maxBytes || len(o.items)-o.head >= o.maxItems) {
		o.mu.Unlock()
		return false
	}
	if it.w != nil {
		o.pending[it.w] = o.off + len(o.items)
	} else {
		clear(o.pending)
	}
	o.items = append(o.items, it)
	o.bytes += it.size
	o.mu.Unlock()
	signal(o.ready)
	return true
}

// room reports whether the outbox is below half its bounds: the catch-up
// worker waits for that much room, so that a slow reader gets large
// catch-up responses rather than one response per drained slot.
func (o *outbox) room() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.closed && o.bytes < o.maxBytes/2 && len(o.items)-o.head < o.maxItems/2
}

// full reports whether the receive loop should wait before handling more
// requests: control responses are queued even when the outbox is full, so
// this bounds them.
func (o *outbox) full() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return !o.closed && len(o.items)-o.head >= o.maxItems+controlSlack
}

// maxMergeBytes bounds the event bytes of a merged response: clients other
// than clientv3 often keep gRPC's 4 MiB default receive limit.
const maxMergeBytes = 1 << 20

// controlSlack is how many control responses may wait beyond maxItems.
const controlSlack = 64

// setWaiting asks the send loop to wake the hub once there is room.
func (o *outbox) setWaiting() {
	o.mu.Lock()
	o.waiting = true
	o.mu.Unlock()
}

// pop takes the oldest item; false when empty.
func (o *outbox) pop() (outItem, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.head == len(o.items) {
		return outItem{}, false
	}
	it := o.items[o.head]
	if it.w != nil && o.pending[it.w] == o.off+o.head {
		delete(o.pending, it.w)
	}
	o.items[o.head] = outItem{}
	o.head++
	if o.head == len(o.items) {
		o.off += o.head
		o.items, o.head = o.items[:0], 0
	} else if o.head > 1024 && o.head*2 > len(o.items) {
		n := copy(o.items, o.items[o.head:])
		clear(o.items[n:])
		o.off += o.head
		o.items, o.head = o.items[:n], 0
	}
	return it, true
}

// sent releases the bytes of a sent item and wakes the hub if a watcher of
// this stream waits for room.
func (o *outbox) sent(size int) {
	o.mu.Lock()
	o.bytes -= size
	wake := o.waiting && o.bytes < o.maxBytes/2 && len(o.items)-o.head < o.maxItems/2
	if wake {
		o.waiting = false
	}
	o.mu.Unlock()
	signal(o.drained)
	if wake {
		o.wakeHub()
	}
}

// close drops the queued items; later pushes are dropped too.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	clear(o.items)
	o.items, o.head, o.bytes = nil, 0, 0
	clear(o.pending)
	o.mu.Unlock()
	signal(o.ready)
	signal(o.drained)
}
