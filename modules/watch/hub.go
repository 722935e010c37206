package watch

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/mvccpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Store is what the hub and the streams read: the read side of
// *mvcc.Store.
type Store interface {
	Rev() int64
	CompactRev() int64
	Events(ctx context.Context, from int64, maxEvents, maxBytes int, filter func(key []byte) bool) (evs []*mvccpb.Event, next, rev int64, err error)
	Range(ctx context.Context, r *pb.RangeRequest) (*pb.RangeResponse, error)
}

// HubConfig configures a Hub. The zero value is usable.
type HubConfig struct {
	// QueueBytes bounds the event bytes (keys and values, twice: the events
	// and their encodings) a stream may hold unsent; a watcher whose response
	// does not fit is moved behind (0: 8 MiB).
	QueueBytes int
	// QueueResponses bounds the responses a stream may hold unsent (0: 2048).
	QueueResponses int
	// CatchUpEvents bounds the events of one history read (0: 1000); their
	// keys and values are bounded too, to QueueBytes/4 (half an outbox). A
	// catch-up response holds at most the events of that read, and a
	// revision's events are never split between reads.
	CatchUpEvents int
	// CatchUpWatchers bounds the watchers served by one history read (0:
	// 512, etcd's maxWatchersPerSync).
	CatchUpWatchers int
	// CatchUpInterval is how often the catch-up worker looks for work when
	// nothing woke it (0: 100ms, etcd's sync loop period).
	CatchUpInterval time.Duration
	// Logger receives history read failures. nil: zap.NewNop().
	Logger *zap.Logger
}

