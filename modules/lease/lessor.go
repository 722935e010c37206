// Package lease is etcd's Lease service: it owns the leases (their IDs,
// granted TTLs and checkpointed remaining TTLs, persisted under
// storage.PrefixLease), their expiry, and the Lease RPCs.
//
// Three parts, as in etcd's lessor:
//
//   - Lessor, the core: the committed leases in memory, their records in
//     pebble, and — while this member is the primary (the raft leader) — the
//     expiry and checkpoint schedules. It has no goroutines, knows nothing of
//     raft or the MVCC store, and reads time through Config.Now, so a test
//     drives it with a fake clock.
//   - Applier, the state machine: it applies committed LeaseGrant,
//     LeaseRevoke and LeaseCheckpoint entries to the Lessor and, for a revoke,
//     deletes the lease's keys through mvcc.Store.RevokeLease in the same
//     batch (one revision, every member alike).
//   - Service, the RPCs and the expiry loop: grants and revokes are proposed
//     through raft; keep-alives and TimeToLive are answered by the leader from
//     its Lessor; the loop, run on the leader only, proposes a LeaseRevoke for
//     each expired lease (at most Config.RevokeRate a second, so a mass expiry
//     cannot crowd out client writes) and, with checkpointing on, proposes the
//     remaining TTLs so that a restart or a new leader does not hand every
//     lease a fresh full TTL.
//
// Expiry is not state: only the primary keeps deadlines. A member that is not
// the primary holds every lease "forever"; on becoming the primary it gives
// each lease its remaining TTL (the checkpointed one, else the full TTL) plus
// the election timeout, as etcd's Promote does, so that no lease expires
// early because the leadership moved or the member restarted.
package lease

import (
	"container/heap"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"go.uber.org/zap"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/modules/rpcerr"
	"github.com/cairnkv/cairn/modules/storage"
)

// MaxLeaseTTL is etcd's largest grantable TTL, in seconds.
const MaxLeaseTTL = 9000000000

// ErrNotPrimary is returned by Renew when this member's Lessor does not
// manage expiry (it is not, or not yet, the leader's).
var ErrNotPrimary = errors.New("lease: not the primary lessor")

// Defaults, as etcd's lessor has them.
const (
	DefaultRevokeRate         = 1000
	DefaultCheckpointInterval = 5 * time.Minute
	// DefaultExpiredRetry is how long an expired lease whose revoke was
	// proposed waits before it is proposed again (etcd uses its request
	// timeout).
	DefaultExpiredRetry = 3 * time.Second
	// maxCheckpointBatch caps the checkpoints of one raft entry.
	maxCheckpointBatch = 1000
)

// Config configures a Lessor. Zero values take etcd's defaults.
type Config struct {
	// MinTTL is the smallest TTL granted, in seconds; a smaller request is
	// raised to it (not refused). etcd derives it from raft's timing:
	// ceil(3*electionTicks/2 * heartbeat).
	MinTTL int64
	// RevokeRate is the most expired leases revoked per second
	// (--lease-revoke-rate, default 1000).
	RevokeRate int
	// Checkpoint enables lease checkpointing (etcd's LeaseCheckpoint feature):
	// the primary proposes each long lease's remaining TTL every
	// CheckpointInterval.
	Checkpoint bool
	// CheckpointInterval is the time between two checkpoints of a lease
	// (default 5m, etcd's).
	CheckpointInterval time.Duration
	// ExpiredRetry is how long an expired lease waits before its revoke is
	// proposed again (default 3s).
	ExpiredRetry time.Duration
	// Now is the clock (default time.Now). Tests inject a fake one.
	Now func() time.Time
	// Logger: nil is zap.NewNop().
	Logger *zap.Logger
}

