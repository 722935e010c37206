// Package raftlog runs a member's raft node (go.etcd.io/raft/v3) over the
// member's pebble database: it orders proposals into a durable log, applies
// committed entries in log order, and answers linearizable reads.
//
// One goroutine, the raft loop, owns the RawNode. It drains proposals in bulk
// (every proposal waiting in the channel joins the same raft message, and so
// the same Ready), writes each Ready's entries and HardState in one synced
// pebble batch (group commit: one fdatasync for all concurrent writers), and
// hands committed entries to the apply loop. The apply loop applies the
// committed entries of one or more Readys in one unsynced, indexed pebble
// batch that also records the applied index, then wakes the proposers.
// Applying entries N overlaps with the sync of entries N+1. The unsynced apply
// batch needs no fsync of its own: pebble has one WAL, so the next synced log
// append makes it durable, and if a crash loses it the entries are still in
// the log and are applied again on restart.
//
// A sole voter usually skips the apply loop: its entries are committed once
// they are durable, so when every earlier entry is applied, the raft loop
// applies the new entries into the batch that appends them, and one synced
// commit makes the entries, their effects and the applied index durable
// together (canApplyWithAppend). Applied, the entries would be truncated at
// once, so they are not written to the log at all: the batch records them as
// truncated. A one-client put then costs one pebble commit, no hand-off to
// the apply loop, and its WAL record holds the value once. raft's in-memory
// log is compacted as below. Conf changes, and entries that arrive while the
// apply loop has work, take the usual path.
//
// Linearizable reads use raft's ReadIndex. Reads that arrive while a round is
// in flight share the next round (raft itself sends one heartbeat per
// ReadIndex call), then wait until the applied index reaches the read index.
//
// The log is truncated behind the applied index with one pebble range
// deletion, so start time does not grow with history. A member with peers
// keeps a window for slow followers, as etcd does: every SnapshotCount applied
// entries, it deletes the entries older than applied-CatchUpEntries. A sole
// voter has no follower to keep entries for: every SoleVoterTruncEntries
// applied entries, or SoleVoterTruncBytes of them, it deletes every applied
// entry, on disk and in raft's in-memory log (and at start it reads only the
// indexes of the applied entries still on disk). The range deletion usually
// lands in the memtable that holds the entries, so pebble's flush drops them:
// the log costs one WAL write, not a flush and compactions too (with 64 KiB
// values it halved the bytes written to blob files).
//
// Membership is shaped for more than one member (IDs, ConfState, a Transport
// seam for messages) but only single-member clusters run today: with one
// voter, no message ever leaves the member.
package raftlog

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"go.uber.org/zap"
)

// Sentinel errors of Propose and ReadIndex.
var (
	// ErrStopped is returned once the node is stopping.
	ErrStopped = errors.New("raftlog: node stopped")
	// ErrNoLeader is returned when the cluster has no leader to order a request.
	ErrNoLeader = errors.New("raftlog: no leader")
	// ErrLeaderChanged is returned when a read's ReadIndex round was cut short by a leader change.
	ErrLeaderChanged = errors.New("raftlog: leader changed")
	// ErrTimeout is returned when a proposal was not applied within Config.ProposalTimeout.
	ErrTimeout = errors.New("raftlog: proposal timed out")
)

// Applier is the state machine that committed entries are applied to. It is
// called in log order by one goroutine at a time, never two at once: the
// apply loop, or the raft loop when a sole voter applies entries with their
// append (a mutex hands it over, so each sees the other's writes). Its
// "apply goroutine" is whichever of them holds it.
type Applier interface {
	// ApplyEntry applies the data of one committed normal entry into b, an
	// indexed batch shared by every entry of the round (so an entry reads the
	// writes of the entries before it). It returns the proposal ID found in
	// data and the result for the proposer waiting on that ID. It must be
	// deterministic: every member applies the same entries to the same state.
	// A request that fails (a compare, a missing lease) is a result, not an
	// error: err is for a failure of the state machine itself (storage),
	// after which b is unusable and the member stops.
	ApplyEntry(b *pebble.Batch, index uint64, data []byte) (id uint64, result any, err error)
	// Committed is called once b was committed.
	Committed(b *pebble.Batch)
	// Aborted is called instead of Committed when committing b failed.
	Aborted(b *pebble.Batch)
}

// Transport carries raft messages to the other members. The single-member
// cluster needs none (nil).
type Transport interface {
	Send(msgs []raftpb.Message)
}

// Config configures a Node. Zero values take etcd's defaults.
type Config struct {
	// ClusterID and MemberID identify a new member; a restarted member uses the
	// IDs stored in its database instead (as etcd does).
	ClusterID, MemberID uint64
	// Peers are the voters of a new cluster, MemberID among them. Default: MemberID alone.
	Peers []uint64
	// TickInterval is etcd's --heartbeat-interval (default 100ms); ElectionTicks
	// is --election-timeout divided by it (default 10).
	TickInterval  time.Duration
	ElectionTicks int
	// SnapshotCount is etcd's --snapshot-count (default 10000): a member with
	// peers truncates its log each time this many entries were applied since
	// the last time. A sole voter truncates more often (see the package doc).
	SnapshotCount uint64
	// CatchUpEntries is how many applied entries stay in the log for slow
	// followers (etcd's default 5000). A sole voter keeps none.
	CatchUpEntries uint64
	// MaxProposalBatch caps the proposals drained into one raft message, and so
	// into one Ready (default 4096).
	MaxProposalBatch int
	// ProposalTimeout bounds how long Propose waits for its entry to apply,
	// as etcd's request timeout (default 7s: 5s + 2 × election timeout). It
	// is enforced by the raft loop's ticker, at tick granularity, so that a
	// proposal costs no timer of its own.
	ProposalTimeout time.Duration
	Transport       Transport
	Logger          *zap.Logger
}

