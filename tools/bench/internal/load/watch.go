package load

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/metadata"
)

// Watch measures event delivery. Setup opens Streams watch streams, each
// with WatchersPerStream watchers of the prefix "watch/", spread over the
// connections; a request is one put of a fresh key under that prefix, and it
// completes when every watcher has received its event. So a run's
// throughput × watchers is the event delivery rate, and a request's latency
// is the time from the put until its event reached the last watcher.
//
// As etcd's benchmark has two watch commands, this has two names: "watch"
// (many watchers, many concurrent putters: delivery throughput) and
// "watch-latency" (one putter at a time: put-to-event latency).
//
// A watcher that receives an event twice, or one for a key nobody waits
// for, fails the request that owns it: delivery is checked, not assumed.
//
// Stalled adds that many more streams of WatchersPerStream watchers of the
// same prefix whose client never reads a response after the first: a slow
// consumer, which must not slow the puts nor the other watchers.
type Watch struct {
	// Kind is "watch" or "watch-latency" (the name only).
	Kind              string
	Streams           int
	WatchersPerStream int
	ValSize           int
	Stalled           int

	watchers int
	cancel   context.CancelFunc
	waiters  sync.Map // key suffix (request number) → *watchWaiter
	errMu    sync.Mutex
	err      error
}

type watchWaiter struct {
	left atomic.Int64
	done chan struct{}
}

func (w *Watch) Name() string {
	if w.Kind == "" {
		return "watch"
	}
	return w.Kind
}

func (w *Watch) Classes() []string { return nil }

func (w *Watch) Validate() error {
	if w.Streams < 1 || w.WatchersPerStream < 1 {
		return fmt.Errorf("%s: streams and watchers per stream must be at least 1, got %d and %d", w.Name(), w.Streams, w.WatchersPerStream)
	}
	if w.ValSize < 0 {
		return fmt.Errorf("%s: value size must not be negative", w.Name())
	}
	return nil
}

const watchPrefix = "watch/"

// Setup creates the watchers and waits until the server confirmed each.
func (w *Watch) Setup(ctx context.Context, clis []*clientv3.Client) error {
	if err := w.Validate(); err != nil {
		return err
	}
	// The watchers outlive the phases; they end when the clients close.
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	w.cancel = cancel
	w.watchers = w.Streams * w.WatchersPerStream
	for s := range w.Streams {
		cli := clis[s%len(clis)]
		// clientv3 puts the watches of one context (metadata) on one
		// stream: distinct metadata, distinct streams.
		sctx := metadata.AppendToOutgoingContext(wctx, "bench-watch-stream", strconv.Itoa(s))
		for range w.WatchersPerStream {
			ch := cli.Watch(sctx, watchPrefix, clientv3.WithPrefix(), clientv3.WithCreatedNotify())
			select {
			case r, ok := <-ch:
				if !ok || !r.Created {
					cancel()
					return fmt.Errorf("watch: creating a watcher: %v", r.Err())
				}
			case <-ctx.Done():
				cancel()
				return ctx.Err()
			}
			go w.receive(ch)
		}
	}
	for s := range w.Stalled {
		ws, err := pb.NewWatchClient(clis[s%len(clis)].ActiveConnection()).Watch(wctx)
		if err != nil {
			cancel()
			return fmt.Errorf("watch: a stalled stream: %w", err)
		}
		for range w.WatchersPerStream {
			req := &pb.WatchRequest{RequestUnion: &pb.WatchRequest_CreateRequest{CreateRequest: &pb.WatchCreateRequest{
				Key: []byte(watchPrefix), RangeEnd: []byte(clientv3.GetPrefixRangeEnd(watchPrefix))}}}
			if err := ws.Send(req); err != nil {
				cancel()
				return fmt.Errorf("watch: a stalled stream: %w", err)
			}
			if _, err := ws.Recv(); err != nil { // its created response; then no more reads
				cancel()
				return fmt.Errorf("watch: a stalled stream: %w", err)
			}
		}
	}
	return nil
}

func (w *Watch) fail(err error) {
	w.errMu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.errMu.Unlock()
}

func (w *Watch) failed() error {
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}

func (w *Watch) receive(ch clientv3.WatchChan) {
	for r := range ch {
		if err := r.Err(); err != nil {
			w.fail(fmt.Errorf("watcher: %w", err))
			return
		}
		for _, ev := range r.Events {
			v, ok := w.waiters.Load(strings.TrimPrefix(string(ev.Kv.Key), watchPrefix))
			if !ok {
				w.fail(fmt.Errorf("watcher: event for %q that no request waits for (a duplicate?)", ev.Kv.Key))
				continue
			}
			wt := v.(*watchWaiter)
			switch n := wt.left.Add(-1); {
			case n == 0:
				close(wt.done)
			case n < 0:
				w.fail(fmt.Errorf("watcher: event %q delivered more than once per watcher", ev.Kv.Key))
			}
		}
	}
}

var errWatchersGone = errors.New("watch: a watcher failed")

// Do puts the key of request i and waits until every watcher got its event.
func (w *Watch) Do(ctx context.Context, c *clientv3.Client, wk *Worker, i int) (int, error) {
	id := strconv.Itoa(i)
	wt := &watchWaiter{done: make(chan struct{})}
	wt.left.Store(int64(w.watchers))
	w.waiters.Store(id, wt)
	// The entry stays after completion, so that a late duplicate is seen.
	if _, err := c.Put(ctx, watchPrefix+id, wk.Value(w.ValSize)); err != nil {
		return 0, err
	}
	select {
	case <-wt.done:
		return 0, w.failed()
	case <-ctx.Done():
		if err := w.failed(); err != nil {
			return 0, fmt.Errorf("%w: %w", errWatchersGone, err)
		}
		return 0, fmt.Errorf("%d of %d watchers still wait for their event: %w", wt.left.Load(), w.watchers, ctx.Err())
	}
}