func (c *Config) ensureDefaults() {
	if c.MinTTL < 1 {
		c.MinTTL = 1
	}
	if c.RevokeRate <= 0 {
		c.RevokeRate = DefaultRevokeRate
	}
	if c.CheckpointInterval <= 0 {
		c.CheckpointInterval = DefaultCheckpointInterval
	}
	if c.ExpiredRetry <= 0 {
		c.ExpiredRetry = DefaultExpiredRetry
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
}

// lease is one committed lease.
type lease struct {
	id  int64
	ttl int64 // granted TTL, seconds (MinTTL applied)
	// remaining is the last checkpointed remaining TTL in seconds; 0: unset
	// (the full ttl counts).
	remaining int64
	// expiry is when the lease expires; zero while this member is not the
	// primary (never).
	expiry time.Time
	// hidx is the lease's index in the expiry heap (-1: not in it); htime
	// is when the heap looks at it next: its expiry, or, once its revoke was
	// proposed, the time to propose it again.
	hidx  int
	htime time.Time
	// cpAt is the lease's next checkpoint time; checkpoint heap items with
	// another time are stale.
	cpAt time.Time
	// revoked is closed when the lease's revoke is committed, for keep-alives
	// waiting on an expired lease.
	revoked chan struct{}
}

// remainingTTL is the TTL a refresh starts from: the checkpointed remaining
// TTL if any, else the full TTL (etcd's getRemainingTTL).
func (l *lease) remainingTTL() int64 {
	if l.remaining > 0 {
		return l.remaining
	}
	return l.ttl
}

// Lessor is the lease core. See the package doc.
//
// Two sides use it. The apply goroutine calls Grant, Revoke, Checkpoint,
// Exists, Committed and Aborted: Grant/Revoke/Checkpoint write the lease
// records into the apply batch and queue their in-memory effect, which
// Committed makes visible once the batch is durable (Exists sees the queued
// effect meanwhile, so a Put later in the same batch finds a lease granted
// before it). Everything else is safe from any goroutine.
type Lessor struct {
	cfg Config

	mu struct {
		sync.Mutex
		leases map[int64]*lease
		exp    expiryHeap
		cps    checkpointHeap
		// demotec is non-nil while this Lessor is the primary; closed on
		// Demote.
		demotec chan struct{}
	}

	// Apply side: owned by the apply goroutine.
	ops     []op
	pending map[int64]pendingLease
	vbuf    []byte
}

type opKind uint8

const (
	opGrant opKind = iota
	opRevoke
	opCheckpoint
)

// op is one applied, not yet committed, change.
type op struct {
	kind opKind
	id   int64
	ttl  int64 // grant: granted TTL; checkpoint: remaining TTL
}

// pendingLease is a lease's state after the uncommitted ops of the batch.
type pendingLease struct {
	exists         bool
	ttl, remaining int64
}

// New returns a Lessor over the lease records in db (a restart recovers the
// leases from them; every one starts with no deadline until Promote).
func New(db *pebble.DB, cfg Config) (*Lessor, error) {
	cfg.ensureDefaults()
	l := &Lessor{cfg: cfg, pending: map[int64]pendingLease{}}
	l.mu.leases = map[int64]*lease{}
	it, err := db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{storage.PrefixLease},
		UpperBound: []byte{storage.PrefixLease + 1},
	})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for valid := it.First(); valid; valid = it.Next() {
		k := it.Key()
		if len(k) != 9 {
			return nil, fmt.Errorf("lease: bad record key %x", k)
		}
		id := int64(binary.BigEndian.Uint64(k[1:]))
		ttl, rem, err := decodeRecord(it.Value())
		if err != nil {
			return nil, fmt.Errorf("lease: record of %x: %w", id, err)
		}
		// As etcd's initAndRecover: a lease granted under a smaller MinTTL
		// gets the current one.
		ttl = max(ttl, cfg.MinTTL)
		l.mu.leases[id] = &lease{id: id, ttl: ttl, remaining: rem, hidx: -1, revoked: make(chan struct{})}
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	return l, nil
}

// Record layout: key 0x20 | BE uint64 id; value: a format byte (1), then
// varint TTL, varint remaining TTL (0: none checkpointed).
const recordFormat = 1

func recordKey(id int64) []byte {
	k := make([]byte, 9)
	k[0] = storage.PrefixLease
	binary.BigEndian.PutUint64(k[1:], uint64(id))
	return k
}

func appendRecord(dst []byte, ttl, remaining int64) []byte {
	dst = append(dst, recordFormat)
	dst = binary.AppendVarint(dst, ttl)
	return binary.AppendVarint(dst, remaining)
}