func (c *Config) ensureDefaults() error {
	if c.MemberID == 0 {
		return errors.New("raftlog: member ID must not be 0")
	}
	if len(c.Peers) == 0 {
		c.Peers = []uint64{c.MemberID}
	}
	if c.TickInterval == 0 {
		c.TickInterval = 100 * time.Millisecond
	}
	if c.ElectionTicks == 0 {
		c.ElectionTicks = 10
	}
	if c.SnapshotCount == 0 {
		c.SnapshotCount = 10000
	}
	if c.CatchUpEntries == 0 {
		c.CatchUpEntries = 5000
	}
	if c.MaxProposalBatch == 0 {
		c.MaxProposalBatch = 4096
	}
	if c.ProposalTimeout == 0 {
		c.ProposalTimeout = 5*time.Second + 2*time.Duration(c.ElectionTicks)*c.TickInterval
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	return nil
}

type proposal struct {
	id   uint64
	data []byte
}

type applyJob struct {
	ents      []raftpb.Entry
	confState *raftpb.ConfState
}

// Status is a snapshot of the node's raft state.
type Status struct {
	ClusterID, MemberID uint64
	Leader              uint64
	Term                uint64
	CommitIndex         uint64
	AppliedIndex        uint64
	LastIndex           uint64
	// Voters is shared with the Node and other callers: read it, never
	// modify it (a conf change stores a new slice). Status is called for
	// every response header, so it does not copy.
	Voters []uint64
}

// Node is a running raft member.
type Node struct {
	cfg     Config
	db      *pebble.DB
	app     Applier
	log     *zap.Logger
	storage *raft.MemoryStorage
	rn      *raft.RawNode // owned by the raft loop

	clusterID, memberID uint64
	idGen               atomic.Uint64

	propc    chan proposal
	propBuf  []proposal // the raft loop's, reused by propose
	readc    chan struct{}
	applyc   chan applyJob
	appliedc chan struct{}
	stopc    chan struct{}
	done     sync.WaitGroup
	stopOnce sync.Once

	// Read by any goroutine; written by the raft loop.
	leader, term, commit, lastIndex atomic.Uint64
	applied                         atomic.Uint64 // written by the apply loop
	voters                          atomic.Pointer[[]uint64]

	// Raft loop state.
	bootCommit  uint64 // commit index found at start: replayed before Start returns
	truncIndex  uint64
	lastTrunc   atomic.Uint64 // applied index at the last truncation check; read by the apply loop
	memTrunc    atomic.Uint64 // index the in-memory log was last compacted to; read by the apply loop
	untrunc     atomic.Int64  // entry bytes applied since a sole voter's last truncation; added to by the apply loop
	handedOut   uint64        // last committed entry raft handed out in a Ready
	readSeq     uint64
	inflight    *readBatch
	inflightCtx uint64

	readMu      sync.Mutex
	pendingRead *readBatch
	raftReads   bool // tests: confirm every read through raft, even as sole voter
	// tests: apply every entry on the apply loop, as a member with peers does
	noApplyWithAppend atomic.Bool
	keepLog           bool // tests: never truncate the log, so that its entries can be counted

	ticks   atomic.Uint64 // raft ticks since start
	waitMu  sync.Mutex
	waiters map[uint64]waiter

	appliedMu      sync.Mutex
	appliedWaiters []appliedWaiter

	// applyMu is held by whoever applies entries: the apply loop for a
	// round, or the raft loop while a sole voter applies entries with their
	// append (see appendAndApply).
	applyMu sync.Mutex
}

// waiter is a proposer waiting for its entry to apply.
type waiter struct {
	ch   chan any
	tick uint64 // ticks when it proposed
}

type readBatch struct {
	done  chan struct{}
	index uint64
	err   error
}

type appliedWaiter struct {
	index uint64
	ch    chan struct{}
}

// New opens the raft state in db: a new member bootstraps its cluster; a
// restarted one reloads its HardState and log, and the entries committed but
// not applied before the stop are applied again when Start runs.
func New(db *pebble.DB, cfg Config, app Applier) (*Node, error) {
	if err := cfg.ensureDefaults(); err != nil {
		return nil, err
	}
	p, err := loadLog(db, true)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		db:       db,
		app:      app,
		log:      cfg.Logger,
		storage:  raft.NewMemoryStorage(),
		propc:    make(chan proposal, cfg.MaxProposalBatch),
		readc:    make(chan struct{}, 1),
		applyc:   make(chan applyJob, 64),
		appliedc: make(chan struct{}, 1),
		stopc:    make(chan struct{}),
		waiters:  make(map[uint64]waiter),
	}
	fresh := p.empty()
	if fresh {
		n.clusterID, n.memberID = cfg.ClusterID, cfg.MemberID
		b := db.NewBatch()
		if err := putUint64s(b, keyIdentity, n.clusterID, n.memberID); err != nil {
			return nil, err
		}
		// The initial voters, so that a crash before the first apply batch
		// still restarts with them.
		cs, err := (&raftpb.ConfState{Voters: cfg.Peers}).Marshal()
		if err != nil {
			return nil, err
		}
		if err := b.Set(keyConfState, cs, nil); err != nil {
			return nil, err
		}
		if err := b.Commit(pebble.Sync); err != nil {
			return nil, err
		}
		b.Close()
	} else {
		n.clusterID, n.memberID = p.clusterID, p.memberID
		if n.memberID == 0 {
			return nil, errors.New("raftlog: database has a raft log but no member identity")
		}
		if p.truncIndex > 0 {
			err := n.storage.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{
				Index: p.truncIndex, Term: p.truncTerm, ConfState: p.confState,
			}})
			if err != nil {
				return nil, fmt.Errorf("raftlog: restore truncated log: %w", err)
			}
		}
		if err := n.storage.Append(p.entries); err != nil {
			return nil, err
		}
		if err := n.storage.SetHardState(p.hardState); err != nil {
			return nil, err
		}
		n.truncIndex = p.truncIndex
	}
	// Proposal IDs: the member's low 16 bits on top, then a counter seeded
	// from the clock, so IDs do not repeat across restarts.
	n.idGen.Store(n.memberID<<48 | uint64(time.Now().UnixMilli())<<8&(1<<48-1))
	applied := p.applied
	if applied < p.truncIndex {
		applied = p.truncIndex
	}
	n.applied.Store(applied)
	n.handedOut = applied
	n.lastTrunc.Store(applied)
	n.memTrunc.Store(n.truncIndex)
	if !fresh && applied > n.truncIndex && soleVoter(p.confState.Voters, n.memberID) {
		// As maybeTruncate does, before raft sees the log (load read only
		// the indexes of the entries before the applied one).
		if err := n.dropApplied(applied); err != nil {
			return nil, err
		}
	}
	// MemoryStorage only knows the ConfState of a snapshot it was given; an
	// untruncated log has none, so hand raft the persisted one directly.
	var st raft.Storage = n.storage
	if !fresh {
		st = confStateStorage{n.storage, p.confState}
	}
	rcfg := &raft.Config{
		ID:                        n.memberID,
		ElectionTick:              cfg.ElectionTicks,
		HeartbeatTick:             1,
		Storage:                   st,
		Applied:                   applied,
		MaxSizePerMsg:             1 << 20,
		MaxCommittedSizePerReady:  maxCommittedSizePerReady,
		MaxInflightMsgs:           512,
		MaxUncommittedEntriesSize: 1 << 30,
		CheckQuorum:               true,
		PreVote:                   true,
		Logger:                    &zapRaftLogger{n.log.Sugar()},
	}
	rn, err := raft.NewRawNode(rcfg)
	if err != nil {
		return nil, fmt.Errorf("raftlog: %w", err)
	}
	n.rn = rn
	if fresh {
		peers := make([]raft.Peer, len(cfg.Peers))
		for i, id := range cfg.Peers {
			peers[i] = raft.Peer{ID: id}
		}
		if err := rn.Bootstrap(peers); err != nil {
			return nil, fmt.Errorf("raftlog: bootstrap: %w", err)
		}
	}
	vs := append([]uint64(nil), p.confState.Voters...)
	if fresh {
		vs = append([]uint64(nil), cfg.Peers...)
	}
	n.voters.Store(&vs)
	n.bootCommit = p.hardState.Commit
	last := p.truncIndex
	if len(p.entries) > 0 {
		last = p.entries[len(p.entries)-1].Index
	}
	n.lastIndex.Store(last)
	n.commit.Store(p.hardState.Commit)
	n.term.Store(p.hardState.Term)
	return n, nil
}

