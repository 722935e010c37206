package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/cairnkv/cairn/modules/storage"
)

// Keys under storage.PrefixRaftState.
var (
	keyHardState = []byte{storage.PrefixRaftState, 'h'}
	keyConfState = []byte{storage.PrefixRaftState, 'c'}
	keyApplied   = []byte{storage.PrefixRaftState, 'a'}
	keyTruncated = []byte{storage.PrefixRaftState, 't'} // BE index | BE term of the last deleted entry
	keyIdentity  = []byte{storage.PrefixRaftState, 'i'} // BE cluster ID | BE member ID
)

func logKey(buf []byte, index uint64) []byte {
	buf = append(buf[:0], storage.PrefixRaftLog)
	return binary.BigEndian.AppendUint64(buf, index)
}

// persisted is what a member finds in pebble when it starts.
type persisted struct {
	hardState  raftpb.HardState
	confState  raftpb.ConfState
	applied    uint64
	truncIndex uint64
	truncTerm  uint64
	clusterID  uint64
	memberID   uint64
	entries    []raftpb.Entry // every log entry after truncIndex (a sole voter's before applied: index only)
}

func (p *persisted) empty() bool { return raft.IsEmptyHardState(p.hardState) && len(p.entries) == 0 }

func get(db *pebble.DB, key []byte) ([]byte, bool, error) {
	v, closer, err := db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	closer.Close()
	return out, true, nil
}

// load reads the raft state and log of a member from db.
func load(db *pebble.DB) (*persisted, error) { return loadLog(db, false) }

// loadLog is load; with forStart, a sole voter's entries before the applied
// one are not read, only counted (New drops them from memory).
func loadLog(db *pebble.DB, forStart bool) (*persisted, error) {
	p := &persisted{}
	if v, ok, err := get(db, keyHardState); err != nil {
		return nil, err
	} else if ok {
		if err := p.hardState.Unmarshal(v); err != nil {
			return nil, fmt.Errorf("raftlog: corrupt HardState: %w", err)
		}
	}
	if v, ok, err := get(db, keyConfState); err != nil {
		return nil, err
	} else if ok {
		if err := p.confState.Unmarshal(v); err != nil {
			return nil, fmt.Errorf("raftlog: corrupt ConfState: %w", err)
		}
	}
	if v, ok, err := get(db, keyApplied); err != nil {
		return nil, err
	} else if ok && len(v) == 8 {
		p.applied = binary.BigEndian.Uint64(v)
	}
	if v, ok, err := get(db, keyTruncated); err != nil {
		return nil, err
	} else if ok && len(v) == 16 {
		p.truncIndex = binary.BigEndian.Uint64(v)
		p.truncTerm = binary.BigEndian.Uint64(v[8:])
	}
	if v, ok, err := get(db, keyIdentity); err != nil {
		return nil, err
	} else if ok && len(v) == 16 {
		p.clusterID = binary.BigEndian.Uint64(v)
		p.memberID = binary.BigEndian.Uint64(v[8:])
	}
	// The commit index is written lazily (see handleReady); entries up to
	// the applied index were committed.
	if p.applied > p.hardState.Commit {
		p.hardState.Commit = p.applied
	}
	iter, err := db.NewIter(&pebble.IterOptions{
		LowerBound: logKey(nil, p.truncIndex+1),
		UpperBound: []byte{storage.PrefixRaftLog + 1},
	})
	if err != nil {
		return nil, err
	}
	defer iter.Close()
	sole := forStart && soleVoter(p.confState.Voters, p.memberID)
	next := p.truncIndex + 1
	for iter.First(); iter.Valid(); iter.Next() {
		k := iter.Key()
		if len(k) != 9 {
			return nil, fmt.Errorf("raftlog: corrupt log key %x", k)
		}
		if index := binary.BigEndian.Uint64(k[1:]); index != next {
			return nil, fmt.Errorf("raftlog: log gap: want entry %d, found %d", next, index)
		}
		if sole && next < p.applied {
			p.entries = append(p.entries, raftpb.Entry{Index: next})
			next++
			continue
		}
		var e raftpb.Entry
		v, err := iter.ValueAndErr() // a large entry's value is in a blob file
		if err != nil {
			return nil, err
		}
		if err := e.Unmarshal(v); err != nil {
			return nil, fmt.Errorf("raftlog: corrupt log entry: %w", err)
		}
		if e.Index != next {
			return nil, fmt.Errorf("raftlog: log entry %d holds entry %d", next, e.Index)
		}
		next++
		p.entries = append(p.entries, e)
	}
	return p, iter.Error()
}

// appendBatch writes rd's entries and HardState into b. A new entry at index i
// replaces every entry at or above i (raft may overwrite an uncommitted tail).
func appendBatch(b *pebble.Batch, ents []raftpb.Entry, hs raftpb.HardState, lastIndex uint64) error {
	if len(ents) > 0 {
		first := ents[0].Index
		if first <= lastIndex {
			if err := b.DeleteRange(logKey(nil, first), logKey(nil, lastIndex+1), nil); err != nil {
				return err
			}
		}
		for i := range ents {
			// Marshalled straight into the batch: no copy of the entry.
			op := b.SetDeferred(9, ents[i].Size())
			logKey(op.Key[:0], ents[i].Index)
			if _, err := ents[i].MarshalToSizedBuffer(op.Value); err != nil {
				return err
			}
			if err := op.Finish(); err != nil {
				return err
			}
		}
	}
	if !raft.IsEmptyHardState(hs) {
		data, err := hs.Marshal()
		if err != nil {
			return err
		}
		if err := b.Set(keyHardState, data, nil); err != nil {
			return err
		}
	}
	return nil
}

func putUint64s(b *pebble.Batch, key []byte, vs ...uint64) error {
	buf := make([]byte, 0, 8*len(vs))
	for _, v := range vs {
		buf = binary.BigEndian.AppendUint64(buf, v)
	}
	return b.Set(key, buf, nil)
}