func decodeRecord(v []byte) (ttl, remaining int64, err error) {
	if len(v) == 0 || v[0] != recordFormat {
		return 0, 0, errors.New("unknown record format")
	}
	v = v[1:]
	ttl, n := binary.Varint(v)
	if n <= 0 {
		return 0, 0, errors.New("bad TTL")
	}
	remaining, m := binary.Varint(v[n:])
	if m <= 0 {
		return 0, 0, errors.New("bad remaining TTL")
	}
	return ttl, remaining, nil
}

// lookupApply is a lease's state as the apply batch sees it.
func (l *Lessor) lookupApply(id int64) pendingLease {
	if p, ok := l.pending[id]; ok {
		return p
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if ls := l.mu.leases[id]; ls != nil {
		return pendingLease{exists: true, ttl: ls.ttl, remaining: ls.remaining}
	}
	return pendingLease{}
}

// Exists reports whether lease id is granted as of the entries applied so
// far (mvcc's LeaseExists). Apply goroutine only.
func (l *Lessor) Exists(id int64) bool { return l.lookupApply(id).exists }

// Grant applies a LeaseGrant into b and returns the granted TTL: ttl raised
// to MinTTL. Errors as etcd's: ErrLeaseNotFound for ID 0,
// ErrLeaseTTLTooLarge, ErrLeaseExist; any other error is b's.
func (l *Lessor) Grant(b *pebble.Batch, id, ttl int64) (int64, error) {
	if id == 0 {
		return 0, rpcerr.ErrLeaseNotFound
	}
	if ttl > MaxLeaseTTL {
		return 0, rpcerr.ErrLeaseTTLTooLarge
	}
	if l.Exists(id) {
		return 0, rpcerr.ErrLeaseExist
	}
	ttl = max(ttl, l.cfg.MinTTL)
	l.vbuf = appendRecord(l.vbuf[:0], ttl, 0)
	if err := b.Set(recordKey(id), l.vbuf, nil); err != nil {
		return 0, err
	}
	l.ops = append(l.ops, op{kind: opGrant, id: id, ttl: ttl})
	l.pending[id] = pendingLease{exists: true, ttl: ttl}
	return ttl, nil
}

// Revoke applies the removal of lease id's record into b
// (rpcerr.ErrLeaseNotFound if there is none). The caller deletes the
// lease's keys in the same batch.
func (l *Lessor) Revoke(b *pebble.Batch, id int64) error {
	if !l.Exists(id) {
		return rpcerr.ErrLeaseNotFound
	}
	if err := b.Delete(recordKey(id), nil); err != nil {
		return err
	}
	l.ops = append(l.ops, op{kind: opRevoke, id: id})
	l.pending[id] = pendingLease{}
	return nil
}

// Checkpoint applies checkpointed remaining TTLs into b. Leases that no
// longer exist are skipped (a checkpoint may race a revoke), as in etcd.
// The remaining TTL is always persisted (etcd 3.6 persists checkpoints
// whatever LeaseCheckpointPersist says, once the cluster is at 3.6).
func (l *Lessor) Checkpoint(b *pebble.Batch, cps []*pb.LeaseCheckpoint) error {
	for _, c := range cps {
		p := l.lookupApply(c.ID)
		if !p.exists {
			continue
		}
		p.remaining = c.Remaining_TTL
		l.vbuf = appendRecord(l.vbuf[:0], p.ttl, p.remaining)
		if err := b.Set(recordKey(c.ID), l.vbuf, nil); err != nil {
			return err
		}
		l.ops = append(l.ops, op{kind: opCheckpoint, id: c.ID, ttl: c.Remaining_TTL})
		l.pending[c.ID] = p
	}
	return nil
}

// Committed makes the changes applied since the last Committed or Aborted
// visible: the batch that holds their records is durable.
func (l *Lessor) Committed() {
	if len(l.ops) == 0 {
		return
	}
	now := l.cfg.Now()
	l.mu.Lock()
	for _, o := range l.ops {
		switch o.kind {
		case opGrant:
			leaseGranted.Inc()
			leaseTotalTTLs.Observe(float64(o.ttl))
			ls := &lease{id: o.id, ttl: o.ttl, hidx: -1, revoked: make(chan struct{})}
			l.mu.leases[o.id] = ls
			if l.isPrimaryLocked() {
				l.refreshLocked(ls, now, 0)
				l.scheduleCheckpointLocked(ls, now)
			}
		case opRevoke:
			ls := l.mu.leases[o.id]
			if ls == nil {
				continue
			}
			delete(l.mu.leases, o.id)
			if ls.hidx >= 0 {
				heap.Remove(&l.mu.exp, ls.hidx)
			}
			close(ls.revoked)
			leaseRevoked.Inc()
		case opCheckpoint:
			ls := l.mu.leases[o.id]
			if ls == nil {
				continue
			}
			ls.remaining = o.ttl
			if l.isPrimaryLocked() {
				l.scheduleCheckpointLocked(ls, now)
			}
		}
	}
	l.mu.Unlock()
	l.reset()
}

// Aborted drops the changes applied since the last Committed or Aborted:
// their batch was not committed.
func (l *Lessor) Aborted() { l.reset() }

func (l *Lessor) reset() {
	clear(l.ops)
	l.ops = l.ops[:0]
	clear(l.pending)
}

// IsPrimary reports whether this Lessor manages expiry.
func (l *Lessor) IsPrimary() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.isPrimaryLocked()
}