// ClusterID returns the cluster's ID.
func (n *Node) ClusterID() uint64 { return n.clusterID }

// MemberID returns this member's ID.
func (n *Node) MemberID() uint64 { return n.memberID }

// Start runs the raft and apply loops and returns once every entry committed
// before the start is applied (replay), so that reads after it see every
// write acknowledged before a restart. A single voter campaigns at once.
func (n *Node) Start(ctx context.Context) error {
	n.done.Add(1)
	go n.runApply()
	if n.isSoleVoter() {
		// Handle the bootstrap Ready first so the campaign sees a persisted log.
		for n.rn.HasReady() {
			n.handleReady()
		}
		if err := n.rn.Campaign(); err != nil {
			n.log.Warn("raft campaign failed", zap.Error(err))
		}
		// A lone voter wins at once; settle it before serving, so the first
		// requests find a leader.
		for n.rn.HasReady() {
			n.handleReady()
		}
	}
	// A lone voter's campaign above committed its whole log: wait for that.
	target := max(n.bootCommit, n.commit.Load())
	n.done.Add(1)
	go n.runRaft()
	if err := n.WaitApplied(ctx, target); err != nil {
		return fmt.Errorf("raftlog: replaying the log: %w", err)
	}
	return nil
}

// Stop stops both loops once the entries handed to apply are applied.
// Waiting proposals and reads fail with ErrStopped.
func (n *Node) Stop() {
	n.stopOnce.Do(func() { close(n.stopc) })
	n.done.Wait()
}