func (c *HubConfig) defaults() {
	if c.QueueBytes <= 0 {
		c.QueueBytes = 8 << 20
	}
	if c.QueueResponses <= 0 {
		c.QueueResponses = 2048
	}
	if c.CatchUpEvents <= 0 {
		c.CatchUpEvents = 1000
	}
	if c.CatchUpWatchers <= 0 {
		c.CatchUpWatchers = 512
	}
	if c.CatchUpInterval <= 0 {
		c.CatchUpInterval = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// Hub keeps every watcher of the member in one of two groups:
//
//   - synced: it has been handed every event up to the last revision the hub
//     was given (Hub.rev). OnCommit, on the apply goroutine, finds the synced
//     watchers of each event through an index and appends one response per
//     watcher and txn to its stream's bounded outbox. It never blocks: a
//     watcher whose outbox is full leaves synced, remembering the revision
//     it must read next.
//   - unsynced: it needs events from minRev on that the hub no longer holds.
//     A catch-up worker reads them from the store's history (Store.Events,
//     a bounded number per read, one read for many watchers), queues them
//     when the watcher's outbox has room, and moves the watcher back to
//     synced once its next revision is past Hub.rev.
//
// The boundary between the two groups is exact because both sides change a
// watcher under Hub.mu, and a watcher that rejoins synced keeps minRev as a
// floor: OnCommit skips the revisions below it, which it may still be
// dispatching (the store publishes a batch to readers before OnCommit runs
// for its txns) but which the history read already delivered. So every
// event reaches a watcher once, in revision order, and apply never waits for
// a client.
type Hub struct {
	cfg   HubConfig
	store Store

	mu sync.Mutex
	// rev is the revision of the last txn dispatched by OnCommit (or the
	// store's revision when attached): synced watchers have every event up
	// to it queued.
	rev        int64
	attached   bool
	synced     *index
	unsynced   map[*watcher]struct{}
	progressWt map[*stream]struct{} // streams whose deferred progress request waits for a start revision
	touched    []*watcher           // OnCommit scratch

	// fellBehind counts the moves from synced to unsynced (a full outbox);
	// caughtUp the moves back (tests and metrics).
	fellBehind, caughtUp atomic.Int64

	kick      chan struct{}
	stop      chan struct{}
	stopOnce  sync.Once
	startOnce sync.Once
	workers   sync.WaitGroup
}

// NewHub returns a hub without a store: OnCommit may be handed to the store
// before the store exists (the fx graph); Attach completes it.
func NewHub(cfg HubConfig) *Hub {
	cfg.defaults()
	return &Hub{
		cfg:        cfg,
		synced:     newIndex(),
		unsynced:   make(map[*watcher]struct{}),
		progressWt: make(map[*stream]struct{}),
		kick:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
	}
}

// Attach gives the hub its store and starts the catch-up worker. It must be
// called once, before the first stream.
func (h *Hub) Attach(s Store) {
	h.mu.Lock()
	h.store = s
	h.rev = max(h.rev, s.Rev())
	h.attached = true
	h.mu.Unlock()
	h.startOnce.Do(func() {
		h.workers.Add(1)
		go h.catchUpLoop()
	})
}

// Close stops the catch-up worker. Streams must have ended.
func (h *Hub) Close() {
	h.stopOnce.Do(func() { close(h.stop) })
	h.workers.Wait()
}

// Rev is the revision of the last txn handed to the hub.
func (h *Hub) Rev() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rev
}

func (h *Hub) wake() {
	select {
	case h.kick <- struct{}{}:
	default:
	}
}

type watcherState uint8

const (
	stateSynced watcherState = iota
	stateUnsynced
	// stateCompacted: cancelled by compaction (its compacted response
	// queued), in no group, but still the stream's until the client cancels
	// it or the stream ends, as in etcd: its ID stays taken, a cancel request
	// is answered, and the stream's progress requests wait.
	stateCompacted
	stateCanceled
)

// watcher is one watch of one stream. Its request fields are immutable; the
// rest is guarded by Hub.mu.
type watcher struct {
	id  int64
	s   *stream
	key []byte
	// end is nil for a single key, empty (non-nil) for every key from key
	// on, else the exclusive end of the range.
	end            []byte
	startRev       int64
	noPut, noDel   bool
	prevKV         bool
	fragment       bool
	progressNotify bool

	// Guarded by Hub.mu.
	state watcherState
	// minRev: when synced, the first revision OnCommit may hand it (those
	// below were delivered from history or precede its start); when
	// unsynced, the next revision to read from history.
	minRev int64
	busy   bool // a catch-up read for it is in flight

	// OnCommit scratch: the events of the current txn for this watcher,
	// as the run events[first:last+1] while they are contiguous.
	bFirst, bLast, bN int
	batch             []*mvccpb.Event

	// sentEvents is set by the send loop when it sends this watcher events;
	// the progress ticker clears it (etcd elides a progress notification
	// after events).
	sentEvents atomic.Bool
}

func (w *watcher) single() bool { return w.end == nil }

// endsAfter reports whether the range ends after key (key < end).
func (w *watcher) endsAfter(key []byte) bool {
	return len(w.end) == 0 && w.end != nil || bytes.Compare(key, w.end) < 0
}

// endAfterEnd reports whether w's range ends after o's.
func (w *watcher) endAfterEnd(o *watcher) bool {
	wInf, oInf := len(w.end) == 0, len(o.end) == 0
	switch {
	case oInf:
		return false
	case wInf:
		return true
	}
	return bytes.Compare(w.end, o.end) > 0
}

// holds reports whether key is in w's range.
func (w *watcher) holds(key []byte) bool {
	if w.single() {
		return bytes.Equal(key, w.key)
	}
	return bytes.Compare(key, w.key) >= 0 && w.endsAfter(key)
}

// wants reports whether ev passes w's filters.
func (w *watcher) wants(ev *mvccpb.Event) bool {
	if ev.Type == mvccpb.Event_PUT {
		return !w.noPut
	}
	return !w.noDel
}

// eventsSize estimates the bytes a response of evs holds on to: the events
// and their encodings (wireEvent), which another watcher's send may already
// have made.
func eventsSize(evs []*mvccpb.Event) int {
	n := 0
	for _, ev := range evs {
		n += 48
		if ev.Kv != nil {
			n += 2 * (len(ev.Kv.Key) + len(ev.Kv.Value))
		}
	}
	return n
}

// newResponse allocates a response and its header together.
func newResponse(id, rev int64, evs []*mvccpb.Event) *pb.WatchResponse {
	r := &struct {
		resp pb.WatchResponse
		hdr  pb.ResponseHeader
	}{}
	r.hdr.Revision = rev
	r.resp.Header = &r.hdr
	r.resp.WatchId = id
	r.resp.Events = evs
	return &r.resp
}

// OnCommit hands the hub the events of one applied write txn. It is
// mvcc.Config.OnCommit: it runs on the apply goroutine, never blocks on a
// client and does not modify events.
func (h *Hub) OnCommit(rev int64, events []*mvccpb.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev <= h.rev {
		return // replayed before Attach read the store's revision
	}
	h.rev = rev
	if h.synced.len() > 0 {
		h.dispatchLocked(rev, events)
	}
	if len(h.progressWt) > 0 {
		h.checkProgressLocked()
	}
}

func (h *Hub) dispatchLocked(rev int64, events []*mvccpb.Event) {
	for i, ev := range events {
		h.synced.visit(ev.Kv.Key, func(w *watcher) {
			if rev < w.minRev || !w.wants(ev) {
				return
			}
			switch {
			case w.bN == 0:
				w.bFirst, w.bLast = i, i
				h.touched = append(h.touched, w)
			case w.batch == nil && w.bLast == i-1:
				w.bLast = i
			default:
				if w.batch == nil {
					w.batch = append(make([]*mvccpb.Event, 0, len(events)), events[w.bFirst:w.bLast+1]...)
				}
				w.batch = append(w.batch, ev)
			}
			w.bN++
		})
	}
	// Encoding caches for the span of events that watchers take as a run
	// (wire[i] caches events[lo+i]): a large txn of which watchers want a
	// few events costs a few caches.
	lo, hi := len(events), -1
	for _, w := range h.touched {
		if w.batch == nil {
			lo, hi = min(lo, w.bFirst), max(hi, w.bLast)
		}
	}
	var wire []*wireEvent
	if hi >= lo {
		wire = newWire(events[lo : hi+1])
	}
	for _, w := range h.touched {
		it := outItem{w: w}
		evs := w.batch
		if evs == nil {
			// Shared with the store and other watchers: read-only.
			evs = events[w.bFirst : w.bLast+1 : w.bLast+1]
			it.wire = wire[w.bFirst-lo : w.bLast-lo+1 : w.bLast-lo+1]
		}
		it.resp, it.size = newResponse(w.id, rev, evs), eventsSize(evs)
		w.batch, w.bN = nil, 0
		if !w.s.out.push(it, false) {
			// Its client is not reading fast enough: catch up from
			// history from this revision on, once the outbox drains.
			h.synced.remove(w)
			w.state = stateUnsynced
			w.minRev = rev
			h.unsynced[w] = struct{}{}
			w.s.out.setWaiting()
			h.fellBehind.Add(1)
			slowWatcherGauge.Inc()
		}
	}
	clear(h.touched)
	h.touched = h.touched[:0]
}

// errNotAttached guards against a stream before Attach.
var errNotAttached = errors.New("watch: hub has no store")

// create registers a watcher for req on s and queues its created response
// (or the cancel response etcd gives a bad request), all under Hub.mu so that
// the created response precedes the watcher's events.
func (h *Hub) create(s *stream, creq *pb.WatchCreateRequest) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.attached {
		return errNotAttached
	}
	cur := max(h.store.Rev(), h.rev)
	fail := func(reason string) error {
		r := newResponse(-1, cur, nil)
		r.Created, r.Canceled, r.CancelReason = true, true, reason
		s.out.push(outItem{resp: r}, true)
		return nil
	}
	if s.closed {
		return nil
	}
	key := creq.Key
	if len(key) == 0 {
		key = []byte{0} // \x00 is the smallest key
	}
	if creq.StartRevision < 0 {
		return fail(rpcerr.ErrCompacted.Msg)
	}
	end := creq.RangeEnd
	switch {
	case len(end) == 0:
		end = nil
	case len(end) == 1 && end[0] == 0:
		end = []byte{}
	}
	if len(end) != 0 && bytes.Compare(key, end) >= 0 {
		return fail(errEmptyWatcherRange)
	}
	id := creq.WatchId
	if id == autoWatchID {
		for s.watchers[s.nextID] != nil {
			s.nextID++
		}
		id = s.nextID
		s.nextID++
	} else if s.watchers[id] != nil {
		return fail(errDuplicateWatchID)
	}
	w := &watcher{
		id: id, s: s, key: key, end: end, startRev: creq.StartRevision,
		prevKV: creq.PrevKv, fragment: creq.Fragment, progressNotify: creq.ProgressNotify,
	}
	for _, f := range creq.Filters {
		switch f {
		case pb.WatchCreateRequest_NOPUT:
			w.noPut = true
		case pb.WatchCreateRequest_NODELETE:
			w.noDel = true
		}
	}
	created := newResponse(id, cur, nil)
	created.Created = true
	s.out.push(outItem{resp: created}, true)
	s.watchers[id] = w
	watcherGauge.Inc()
	if w.startRev == 0 || w.startRev > cur {
		// Events after cur come through OnCommit (those in (h.rev, cur]
		// are skipped: they precede the watch).
		w.state = stateSynced
		w.minRev = max(cur+1, w.startRev)
		h.synced.add(w)
		return nil
	}
	w.state = stateUnsynced
	w.minRev = w.startRev
	h.unsynced[w] = struct{}{}
	slowWatcherGauge.Inc()
	h.wake()
	return nil
}