func (l *Lessor) isPrimaryLocked() bool { return l.mu.demotec != nil }

// refreshLocked gives ls a deadline extend plus its remaining TTL from now.
func (l *Lessor) refreshLocked(ls *lease, now time.Time, extend time.Duration) {
	l.setExpiryLocked(ls, now.Add(extend+time.Duration(ls.remainingTTL())*time.Second))
}

func (l *Lessor) setExpiryLocked(ls *lease, expiry time.Time) {
	ls.expiry = expiry
	ls.htime = ls.expiry
	if ls.hidx >= 0 {
		heap.Fix(&l.mu.exp, ls.hidx)
	} else {
		heap.Push(&l.mu.exp, ls)
	}
}

// Promote makes this Lessor the primary: every lease gets a deadline of its
// remaining TTL plus extend (the election timeout) from now, and leases that
// would expire together beyond 3/4 of RevokeRate a second are spread out
// (etcd's Promote, so a new leader does not face a pile-up of expiries).
func (l *Lessor) Promote(extend time.Duration) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.demotec != nil {
		return
	}
	l.mu.demotec = make(chan struct{})
	for _, ls := range l.mu.leases {
		l.refreshLocked(ls, now, extend)
		l.scheduleCheckpointLocked(ls, now)
	}
	if len(l.mu.leases) < l.cfg.RevokeRate {
		return // no possible pile-up
	}
	leases := l.sortedByExpiryLocked()
	baseWindow := leases[0].expiry.Sub(now)
	nextWindow := baseWindow + time.Second
	expires := 0
	// Fewer expiries than the revoke rate, so piled-up leases do not take
	// the whole revoke budget.
	target := max(1, (3*l.cfg.RevokeRate)/4)
	for _, ls := range leases {
		remaining := ls.expiry.Sub(now)
		if remaining > nextWindow {
			baseWindow = remaining
			nextWindow = baseWindow + time.Second
			expires = 1
			continue
		}
		expires++
		if expires <= target {
			continue
		}
		rateDelay := float64(time.Second) * (float64(expires) / float64(target))
		// A lease already n seconds past the base window is delayed n
		// seconds less.
		rateDelay -= float64(remaining - baseWindow)
		delay := time.Duration(rateDelay)
		nextWindow = baseWindow + delay
		l.refreshLocked(ls, now, delay+extend)
		l.scheduleCheckpointLocked(ls, now)
	}
}

// Demote stops expiry management: leases keep no deadline until the next
// Promote, and a keep-alive waiting on an expired lease gives up.
func (l *Lessor) Demote() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ls := range l.mu.leases {
		ls.expiry = time.Time{}
		ls.hidx = -1
	}
	l.mu.exp = nil
	l.mu.cps = nil
	if l.mu.demotec != nil {
		close(l.mu.demotec)
		l.mu.demotec = nil
	}
}

