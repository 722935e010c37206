package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// BenchmarkPut measures the whole put path through the real binaries —
// gRPC, raft, the synced log append, apply — for Cairn and etcd side by
// side, with 1, 16 and 100 concurrent clients over up to 10 connections,
// 256-byte values, distinct keys. ns/op is wall time per put across all
// clients (its inverse is the throughput). For example:
//
//	go test -run x -bench Put -benchtime 5000x ./...
func BenchmarkPut(b *testing.B) {
	for _, k := range []kind{kindCairn, kindEtcd} {
		for _, clients := range []int{1, 16, 100} {
			b.Run(fmt.Sprintf("%s/clients=%d", k, clients), func(b *testing.B) {
				benchPut(b, k, clients)
			})
		}
	}
}

func benchPut(b *testing.B, k kind, clients int) {
	s := newServer(b, k)
	s.start()
	conns := min(clients, 10)
	clis := make([]*clientv3.Client, conns)
	for i := range clis {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.clientURL}, DialTimeout: 5 * time.Second})
		if err != nil {
			b.Fatal(err)
		}
		defer cli.Close()
		clis[i] = cli
	}
	value := string(make([]byte, 256))
	var next atomic.Int64
	var failed atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cli := clis[c%conns]
			for {
				i := next.Add(1)
				if i > int64(b.N) || ctx.Err() != nil {
					return
				}
				if _, err := cli.Put(ctx, fmt.Sprintf("bench/%012d", i), value); err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d puts failed", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
}