// etcd's errors of a watch create request (mvcc's, sent as cancel_reason).
const (
	autoWatchID          = 0
	errEmptyWatcherRange = "mvcc: watcher range is empty"
	errDuplicateWatchID  = "mvcc: duplicate watch ID provided on the WatchStream"
)

// cancel removes watcher id of s and queues its canceled response; an
// unknown id gets no response, as in etcd.
func (h *Hub) cancel(s *stream, id int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := s.watchers[id]
	if w == nil || s.closed {
		return
	}
	h.removeLocked(w)
	r := newResponse(id, max(h.store.Rev(), h.rev), nil)
	r.Canceled = true
	s.out.push(outItem{resp: r}, true)
	h.checkStreamProgressLocked(s)
}

// removeLocked takes w out of its group and its stream.
func (h *Hub) removeLocked(w *watcher) {
	switch w.state {
	case stateSynced:
		h.synced.remove(w)
	case stateUnsynced:
		delete(h.unsynced, w)
		slowWatcherGauge.Dec()
	}
	if w.state != stateCanceled {
		watcherGauge.Dec()
	}
	w.state = stateCanceled
	delete(w.s.watchers, w.id)
}

// closeStream removes every watcher of s.
func (h *Hub) closeStream(s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range s.watchers {
		h.removeLocked(w)
	}
	s.closed = true
	delete(h.progressWt, s)
	s.out.close()
	watchStreamGauge.Dec()
}