func (l *Lessor) sortedByExpiryLocked() []*lease {
	ls := make([]*lease, 0, len(l.mu.leases))
	for _, x := range l.mu.leases {
		ls = append(ls, x)
	}
	sort.Slice(ls, func(i, j int) bool {
		if !ls[i].expiry.Equal(ls[j].expiry) {
			// Zero (no deadline) sorts last.
			if ls[i].expiry.IsZero() || ls[j].expiry.IsZero() {
				return ls[j].expiry.IsZero()
			}
			return ls[i].expiry.Before(ls[j].expiry)
		}
		return ls[i].id < ls[j].id
	})
	return ls
}

// Checkpointer proposes lease checkpoints through raft and waits for them to
// apply.
type Checkpointer func(context.Context, *pb.LeaseCheckpointRequest) error

// Renew restarts lease id's TTL and returns its granted TTL.
// rpcerr.ErrLeaseNotFound if there is no such lease (or it expired and its
// revoke committed meanwhile); ErrNotPrimary if this Lessor is not the
// primary. An expired lease whose revoke is on its way is not renewed: Renew
// waits for the revoke (or the demotion, or ctx) as etcd does. With
// checkpointing on, a lease with a checkpointed remaining TTL has it cleared
// through cp first, so that a restart after this renewal does not cut the
// lease short.
func (l *Lessor) Renew(ctx context.Context, id int64, cp Checkpointer) (int64, error) {
	now := l.cfg.Now()
	l.mu.Lock()
	demotec := l.mu.demotec
	if demotec == nil {
		l.mu.Unlock()
		return -1, ErrNotPrimary
	}
	ls := l.mu.leases[id]
	if ls == nil {
		l.mu.Unlock()
		return -1, rpcerr.ErrLeaseNotFound
	}
	clearRemaining := l.cfg.Checkpoint && cp != nil && ls.remaining > 0
	expired := !now.Before(ls.expiry)
	revoked := ls.revoked
	l.mu.Unlock()
	if expired {
		select {
		case <-revoked:
			return -1, rpcerr.ErrLeaseNotFound
		case <-demotec:
			return -1, ErrNotPrimary
		case <-ctx.Done():
			return -1, ctx.Err()
		}
	}
	if clearRemaining {
		// A raft entry only when a remaining TTL is set: at most two per
		// lease and checkpoint interval (etcd's reasoning).
		if err := cp(ctx, &pb.LeaseCheckpointRequest{Checkpoints: []*pb.LeaseCheckpoint{{ID: id, Remaining_TTL: 0}}}); err != nil {
			return -1, err
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	// It may have been revoked, or this Lessor demoted, meanwhile.
	ls = l.mu.leases[id]
	if ls == nil {
		return -1, rpcerr.ErrLeaseNotFound
	}
	if l.mu.demotec != demotec {
		return -1, ErrNotPrimary
	}
	// The full TTL, which the keep-alive answers: with checkpointing on, cp
	// cleared the remaining TTL above; with it off, a remaining TTL left by
	// an earlier run with checkpointing must not shorten a renewal (etcd's
	// refresh would use it).
	l.setExpiryLocked(ls, l.cfg.Now().Add(time.Duration(ls.ttl)*time.Second))
	leaseRenewed.Inc()
	return ls.ttl, nil
}

// Status is one lease as TimeToLive reports it.
type Status struct {
	ID int64
	// GrantedTTL is the TTL granted, in seconds.
	GrantedTTL int64
	// Remaining is the time left until expiry; meaningless unless Primary.
	Remaining time.Duration
	// Primary: the Lessor that answered manages expiry.
	Primary bool
}

// Lookup returns lease id's status, ok false if there is no such lease.
func (l *Lessor) Lookup(id int64) (Status, bool) {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	ls := l.mu.leases[id]
	if ls == nil {
		return Status{}, false
	}
	st := Status{ID: id, GrantedTTL: ls.ttl, Primary: l.isPrimaryLocked()}
	if ls.expiry.IsZero() {
		st.Remaining = time.Duration(math.MaxInt64)
	} else {
		st.Remaining = ls.expiry.Sub(now)
	}
	return st, true
}

// Leases returns the IDs of every lease, soonest expiry first (etcd's
// order; by ID among equals, and all by ID when not the primary).
func (l *Lessor) Leases() []int64 {
	l.mu.Lock()
	ls := l.sortedByExpiryLocked()
	l.mu.Unlock()
	ids := make([]int64, len(ls))
	for i, x := range ls {
		ids[i] = x.id
	}
	return ids
}

// Len returns the number of leases.
func (l *Lessor) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.mu.leases)
}