// NextID returns a new proposal ID.
func (n *Node) NextID() uint64 { return n.idGen.Add(1) }

// Propose appends data, which carries proposal ID id, to the log and waits
// until it is applied; it returns what the Applier returned for id.
func (n *Node) Propose(ctx context.Context, id uint64, data []byte) (any, error) {
	ch := make(chan any, 1)
	n.waitMu.Lock()
	n.waiters[id] = waiter{ch: ch, tick: n.ticks.Load()}
	n.waitMu.Unlock()
	// One select for the hand-over and the wait: propc is switched off
	// (nil) once the proposal is in; a timeout may answer even before.
	propc := n.propc
	for {
		select {
		case propc <- proposal{id: id, data: data}:
			propc = nil
		case r := <-ch:
			if err, ok := r.(error); ok {
				return nil, err
			}
			return r, nil
		case <-ctx.Done():
			n.forget(id)
			return nil, ctx.Err()
		case <-n.stopc:
			n.forget(id)
			return nil, ErrStopped
		}
	}
}

func (n *Node) forget(id uint64) {
	n.waitMu.Lock()
	delete(n.waiters, id)
	n.waitMu.Unlock()
}

func (n *Node) trigger(id uint64, r any) {
	n.waitMu.Lock()
	w, ok := n.waiters[id]
	if ok {
		delete(n.waiters, id)
	}
	n.waitMu.Unlock()
	if ok {
		w.ch <- r
	}
}

// expireProposals fails the proposals older than ProposalTimeout.
func (n *Node) expireProposals() {
	now := n.ticks.Load()
	limit := uint64(n.cfg.ProposalTimeout / n.cfg.TickInterval)
	n.waitMu.Lock()
	for id, w := range n.waiters {
		if now-w.tick > limit {
			delete(n.waiters, id)
			w.ch <- ErrTimeout
		}
	}
	n.waitMu.Unlock()
}

// ReadIndex returns once this member has applied every entry committed
// before the call: a read of local state after it is linearizable.
//
// A leader that is the cluster's only voter answers without a raft round:
// no other member can have committed anything, so its commit index, read
// after the call began, covers every acknowledged write (raft's own
// ReadIndex answers a singleton the same way, after a trip through the
// raft loop that this skips).
func (n *Node) ReadIndex(ctx context.Context) error {
	if !n.raftReads && n.soleVoterLeader() {
		select {
		case <-n.stopc:
			return ErrStopped
		default:
		}
		return n.WaitApplied(ctx, n.commit.Load())
	}
	n.readMu.Lock()
	rb := n.pendingRead
	if rb == nil {
		rb = &readBatch{done: make(chan struct{})}
		n.pendingRead = rb
	}
	n.readMu.Unlock()
	select {
	case n.readc <- struct{}{}:
	default:
	}
	select {
	case <-rb.done:
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stopc:
		return ErrStopped
	}
	if rb.err != nil {
		return rb.err
	}
	return n.WaitApplied(ctx, rb.index)
}

func (n *Node) soleVoterLeader() bool {
	return n.isSoleVoter() && n.leader.Load() == n.memberID
}

// WaitApplied returns once the applied index is at least index.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	if n.applied.Load() >= index {
		return nil
	}
	n.appliedMu.Lock()
	if n.applied.Load() >= index {
		n.appliedMu.Unlock()
		return nil
	}
	ch := make(chan struct{})
	n.appliedWaiters = append(n.appliedWaiters, appliedWaiter{index: index, ch: ch})
	n.appliedMu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		n.dropAppliedWaiter(ch)
		return ctx.Err()
	case <-n.stopc:
		return ErrStopped
	}
}

func (n *Node) dropAppliedWaiter(ch chan struct{}) {
	n.appliedMu.Lock()
	defer n.appliedMu.Unlock()
	for i, w := range n.appliedWaiters {
		if w.ch == ch {
			n.appliedWaiters = append(n.appliedWaiters[:i], n.appliedWaiters[i+1:]...)
			return
		}
	}
}

// Status returns the node's current raft state.
func (n *Node) Status() Status {
	return Status{
		ClusterID:    n.clusterID,
		MemberID:     n.memberID,
		Leader:       n.leader.Load(),
		Term:         n.term.Load(),
		CommitIndex:  n.commit.Load(),
		AppliedIndex: n.applied.Load(),
		LastIndex:    n.lastIndex.Load(),
		Voters:       *n.voters.Load(),
	}
}

func (n *Node) runRaft() {
	defer n.done.Done()
	defer close(n.applyc)
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	for {
		select {
		case p := <-n.propc:
			n.propose(p)
		case <-n.readc:
			n.startRead()
		case <-ticker.C:
			n.rn.Tick()
			n.ticks.Add(1)
			n.expireProposals()
		case <-n.appliedc:
			n.maybeTruncate()
		case <-n.stopc:
			n.failRead(ErrStopped)
			return
		}
		for n.rn.HasReady() {
			n.handleReady()
		}
	}
}