// progressAll answers a RequestProgress: a response with watch_id -1 and
// the hub's revision, which tells the client that every event up to it has
// been sent on this stream. etcd answers only when every watcher of the
// stream is synced (and nothing when the stream has none); Cairn defers the
// answer until they are instead of dropping it.
func (h *Hub) progressAll(s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed || len(s.watchers) == 0 {
		return
	}
	s.progressPending = true
	h.checkStreamProgressLocked(s)
}

func (h *Hub) checkProgressLocked() {
	for s := range h.progressWt {
		h.checkStreamProgressLocked(s)
	}
}

func (h *Hub) checkStreamProgressLocked(s *stream) {
	if !s.progressPending {
		return
	}
	// etcd's progressIfSync: every watcher synced, and none waiting for a
	// start revision the hub has not reached. Progress requests are rare,
	// so a scan of the stream's watchers is cheap enough; but the stream
	// waits in progressWt, scanned at every commit, only while a start
	// revision holds it: an unsynced or compacted watcher changes state
	// through catch-up or cancel, which check again.
	for _, w := range s.watchers {
		if w.state != stateSynced {
			delete(h.progressWt, s)
			return
		}
		if h.rev < w.startRev {
			h.progressWt[s] = struct{}{}
			return
		}
	}
	s.progressPending = false
	delete(h.progressWt, s)
	if len(s.watchers) == 0 {
		return
	}
	s.out.push(outItem{resp: newResponse(-1, h.rev, nil)}, true)
}

// progressTick sends the periodic progress notification to each watcher of
// s that asked for them, is synced and got no events since the last tick, as
// etcd's progress ticker does.
func (h *Hub) progressTick(s *stream) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.closed {
		return
	}
	for _, w := range s.watchers {
		if !w.progressNotify {
			continue
		}
		if w.sentEvents.Swap(false) {
			continue
		}
		if w.state != stateSynced || h.rev < w.startRev {
			continue
		}
		s.out.push(outItem{resp: newResponse(w.id, h.rev, nil)}, true)
	}
}

