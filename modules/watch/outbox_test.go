package watch

import (
	"fmt"
	"testing"

	"github.com/cairnkv/cairn/gen/mvccpb"
)

func evAt(rev int64) []*mvccpb.Event {
	return []*mvccpb.Event{{Type: mvccpb.Event_PUT, Kv: &mvccpb.KeyValue{Key: []byte("k"), ModRevision: rev}}}
}

// TestOutboxNeverMergesPastControl: a watcher's later events are merged
// into its queued event response, but never across a response without
// events (created, canceled, progress) queued after it: a progress
// response at revision R must come after every event up to R and before
// any past R, or clientv3 would resume at R+1 after a reconnect and get
// those events twice.
func TestOutboxNeverMergesPastControl(t *testing.T) {
	w := &watcher{id: 7}
	o := newOutbox(1<<20, 100, func() {})
	push := func(it outItem) {
		t.Helper()
		if !o.push(it, false) {
			t.Fatal("outbox refused an item")
		}
	}
	push(outItem{w: w, resp: newResponse(7, 2, evAt(2)), size: 10})
	push(outItem{w: w, resp: newResponse(7, 3, evAt(3)), size: 10}) // merged into the first
	push(outItem{resp: newResponse(-1, 3, nil)})                    // progress at 3
	push(outItem{w: w, resp: newResponse(7, 4, evAt(4)), size: 10}) // must stay behind it
	push(outItem{w: w, resp: newResponse(7, 5, evAt(5)), size: 10}) // merged with 4

	var got []string
	for {
		it, ok := o.pop()
		if !ok {
			break
		}
		var revs []int64
		for _, ev := range it.resp.Events {
			revs = append(revs, ev.Kv.ModRevision)
		}
		got = append(got, fmt.Sprintf("id=%d rev=%d events=%v", it.resp.WatchId, it.resp.Header.Revision, revs))
	}
	want := []string{
		"id=7 rev=3 events=[2 3]",
		"id=-1 rev=3 events=[]",
		"id=7 rev=5 events=[4 5]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sent\n%v\nwant\n%v", got, want)
	}
}