// propose proposes p and the proposals waiting behind it, up to
// MaxProposalBatch of them or maxProposalBatchBytes, in one raft message: raft
// appends them and acknowledges its own append once for the lot, not once per
// proposal.
func (n *Node) propose(p proposal) {
	batch := append(n.propBuf[:0], p)
	size := len(p.data)
	for len(batch) < n.cfg.MaxProposalBatch && size < maxProposalBatchBytes {
		select {
		case p = <-n.propc:
			batch = append(batch, p)
			size += len(p.data)
			continue
		default:
		}
		break
	}
	n.propBuf = batch
	defer clear(batch) // the data is raft's now
	err := ErrNoLeader
	if n.leader.Load() != raft.None {
		// A fresh slice: raft sets each entry's term and index in place
		// and may keep the slice as its unstable log.
		ents := make([]raftpb.Entry, len(batch))
		for i := range batch {
			ents[i].Data = batch[i].data
		}
		err = n.rn.Step(raftpb.Message{Type: raftpb.MsgProp, From: n.memberID, Entries: ents})
		if errors.Is(err, raft.ErrProposalDropped) {
			err = ErrNoLeader
		}
	}
	if err != nil {
		proposalsFailed.Add(float64(len(batch)))
		for _, p := range batch {
			n.trigger(p.id, err)
		}
	}
}

// maxProposalBatchBytes bounds the data proposed in one raft message (the
// proposal that crosses it still goes in). raft refuses a message whole when
// it would take the uncommitted log past MaxUncommittedEntriesSize (1 GiB):
// near that limit, a batch's proposals fail together, where some single ones
// would still have gone in.
//
// maxCommittedSizePerReady is raft's MaxCommittedSizePerReady: the committed
// entries one Ready hands out (a batch larger than that is handed out over
// several Readys). Variables only so that tests can lower them.
var (
	maxProposalBatchBytes           = 64 << 20
	maxCommittedSizePerReady uint64 = 64 << 20
)

func (n *Node) startRead() {
	if n.inflight != nil {
		return
	}
	n.readMu.Lock()
	rb := n.pendingRead
	n.pendingRead = nil
	n.readMu.Unlock()
	if rb == nil {
		return
	}
	if n.leader.Load() == raft.None {
		rb.err = ErrNoLeader
		close(rb.done)
		return
	}
	n.readSeq++
	n.inflight, n.inflightCtx = rb, n.readSeq
	var rctx [8]byte
	binary.BigEndian.PutUint64(rctx[:], n.readSeq)
	n.rn.ReadIndex(rctx[:])
	readIndexRounds.Inc()
}

func (n *Node) failRead(err error) {
	if n.inflight != nil {
		n.inflight.err = err
		close(n.inflight.done)
		n.inflight = nil
	}
}

func (n *Node) handleReady() {
	rd := n.rn.Ready()
	if rd.SoftState != nil {
		old := n.leader.Swap(rd.SoftState.Lead)
		hasLeader.Set(boolGauge(rd.SoftState.Lead != raft.None))
		isLeader.Set(boolGauge(rd.SoftState.Lead == n.memberID))
		if old != rd.SoftState.Lead {
			leaderChanges.Inc()
			n.log.Info("raft leader changed", zap.String("leader", fmt.Sprintf("%x", rd.SoftState.Lead)), zap.Uint64("term", n.rn.BasicStatus().Term))
			n.failRead(ErrLeaderChanged)
		}
	}
	// The leader may send before its own write (raft's doc.go); followers'
	// responses must wait for it, which is all Transport's business later.
	if n.cfg.Transport != nil && len(rd.Messages) > 0 {
		n.cfg.Transport.Send(rd.Messages)
	}
	// A HardState whose only change is the commit index is not written
	// (raft does not require it: MustSync is false): the commit index is
	// learned again after a restart, and load raises it to the applied
	// index. That spares the one-client path a pebble commit between two
	// synced appends.
	if n.canApplyWithAppend(rd) {
		n.appendAndApply(rd)
	} else if len(rd.Entries) > 0 || rd.MustSync {
		b := n.db.NewBatch()
		n.persist(b, rd, rd.Entries)
		b.Close()
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		_ = n.storage.SetHardState(rd.HardState)
		n.term.Store(rd.HardState.Term)
		// Not below what an append that applied raised it to: this
		// Ready's HardState may predate the entries it carried.
		if c := rd.HardState.Commit; c > n.commit.Load() {
			n.commit.Store(c)
			proposalsCommitted.Set(float64(c))
		}
	}
	for _, rs := range rd.ReadStates {
		if n.inflight != nil && len(rs.RequestCtx) == 8 && binary.BigEndian.Uint64(rs.RequestCtx) == n.inflightCtx {
			n.inflight.index = rs.Index
			close(n.inflight.done)
			n.inflight = nil
		}
	}
	// Entries applied with their append come back here once committed.
	// They need no apply round; the raft loop checks for a truncation
	// instead, now that raft has handed them out (after an apply round,
	// the apply loop asks for the check).
	truncCheck := false
	if ents := rd.CommittedEntries; len(ents) > 0 {
		n.handedOut = ents[len(ents)-1].Index
		if n.handedOut <= n.applied.Load() {
			truncCheck = true
		} else {
			job := applyJob{ents: ents}
			for i := range ents {
				if e := &ents[i]; e.Type == raftpb.EntryConfChange || e.Type == raftpb.EntryConfChangeV2 {
					job.confState = n.applyConfChange(e)
				}
			}
			// Never dropped, even when stopping: the apply loop drains
			// applyc until the raft loop closes it, and an entry handed
			// over here is one raft will not hand over again.
			n.applyc <- job
		}
	}
	n.rn.Advance(rd)
	if n.inflight == nil {
		n.startRead()
	}
	if truncCheck {
		n.maybeTruncate()
	}
}

