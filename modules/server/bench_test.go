package server_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/cairnkv/cairn/gen/etcdserverpb"
	"github.com/cairnkv/cairn/gen/etcdserverpb/etcdserverpbconnect"
	"github.com/cairnkv/cairn/modules/server"
)

// BenchmarkUnary measures a small Range through each transport with 100
// concurrent callers on one connection (clientv3's pattern), for grpc-go's
// stream worker pool sizes. Client and server share the machine.
func BenchmarkUnary(b *testing.B) {
	for _, workers := range []uint32{1, 256} {
		cfg := server.Config{ListenClientURLs: []url.URL{loopbackURL()}, NumStreamWorkers: workers}
		s, err := server.New(cfg, zap.NewNop(), server.Services{KV: newFakeKV()}, nil)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Start(); err != nil {
			b.Fatal(err)
		}
		addr := s.Addrs()[0].String()
		cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		req := &etcdserverpb.RangeRequest{Key: []byte("a")}
		grpcKV := etcdserverpb.NewKVClient(cc)
		b.Run(fmt.Sprintf("grpc-go/workers=%d", workers), func(b *testing.B) {
			b.SetParallelism(100)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := grpcKV.Range(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		if workers == 256 {
			connectKV := etcdserverpbconnect.NewKVClient(httpClientB(), "http://"+addr)
			b.Run("connect-go+proto/h2c", func(b *testing.B) {
				b.SetParallelism(100)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := connectKV.Range(context.Background(), req); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
		_ = cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Stop(ctx)
		cancel()
	}
}
