package watch

import (
	"testing"
	"time"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
)

// TestProgressNotifyIntervalConfig: New resolves --watch-progress-notify-interval
// as etcd's v3rpc.NewWatchServer does: unset (or negative) is etcd's default
// of 10 minutes, a value under 100ms is raised to 100ms, others are kept.
func TestProgressNotifyIntervalConfig(t *testing.T) {
	for _, tc := range []struct{ set, want time.Duration }{
		{0, 10 * time.Minute},
		{-time.Second, 10 * time.Minute},
		{time.Nanosecond, 100 * time.Millisecond},
		{99 * time.Millisecond, 100 * time.Millisecond},
		{100 * time.Millisecond, 100 * time.Millisecond},
		{250 * time.Millisecond, 250 * time.Millisecond},
		{time.Hour, time.Hour},
	} {
		e := newEnv(t, HubConfig{}, Config{ProgressNotifyInterval: tc.set})
		if got := e.svc.cfg.ProgressNotifyInterval; got != tc.want {
			t.Errorf("ProgressNotifyInterval %v: resolved to %v, want %v", tc.set, got, tc.want)
		}
	}
}

// TestProgressNotifyMinInterval: the 100ms floor holds in what a client
// sees. With 1ns configured, an idle progress_notify watcher's k-th
// notification comes no sooner than k × 100ms after its stream opened (each
// stream's ticker starts when it opens), and they do keep coming.
func TestProgressNotifyMinInterval(t *testing.T) {
	e := newEnv(t, HubConfig{}, Config{ProgressNotifyInterval: time.Nanosecond})
	opened := time.Now()
	c := e.open()
	id := c.create(&pb.WatchCreateRequest{Key: []byte("a"), ProgressNotify: true}).WatchId
	for k := 1; k <= 3; k++ {
		r := c.recv()
		at := time.Since(opened)
		if r.WatchId != id || len(r.Events) != 0 || r.Created || r.Canceled || r.Header.Revision != 1 {
			t.Fatalf("notification %d: %v", k, r)
		}
		if earliest := time.Duration(k) * minProgressInterval; at < earliest {
			t.Fatalf("notification %d came %v after the stream opened, before %v: the interval is under %v", k, at, earliest, minProgressInterval)
		}
	}
}

// TestProgressNotifySkipsAfterEvents: as in etcd (its send loop's progress
// map), a progress_notify watcher that was sent events since the last tick
// gets no progress notification at this one. Two watchers share a stream (so
// a ticker): events go to one without pause while the other, idle, hears
// every tick; the busy one hears nothing but its events, and hears the ticks
// again once its events stop.
func TestProgressNotifySkipsAfterEvents(t *testing.T) {
	// Much longer than the minimum: the busy watcher's events must never
	// pause for a whole interval (a put and its event take about a
	// millisecond; 500ms leaves room for a loaded machine's stalls).
	e := newEnv(t, HubConfig{}, Config{ProgressNotifyInterval: 500 * time.Millisecond})
	c := e.open()
	busy := c.create(&pb.WatchCreateRequest{Key: []byte("busy"), ProgressNotify: true}).WatchId
	idle := c.create(&pb.WatchCreateRequest{Key: []byte("idle"), ProgressNotify: true}).WatchId

	// One put to the busy key at a time, the next as soon as its event is
	// read, until the idle watcher heard two ticks.
	ticks, puts := 0, 0
	for ticks < 2 {
		e.put("busy", "v")
		puts++
		for got := false; !got; {
			r := c.recv()
			switch {
			case r.WatchId == busy && len(r.Events) == 1:
				got = true
			case r.WatchId == idle && len(r.Events) == 0:
				ticks++
			case r.WatchId == busy && len(r.Events) == 0:
				t.Fatalf("progress notification at revision %d to a watcher sent events within the interval (after %d puts, %d ticks)", r.Header.Revision, puts, ticks)
			default:
				t.Fatalf("unexpected response %v", r)
			}
		}
	}
	// The events stop: the tick after the next (the next still sees the
	// last event) notifies the busy watcher too, at the current revision.
	head := e.store.Rev()
	for {
		r := c.recv()
		if len(r.Events) != 0 || r.Header.Revision != head || r.WatchId != busy && r.WatchId != idle {
			t.Fatalf("after the events: %v", r)
		}
		if r.WatchId == busy {
			break
		}
	}
	t.Logf("%d puts over %d ticks", puts, ticks)
}