// persist commits b with rd's HardState and the entries ents (rd's, or none
// when they were applied in b), synced when raft asks, and hands rd's entries
// to raft's in-memory log. It returns how long the commit took.
func (n *Node) persist(b *pebble.Batch, rd raft.Ready, ents []raftpb.Entry) time.Duration {
	last, _ := n.storage.LastIndex()
	var took time.Duration
	err := appendBatch(b, ents, rd.HardState, last)
	if err == nil {
		opt := pebble.NoSync
		if rd.MustSync {
			opt = pebble.Sync
		}
		start := time.Now()
		err = b.Commit(opt)
		took = time.Since(start)
		if opt == pebble.Sync {
			walFsyncSec.Observe(took.Seconds())
			entriesPerSync.Observe(float64(len(rd.Entries)))
		}
	}
	if err != nil {
		// A member that cannot persist its log must not go on.
		n.log.Fatal("raft log write failed", zap.Error(err))
	}
	if len(rd.Entries) > 0 {
		if err := n.storage.Append(rd.Entries); err != nil {
			n.log.Fatal("raft memory storage append failed", zap.Error(err))
		}
		n.lastIndex.Store(rd.Entries[len(rd.Entries)-1].Index)
	}
	return took
}

// canApplyWithAppend reports whether rd's new entries may be applied in the
// batch that appends them, and if so takes applyMu for appendAndApply.
//
// A sole voter's entries are committed as soon as they are durable: no other
// member votes, and none can replace them. So when every entry before them
// is applied, the entries, their effects and the applied index can go to
// disk in one synced batch: a crash keeps all of it or none, and the effects
// become visible (Applier.Committed) only after the sync, as they would
// after the usual commit and apply. That spares a one-client put the apply
// loop's own pebble commit and a hand-off between goroutines.
//
// Not for conf changes (they change who votes, and raft applies them to its
// own state only once committed), nor while the apply loop has work.
func (n *Node) canApplyWithAppend(rd raft.Ready) bool {
	if len(rd.Entries) == 0 || !raft.IsEmptySnap(rd.Snapshot) || !n.soleVoterLeader() || n.noApplyWithAppend.Load() {
		return false
	}
	if n.applied.Load() != rd.Entries[0].Index-1 {
		return false
	}
	for i := range rd.Entries {
		if rd.Entries[i].Type != raftpb.EntryNormal {
			return false
		}
	}
	return n.applyMu.TryLock()
}

// appendAndApply persists rd and applies its entries in one synced batch
// (see canApplyWithAppend, which took applyMu; finishApply releases it).
func (n *Node) appendAndApply(rd raft.Ready) {
	b := n.db.NewIndexedBatch()
	defer b.Close()
	var r applyRound
	r.start(n.applied.Load())
	r.add(n, b, rd.Entries)
	err := putUint64s(b, keyApplied, r.last)
	// Applied, the entries are truncated at once: they need not be written
	// at all. The batch records them as truncated instead (and deletes the
	// applied entries that the apply loop's path left on disk).
	var write []raftpb.Entry
	if n.keepLog { // tests that count the log's entries
		write = rd.Entries
	} else if err == nil {
		if first := rd.Entries[0].Index; n.truncIndex+1 < first {
			err = b.DeleteRange(logKey(nil, n.truncIndex+1), logKey(nil, first), nil)
		}
		if err == nil {
			e := &rd.Entries[len(rd.Entries)-1]
			err = putUint64s(b, keyTruncated, e.Index, e.Term)
		}
	}
	if err != nil {
		n.app.Aborted(b)
		n.log.Fatal("apply batch failed", zap.Error(err))
	}
	backendCommitSec.Observe(n.persist(b, rd, write).Seconds())
	if write == nil {
		n.truncIndex = r.last
	}
	// Durable, the entries are committed (raft learns it at Advance): the
	// commit index must not trail the applied one, even briefly.
	n.commit.Store(r.last)
	proposalsCommitted.Set(float64(r.last))
	appliedWithAppend.Add(float64(len(rd.Entries)))
	n.finishApply(b, &r)
}

func (n *Node) applyConfChange(e *raftpb.Entry) *raftpb.ConfState {
	var cc raftpb.ConfChangeI
	if e.Type == raftpb.EntryConfChange {
		var c raftpb.ConfChange
		if err := c.Unmarshal(e.Data); err != nil {
			n.log.Fatal("corrupt conf change entry", zap.Uint64("index", e.Index), zap.Error(err))
		}
		cc = c
	} else {
		var c raftpb.ConfChangeV2
		if err := c.Unmarshal(e.Data); err != nil {
			n.log.Fatal("corrupt conf change entry", zap.Uint64("index", e.Index), zap.Error(err))
		}
		cc = c
	}
	cs := n.rn.ApplyConfChange(cc)
	vs := append([]uint64(nil), cs.Voters...)
	n.voters.Store(&vs)
	return cs
}

