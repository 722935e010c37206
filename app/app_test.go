package app

import (
	"runtime/debug"
	"testing"

	"github.com/cairnkv/cairn/app/config"
)

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))

	tuneGC(nil)
	if got := debug.SetGCPercent(100); got != 400 {
		t.Fatalf("GOGC = %d, want 400", got)
	}
	if limit := debug.SetMemoryLimit(-1); limit <= 0 || limit >= memTotalBytes() {
		t.Fatalf("memory limit %d, machine %d", limit, memTotalBytes())
	}

	debug.SetGCPercent(123)
	tuneGC([]string{"GOGC=123", "GOMEMLIMIT=1GiB"})
	if got := debug.SetGCPercent(100); got != 123 {
		t.Fatalf("GOGC from the environment overridden: %d", got)
	}
}

func TestIDsMatchEtcd(t *testing.T) {
	// etcd 3.6 gives a member started with `--initial-advertise-peer-urls
	// http://localhost:2380 --initial-cluster-token etcd-cluster` (etcd's
	// defaults) the ID 8e9e05c52164694d and the cluster cdf818194e3a8c32.
	id := memberID([]string{"http://localhost:2380"}, "etcd-cluster")
	if id != 0x8e9e05c52164694d {
		t.Fatalf("member ID %x", id)
	}
	if cid := clusterID([]uint64{id}); cid != 0xcdf818194e3a8c32 {
		t.Fatalf("cluster ID %x", cid)
	}
}

func TestCheckSupported(t *testing.T) {
	tests := []struct {
		name string
		args []string
		ok   bool
	}{
		{"defaults", nil, true},
		{"client TLS", []string{"--cert-file", "c.pem", "--key-file", "k.pem"}, false},
		{"client cert auth", []string{"--client-cert-auth"}, false},
		{"auto TLS", []string{"--auto-tls"}, false},
		{"two members", []string{"--initial-cluster", "default=http://localhost:2380,b=http://b:2380"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse(tt.args, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkSupported(cfg); (err == nil) != tt.ok {
				t.Fatalf("checkSupported = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}
