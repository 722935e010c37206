package watch

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/cairnkv/cairn/gen/etcdserverpb"
)

// BenchmarkPutWithWatchers measures puts through the store with 100
// watchers of their prefix on 10 streams that read, with and without one
// more stream of 10 watchers whose client never reads: the stalled stream
// must not slow the puts (ns/op) nor the readers' put-to-event delay
// (p99-event-µs). Run with -benchtime=20000x or so.
func BenchmarkPutWithWatchers(b *testing.B) {
	for _, stalled := range []bool{false, true} {
		b.Run(fmt.Sprintf("stalled=%v", stalled), func(b *testing.B) {
			e := newEnv(b, HubConfig{}, Config{})
			req := &pb.WatchCreateRequest{Key: []byte("b/"), RangeEnd: []byte("b0")}
			const streams, perStream = 10, 10
			putAt := make([]atomic.Int64, b.N+2)
			var (
				mu     sync.Mutex
				delays []time.Duration
				wg     sync.WaitGroup
			)
			for range streams {
				c := e.open()
				for range perStream {
					c.create(req)
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					var local []time.Duration
					for n := 0; n < b.N*perStream; {
						r, ok := c.recvWithin(waitFor)
						if !ok {
							b.Error("a reading stream stopped receiving")
							return
						}
						now := time.Now().UnixNano()
						for _, ev := range r.Events {
							local = append(local, time.Duration(now-putAt[ev.Kv.ModRevision].Load()))
							n++
						}
					}
					mu.Lock()
					delays = append(delays, local...)
					mu.Unlock()
				}()
			}
			if stalled {
				c := e.open()
				for range perStream {
					c.create(req) // then never read again
				}
			}
			value := string(make([]byte, 256))
			b.ResetTimer()
			for i := range b.N {
				putAt[i+2].Store(time.Now().UnixNano())
				e.put(fmt.Sprintf("b/%d", i%1000), value)
			}
			b.StopTimer()
			wg.Wait()
			slices.Sort(delays)
			if len(delays) > 0 {
				b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds()), "p99-event-µs")
			}
			b.ReportMetric(float64(e.hub.fellBehind.Load()), "fell-behind")
		})
	}
}