func (n *Node) runApply() {
	defer n.done.Done()
	for job := range n.applyc {
		jobs := []applyJob{job}
		size := job.size()
	drain:
		for len(jobs) < 64 && size < maxApplyBatchBytes {
			select {
			case j, ok := <-n.applyc:
				if !ok {
					break drain
				}
				jobs = append(jobs, j)
				size += j.size()
			default:
				break drain
			}
		}
		n.apply(jobs)
	}
}

// maxApplyBatchBytes bounds the entry bytes applied in one pebble batch
// (pebble refuses batches near 4 GiB; a smaller bound also caps memory).
const maxApplyBatchBytes = 64 << 20

func (j applyJob) size() int {
	n := 0
	for i := range j.ents {
		n += len(j.ents[i].Data)
	}
	return n
}

type result struct {
	id uint64
	r  any
}

// applyRound collects what one apply batch applied.
type applyRound struct {
	applied, last uint64 // applied before the round; last entry applied in it
	size          int    // entry data applied
	results       []result
}

func (r *applyRound) start(applied uint64) { r.applied, r.last = applied, applied }

// add applies ents into b, skipping those applied before the round.
func (r *applyRound) add(n *Node, b *pebble.Batch, ents []raftpb.Entry) {
	for i := range ents {
		e := &ents[i]
		if e.Index <= r.applied {
			continue
		}
		if e.Index != r.last+1 {
			n.log.Fatal("committed entries out of order", zap.Uint64("applied", r.last), zap.Uint64("next", e.Index))
		}
		r.last = e.Index
		r.size += len(e.Data)
		if e.Type == raftpb.EntryNormal && len(e.Data) > 0 {
			id, res, err := n.app.ApplyEntry(b, e.Index, e.Data)
			if err != nil {
				n.app.Aborted(b)
				n.log.Fatal("apply failed", zap.Uint64("index", e.Index), zap.Error(err))
			}
			r.results = append(r.results, result{id, res})
		}
	}
}

// apply applies jobs in one unsynced batch.
func (n *Node) apply(jobs []applyJob) {
	n.applyMu.Lock()
	var r applyRound
	r.start(n.applied.Load())
	b := n.db.NewIndexedBatch()
	defer b.Close()
	var confState *raftpb.ConfState
	for _, job := range jobs {
		if job.confState != nil {
			confState = job.confState
		}
		r.add(n, b, job.ents)
	}
	if r.last == r.applied {
		n.applyMu.Unlock()
		return
	}
	err := putUint64s(b, keyApplied, r.last)
	if err == nil && confState != nil {
		var data []byte
		data, err = confState.Marshal()
		if err == nil {
			err = b.Set(keyConfState, data, nil)
		}
	}
	if err == nil {
		start := time.Now()
		err = b.Commit(pebble.NoSync)
		backendCommitSec.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		n.app.Aborted(b)
		n.log.Fatal("apply batch commit failed", zap.Error(err))
	}
	// Wake the raft loop only when a truncation is due: a wake per apply
	// round would put the raft loop ahead of the proposers just woken on
	// this P's run queue (runtime's runnext), delaying every reply.
	if n.finishApply(b, &r) {
		select {
		case n.appliedc <- struct{}{}:
		default:
		}
	}
}

// finishApply publishes the committed round r of b: the Applier's effects
// and the applied index, then releases applyMu, then hands the proposers
// their results (a proposer woken first could otherwise find applyMu still
// held and send its next entry the apply loop's way). It reports whether a
// log truncation is due.
func (n *Node) finishApply(b *pebble.Batch, r *applyRound) (truncDue bool) {
	n.app.Committed(b)
	last := r.last
	n.applied.Store(last)
	proposalsApplied.Set(float64(last))
	untrunc := n.untrunc.Add(int64(r.size))
	n.applyMu.Unlock()
	for _, res := range r.results {
		n.trigger(res.id, res.r)
	}
	n.appliedMu.Lock()
	keep := n.appliedWaiters[:0]
	for _, w := range n.appliedWaiters {
		if w.index <= last {
			close(w.ch)
		} else {
			keep = append(keep, w)
		}
	}
	for i := len(keep); i < len(n.appliedWaiters); i++ {
		n.appliedWaiters[i] = appliedWaiter{}
	}
	n.appliedWaiters = keep
	n.appliedMu.Unlock()
	_, due := n.truncPoint(last, untrunc)
	return due
}

// A sole voter truncates its log (on disk and in memory) once
// SoleVoterTruncEntries entries, or SoleVoterTruncBytes of entry data, were
// applied since the last truncation: often enough that most entries are
// deleted in the memtable that holds them (32 MiB by default), seldom enough
// that the memtable does not fill with range deletions, which every read must
// step over.
const (
	SoleVoterTruncEntries = 256
	SoleVoterTruncBytes   = 4 << 20
)

// soleVoter reports whether id is the only one of voters.
func soleVoter(voters []uint64, id uint64) bool { return len(voters) == 1 && voters[0] == id }

// isSoleVoter reports whether this member is the cluster's only voter.
func (n *Node) isSoleVoter() bool { return soleVoter(*n.voters.Load(), n.memberID) }