// catchUpLoop is the catch-up worker: it serves unsynced watchers from the
// store's history whenever one is waiting and its stream has room.
func (h *Hub) catchUpLoop() {
	defer h.workers.Done()
	t := time.NewTicker(h.cfg.CatchUpInterval)
	defer t.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-h.stop
		cancel()
	}()
	for {
		select {
		case <-h.stop:
			return
		case <-h.kick:
		case <-t.C:
		}
		for h.catchUp(ctx) {
			select {
			case <-h.stop:
				return
			default:
			}
		}
	}
}

// catchUp does one history read for a group of unsynced watchers whose
// outboxes have room. It reports whether it did any work.
func (h *Hub) catchUp(ctx context.Context) bool {
	h.mu.Lock()
	var group []*watcher
	minRev := int64(-1)
	for w := range h.unsynced {
		if len(group) >= h.cfg.CatchUpWatchers {
			break
		}
		if w.busy {
			continue
		}
		if !w.s.out.room() {
			w.s.out.setWaiting()
			continue
		}
		w.busy = true
		group = append(group, w)
		if minRev < 0 || w.minRev < minRev {
			minRev = w.minRev
		}
	}
	h.mu.Unlock()
	if len(group) == 0 {
		return false
	}
	defer func() {
		h.mu.Lock()
		for _, w := range group {
			w.busy = false
		}
		h.mu.Unlock()
	}()

	// The group's key ranges are immutable, so the filter needs no lock.
	ix := newIndex()
	for _, w := range group {
		ix.add(w)
	}
	evs, next, rev, err := h.store.Events(ctx, minRev, h.cfg.CatchUpEvents, max(h.cfg.QueueBytes/4, 1), ix.contains)
	if errors.Is(err, rpcerr.ErrCompacted) {
		h.cancelCompacted(group)
		return true
	}
	if err != nil {
		if ctx.Err() == nil {
			h.cfg.Logger.Warn("watch: history read failed", zap.Int64("from", minRev), zap.Error(err))
		}
		return false
	}

	// Split the events per watcher outside the lock: only this worker
	// changes a busy watcher's minRev.
	type events struct {
		evs  []*mvccpb.Event
		wire []*wireEvent
	}
	per := make(map[*watcher]*events, len(group))
	for _, ev := range evs {
		// One cache per event (not one array for the read), so that a
		// watcher slow to send keeps only its own events' encodings.
		var wire *wireEvent
		ix.visit(ev.Kv.Key, func(w *watcher) {
			if ev.Kv.ModRevision >= w.minRev && w.wants(ev) {
				e := per[w]
				if e == nil {
					e = &events{}
					per[w] = e
				}
				if wire == nil {
					wire = &wireEvent{ev: ev}
				}
				e.evs, e.wire = append(e.evs, ev), append(e.wire, wire)
			}
		})
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range group {
		if w.state != stateUnsynced {
			continue // canceled meanwhile
		}
		if mine := per[w]; mine != nil {
			it := outItem{w: w, resp: newResponse(w.id, rev, mine.evs), wire: mine.wire, size: eventsSize(mine.evs)}
			if !w.s.out.push(it, false) {
				w.s.out.setWaiting()
				continue // read again once there is room
			}
		}
		w.minRev = max(w.minRev, next)
		if w.minRev > h.rev {
			// Caught up with everything dispatched: OnCommit serves it from
			// minRev on.
			delete(h.unsynced, w)
			slowWatcherGauge.Dec()
			w.state = stateSynced
			h.synced.add(w)
			h.caughtUp.Add(1)
			if w.s.progressPending {
				h.checkStreamProgressLocked(w.s)
			}
		}
	}
	return true
}

// cancelCompacted cancels the watchers of group that need a revision below
// the compacted one, with compact_revision set as etcd does (and a header
// revision of 0, as etcd's).
func (h *Hub) cancelCompacted(group []*watcher) {
	compactRev := h.store.CompactRev()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, w := range group {
		if w.state != stateUnsynced || w.minRev >= compactRev {
			continue
		}
		delete(h.unsynced, w)
		slowWatcherGauge.Dec()
		w.state = stateCompacted
		r := newResponse(w.id, 0, nil)
		r.CompactRevision, r.Canceled = compactRev, true
		w.s.out.push(outItem{resp: r}, true)
	}
}