// FindExpired returns up to limit expired leases to revoke (none unless
// primary). Each one returned is looked at again only after ExpiredRetry:
// if its revoke was lost (a leader change, a timeout) it is found again.
func (l *Lessor) FindExpired(limit int) []int64 {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.isPrimaryLocked() {
		return nil
	}
	var ids []int64
	for len(ids) < limit && l.mu.exp.Len() > 0 {
		ls := l.mu.exp[0]
		if now.Before(ls.htime) {
			break
		}
		ls.htime = now.Add(l.cfg.ExpiredRetry)
		heap.Fix(&l.mu.exp, 0)
		if !now.Before(ls.expiry) {
			ids = append(ids, ls.id)
		}
	}
	return ids
}

// NextExpiry returns the earliest time FindExpired may find something (zero
// if nothing is scheduled).
func (l *Lessor) NextExpiry() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mu.exp.Len() == 0 {
		return time.Time{}
	}
	return l.mu.exp[0].htime
}

func (l *Lessor) scheduleCheckpointLocked(ls *lease, now time.Time) {
	if !l.cfg.Checkpoint {
		return
	}
	if ls.remainingTTL() > int64(l.cfg.CheckpointInterval.Seconds()) {
		ls.cpAt = now.Add(l.cfg.CheckpointInterval)
		heap.Push(&l.mu.cps, checkpointItem{id: ls.id, at: ls.cpAt})
	}
}

// DueCheckpoints returns up to limit checkpoints that are due: the
// remaining TTL of each lease whose checkpoint time has come and that has
// less than its full TTL left (none unless primary).
func (l *Lessor) DueCheckpoints(limit int) []*pb.LeaseCheckpoint {
	now := l.cfg.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.isPrimaryLocked() || !l.cfg.Checkpoint {
		return nil
	}
	var cps []*pb.LeaseCheckpoint
	for l.mu.cps.Len() > 0 && len(cps) < limit {
		it := l.mu.cps[0]
		if it.at.After(now) {
			break
		}
		heap.Pop(&l.mu.cps)
		ls := l.mu.leases[it.id]
		if ls == nil || !it.at.Equal(ls.cpAt) || !now.Before(ls.expiry) {
			continue
		}
		ls.cpAt = time.Time{} // a twin item (same time) is stale now
		remaining := int64(math.Ceil(ls.expiry.Sub(now).Seconds()))
		if remaining >= ls.ttl {
			continue
		}
		cps = append(cps, &pb.LeaseCheckpoint{ID: it.id, Remaining_TTL: remaining})
	}
	return cps
}

// expiryHeap orders leases by htime; each lease knows its index, so a renew
// moves it in O(log n) and a revoke removes it.
type expiryHeap []*lease

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].htime.Before(h[j].htime) }
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx = i
	h[j].hidx = j
}
func (h *expiryHeap) Push(x any) {
	ls := x.(*lease)
	ls.hidx = len(*h)
	*h = append(*h, ls)
}
func (h *expiryHeap) Pop() any {
	old := *h
	ls := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	ls.hidx = -1
	return ls
}

// checkpointItem is a lease's next checkpoint time. Rescheduling pushes a
// new item and leaves the old one to be skipped when popped (unlike etcd's
// queue, where both would checkpoint).
type checkpointItem struct {
	id int64
	at time.Time
}

type checkpointHeap []checkpointItem

func (h checkpointHeap) Len() int           { return len(h) }
func (h checkpointHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h checkpointHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *checkpointHeap) Push(x any)        { *h = append(*h, x.(checkpointItem)) }
func (h *checkpointHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}
