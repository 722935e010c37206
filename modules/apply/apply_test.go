package apply

import (
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"google.golang.org/protobuf/proto"

	raftpbv1 "github.com/cairnkv/cairn/gen/cairn/raftpb/v1"
	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
)

// fake owns the op types listed in owns and records what it saw.
type fake struct {
	owns              func(*raftpbv1.Request) bool
	err               error
	applied           []uint64
	committed, aborts int
}

func (f *fake) Apply(_ *pebble.Batch, index uint64, req *raftpbv1.Request) (Result, bool, error) {
	if !f.owns(req) {
		return Result{}, false, nil
	}
	f.applied = append(f.applied, index)
	return Result{Resp: &pb.PutResponse{}}, true, f.err
}
func (f *fake) Committed(*pebble.Batch) { f.committed++ }
func (f *fake) Aborted(*pebble.Batch)   { f.aborts++ }

func entry(t *testing.T, req *raftpbv1.Request) []byte {
	t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDispatcherRoutesByOp(t *testing.T) {
	kv := &fake{owns: func(r *raftpbv1.Request) bool { return r.GetPut() != nil }}
	lease := &fake{owns: func(r *raftpbv1.Request) bool { return r.GetLeaseGrant() != nil }}
	d := New(kv, lease)

	id, res, err := d.ApplyEntry(nil, 7, entry(t, &raftpbv1.Request{Id: 42, Op: &raftpbv1.Request_LeaseGrant{LeaseGrant: &pb.LeaseGrantRequest{ID: 1, TTL: 5}}}))
	if err != nil || id != 42 || res.(Result).Err != nil {
		t.Fatalf("lease grant: id %d, res %+v, err %v", id, res, err)
	}
	if _, _, err := d.ApplyEntry(nil, 8, entry(t, &raftpbv1.Request{Id: 43, Op: &raftpbv1.Request_Put{Put: &pb.PutRequest{Key: []byte("k")}}})); err != nil {
		t.Fatal(err)
	}
	if len(kv.applied) != 1 || kv.applied[0] != 8 || len(lease.applied) != 1 || lease.applied[0] != 7 {
		t.Fatalf("kv applied %v, lease applied %v", kv.applied, lease.applied)
	}

	// An op nobody owns, and bytes that are no envelope, fail the proposal
	// (deterministically) without stopping the member.
	id, res, err = d.ApplyEntry(nil, 9, entry(t, &raftpbv1.Request{Id: 44, Op: &raftpbv1.Request_Compaction{Compaction: &pb.CompactionRequest{}}}))
	if err != nil || id != 44 || res.(Result).Err == nil {
		t.Fatalf("unowned op: id %d, res %+v, err %v", id, res, err)
	}
	if _, res, err = d.ApplyEntry(nil, 10, []byte{0xff, 0xff}); err != nil || res.(Result).Err == nil {
		t.Fatalf("garbage entry: res %+v, err %v", res, err)
	}

	d.Committed(nil)
	d.Aborted(nil)
	if kv.committed != 1 || lease.committed != 1 || kv.aborts != 1 || lease.aborts != 1 {
		t.Fatalf("committed %d/%d aborted %d/%d", kv.committed, lease.committed, kv.aborts, lease.aborts)
	}
}

func TestDispatcherStorageFailureStops(t *testing.T) {
	boom := errors.New("disk gone")
	d := New(&fake{owns: func(*raftpbv1.Request) bool { return true }, err: boom})
	id, _, err := d.ApplyEntry(nil, 1, entry(t, &raftpbv1.Request{Id: 5, Op: &raftpbv1.Request_Put{Put: &pb.PutRequest{}}}))
	if !errors.Is(err, boom) || id != 5 {
		t.Fatalf("id %d err %v, want %v", id, err, boom)
	}
}