// dropApplied drops the entries up to applied from raft's in-memory log: a
// sole voter's at start, before raft sees the log (the on-disk log keeps
// them until the next truncation).
func (n *Node) dropApplied(applied uint64) error {
	if last, _ := n.storage.LastIndex(); applied > last {
		return fmt.Errorf("raftlog: applied index %d is past the log's last entry %d", applied, last)
	}
	if err := n.storage.Compact(applied); err != nil && !errors.Is(err, raft.ErrCompacted) {
		return fmt.Errorf("raftlog: compact the in-memory log: %w", err)
	}
	n.memTrunc.Store(applied)
	return nil
}

// maybeTruncate deletes the log entries that are due (see the package doc),
// on disk and in raft's in-memory log.
func (n *Node) maybeTruncate() {
	applied := n.applied.Load()
	untrunc := n.untrunc.Load()
	to, due := n.truncPoint(applied, untrunc)
	if !due {
		return
	}
	// Entries applied with their append may not be handed out yet: raft
	// reads them from its in-memory log for a later Ready (a batch larger
	// than maxCommittedSizePerReady is handed out over several). Then the
	// check stays due until they are.
	held := to > n.handedOut
	to = min(to, n.handedOut)
	n.lastTrunc.Store(applied)
	if to > n.truncIndex && !n.truncateDisk(to) {
		return
	}
	if to > n.memTrunc.Load() {
		if err := n.storage.Compact(to); err != nil && !errors.Is(err, raft.ErrCompacted) {
			n.log.Warn("raft memory log compaction failed", zap.Error(err))
		}
		n.memTrunc.Store(to)
	}
	if !held {
		// Not Store(0): the apply loop may have added bytes since the Load.
		n.untrunc.Add(-untrunc)
	}
}

// truncateDisk deletes the log entries up to to from disk.
func (n *Node) truncateDisk(to uint64) bool {
	// raft's in-memory log still has it: it is compacted only after this
	// (and at start, to the applied index, which every truncation point passes).
	term, err := n.storage.Term(to)
	if err != nil {
		n.log.Warn("raft log truncation skipped", zap.Uint64("index", to), zap.Error(err))
		return false
	}
	b := n.db.NewBatch()
	defer b.Close()
	// From truncIndex+1, not 0: every range deletion of a memtable then
	// covers its own entries, and pebble fragments them in linear time for
	// the next read (nested ones would cost quadratic time, every 256 entries).
	err = b.DeleteRange(logKey(nil, n.truncIndex+1), logKey(nil, to+1), nil)
	if err == nil {
		err = putUint64s(b, keyTruncated, to, term)
	}
	if err == nil {
		// Unsynced: the apply batch that covers index to is ahead of this one
		// in pebble's WAL, so this can never be durable without it.
		err = b.Commit(pebble.NoSync)
	}
	if err != nil {
		n.log.Warn("raft log truncation failed", zap.Error(err))
		return false
	}
	n.truncIndex = to
	return true
}

// truncPoint reports whether a log truncation is due with applied entries
// applied, untrunc bytes of them since the last truncation, and the index to
// truncate to (0: none yet, a member with peers keeps CatchUpEntries). Called
// by the apply loop and the raft loop.
func (n *Node) truncPoint(applied uint64, untrunc int64) (to uint64, due bool) {
	if n.keepLog {
		return 0, false
	}
	if n.isSoleVoter() {
		if applied < n.memTrunc.Load()+SoleVoterTruncEntries && untrunc < SoleVoterTruncBytes {
			return 0, false
		}
		return applied, true
	}
	if applied < n.lastTrunc.Load()+n.cfg.SnapshotCount {
		return 0, false
	}
	if applied > n.cfg.CatchUpEntries {
		to = applied - n.cfg.CatchUpEntries
	}
	return to, true
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// confStateStorage is a MemoryStorage whose initial ConfState is cs.
type confStateStorage struct {
	*raft.MemoryStorage
	cs raftpb.ConfState
}

func (s confStateStorage) InitialState() (raftpb.HardState, raftpb.ConfState, error) {
	hs, _, err := s.MemoryStorage.InitialState()
	return hs, s.cs, err
}

// zapRaftLogger adapts zap to raft.Logger.
type zapRaftLogger struct{ s *zap.SugaredLogger }

func (l *zapRaftLogger) Debug(v ...any)              { l.s.Debug(v...) }
func (l *zapRaftLogger) Debugf(f string, v ...any)   { l.s.Debugf(f, v...) }
func (l *zapRaftLogger) Error(v ...any)              { l.s.Error(v...) }
func (l *zapRaftLogger) Errorf(f string, v ...any)   { l.s.Errorf(f, v...) }
func (l *zapRaftLogger) Info(v ...any)               { l.s.Debug(v...) }
func (l *zapRaftLogger) Infof(f string, v ...any)    { l.s.Debugf(f, v...) }
func (l *zapRaftLogger) Warning(v ...any)            { l.s.Warn(v...) }
func (l *zapRaftLogger) Warningf(f string, v ...any) { l.s.Warnf(f, v...) }
func (l *zapRaftLogger) Fatal(v ...any)              { l.s.Fatal(v...) }
func (l *zapRaftLogger) Fatalf(f string, v ...any)   { l.s.Fatalf(f, v...) }
func (l *zapRaftLogger) Panic(v ...any)              { l.s.Panic(v...) }
func (l *zapRaftLogger) Panicf(f string, v ...any)   { l.s.Panicf(f, v...) }
