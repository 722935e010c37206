package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

const (
	crashWriters      = 16
	crashMaxPuts      = 5000            // per writer and round
	crashMaxLoad      = 4 * time.Second // per round
	crashKillAfterAck = 1500            // acknowledged puts (all writers) before kill -9
	crashKillBy       = 2 * time.Second // kill -9 by then even if fewer were acknowledged
	crashPutTimeout   = 3 * time.Second
)

// crashKey and crashValue: every put writes a distinct key, and its value is
// a function of the key, so a value never written is recognisable.
func crashKey(round, writer, seq int) string {
	return fmt.Sprintf("crash/%d/%02d/%06d", round, writer, seq)
}

func crashValue(key string) string { return "v:" + key }

type crashAck struct {
	rev    int64
	writer int
}

type crashState struct {
	acked     map[string]crashAck // acknowledged puts
	attempted map[string]bool     // every put sent, acknowledged or not
}

// TestCrash: 16 writers put distinct keys; the server is killed with SIGKILL
// mid-load and restarted. Every acknowledged put must be there with its
// value and revision; nothing that was never written may appear; revisions
// are unique, and increasing per writer. Two rounds on the same data dir.
// Cairn only (CAIRN_E2E_ETCD_ONLY runs it on etcd, to validate it).
func TestCrash(t *testing.T) {
	t.Parallel()
	f := newFixture(t, cairnOnly())
	s := f.servers[0]
	st := &crashState{acked: map[string]crashAck{}, attempted: map[string]bool{}}
	for round := range 2 {
		n := crashLoad(t, s, round, st)
		t.Logf("round %d: %d acknowledged puts before kill -9 (%d in total)", round, n, len(st.acked))
		if n == 0 {
			t.Fatalf("round %d: no put was acknowledged", round)
		}
		s.start()
		crashVerify(t, s, st)
		if t.Failed() {
			return
		}
	}
}

// crashLoad runs the writers, kills the server mid-load and returns the number
// of puts acknowledged in this round.
func crashLoad(t *testing.T, s *server, round int, st *crashState) int {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{s.clientURL}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("load client: %v", err)
	}
	defer cli.Close()

	var acks atomic.Int64
	killNow := make(chan struct{})
	var killOnce sync.Once
	type writerLog struct {
		acked     []string
		revs      []int64
		attempted []string
		err       error
	}
	logs := make([]writerLog, crashWriters)
	deadline := time.Now().Add(crashMaxLoad)
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := &logs[w]
			for seq := 0; seq < crashMaxPuts && time.Now().Before(deadline); seq++ {
				key := crashKey(round, w, seq)
				l.attempted = append(l.attempted, key)
				ctx, cancel := context.WithTimeout(context.Background(), crashPutTimeout)
				resp, err := cli.Put(ctx, key, crashValue(key))
				cancel()
				if err != nil {
					l.err = err
					return // the server is gone (or failing): this writer stops
				}
				l.acked = append(l.acked, key)
				l.revs = append(l.revs, resp.Header.Revision)
				if acks.Add(1) == crashKillAfterAck {
					killOnce.Do(func() { close(killNow) })
				}
			}
		}()
	}
	timer := time.NewTimer(crashKillBy)
	select {
	case <-killNow:
	case <-timer.C:
	}
	timer.Stop()
	s.kill9()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(crashPutTimeout + 10*time.Second):
		t.Fatalf("writers did not stop after kill -9")
	}

	n := 0
	for w, l := range logs {
		for _, k := range l.attempted {
			st.attempted[k] = true
		}
		for i, k := range l.acked {
			if i > 0 && l.revs[i] <= l.revs[i-1] {
				t.Errorf("writer %d: put %s acknowledged at revision %d, after revision %d: revisions must increase", w, k, l.revs[i], l.revs[i-1])
			}
			st.acked[k] = crashAck{rev: l.revs[i], writer: w}
			n++
		}
		if l.err == nil && len(l.acked) < crashMaxPuts && time.Now().Before(deadline) {
			t.Errorf("writer %d stopped without error", w)
		}
	}
	byRev := map[int64]string{}
	for k, a := range st.acked {
		if other, dup := byRev[a.rev]; dup {
			t.Errorf("puts %s and %s both acknowledged at revision %d", other, k, a.rev)
		}
		byRev[a.rev] = k
	}
	return n
}

// crashVerify reads every crash key back after the restart.
func crashVerify(t *testing.T, s *server, st *crashState) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cli := s.client()

	found := map[string]bool{}
	byRev := map[int64]string{}
	var maxRev, headRev int64
	key := "crash/"
	end := clientv3.GetPrefixRangeEnd("crash/")
	for page := 0; page < 1000; page++ {
		resp, err := cli.Get(ctx, key, clientv3.WithRange(end), clientv3.WithLimit(2000))
		if err != nil {
			t.Fatalf("read back after restart: %v", err)
		}
		headRev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			found[k] = true
			if !st.attempted[k] {
				t.Errorf("key %s was never written", k)
			}
			if string(kv.Value) != crashValue(k) {
				t.Errorf("key %s has value %q, never written (want %q)", k, kv.Value, crashValue(k))
			}
			if kv.Version != 1 || kv.CreateRevision != kv.ModRevision {
				t.Errorf("key %s written once: version %d create %d mod %d", k, kv.Version, kv.CreateRevision, kv.ModRevision)
			}
			if other, dup := byRev[kv.ModRevision]; dup {
				t.Errorf("keys %s and %s share revision %d", other, k, kv.ModRevision)
			}
			byRev[kv.ModRevision] = k
			if a, ok := st.acked[k]; ok && a.rev != kv.ModRevision {
				t.Errorf("key %s acknowledged at revision %d, stored at %d", k, a.rev, kv.ModRevision)
			}
			maxRev = max(maxRev, kv.ModRevision)
		}
		if !resp.More {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	var lost []string
	for k, a := range st.acked {
		if !found[k] {
			lost = append(lost, fmt.Sprintf("%s@%d", k, a.rev))
		}
		maxRev = max(maxRev, a.rev)
	}
	if len(lost) > 0 {
		if len(lost) > 20 {
			lost = append(lost[:20], "...")
		}
		t.Errorf("%d acknowledged puts lost after kill -9: %s", len(lost), strings.Join(lost, " "))
	}
	if headRev < maxRev {
		t.Errorf("head revision %d after restart, below acknowledged revision %d", headRev, maxRev)
	}
	resp, err := cli.Put(ctx, "crash-probe", "x")
	if err != nil {
		t.Fatalf("put after restart: %v", err)
	}
	if resp.Header.Revision <= maxRev {
		t.Errorf("put after restart at revision %d, not above revision %d already used", resp.Header.Revision, maxRev)
	}
	t.Logf("%d keys read back, %d acknowledged, head revision %d", len(found), len(st.acked), headRev)
}
