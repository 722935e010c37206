package procs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const status = `Name:	etcd
Umask:	0022
State:	S (sleeping)
VmPeak:	 2000000 kB
VmHWM:	  600000 kB
VmRSS:	  560000 kB
RssAnon:	  400000 kB
RssFile:	  160000 kB
RssShmem:	       0 kB
Threads:	12
`

func TestParseStatus(t *testing.T) {
	m, err := ParseStatus(strings.NewReader(status))
	if err != nil {
		t.Fatal(err)
	}
	want := Memory{VmRSS: 560000 << 10, VmHWM: 600000 << 10, RssAnon: 400000 << 10, RssFile: 160000 << 10}
	if m != want {
		t.Errorf("ParseStatus = %+v, want %+v", m, want)
	}
	if _, err := ParseStatus(strings.NewReader("Name: x\n")); err == nil {
		t.Error("a status without VmRSS parsed")
	}
	self, err := ReadMemory(os.Getpid())
	if err != nil || self.VmRSS <= 0 || self.VmHWM < self.VmRSS {
		t.Errorf("ReadMemory(self) = %+v, %v", self, err)
	}
}

func TestDiskUsage(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "member", "wal"), 0o755); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 100_000)
	for i := range big {
		big[i] = 1
	}
	if err := os.WriteFile(filepath.Join(dir, "member", "wal", "0.wal"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	// A sparse file: large apparent size, few blocks.
	f, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(10 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// A hard link is counted once.
	if err := os.Link(filepath.Join(dir, "member", "wal", "0.wal"), filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	d, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d.Files != 2 || d.Apparent != 100_000+10<<20 {
		t.Errorf("DiskUsage = %+v", d)
	}
	if d.Allocated < 100_000 || d.Allocated > 1<<20 {
		t.Errorf("allocated %d: want the written file's blocks, not the sparse file's size", d.Allocated)
	}
}

func TestFreeURL(t *testing.T) {
	a, err := freeURL()
	if err != nil {
		t.Fatal(err)
	}
	b, err := freeURL()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || !strings.HasPrefix(a, "http://127.0.0.1:") {
		t.Errorf("freeURL: %q, %q", a, b)
	}
}

func TestCleanEnv(t *testing.T) {
	t.Setenv("ETCD_NAME", "x")
	t.Setenv("ETCDCTL_API", "3")
	t.Setenv(EtcdChildEnv, "1")
	for _, kv := range CleanEnv() {
		if strings.HasPrefix(kv, "ETCD") || strings.HasPrefix(kv, EtcdChildEnv) {
			t.Errorf("CleanEnv kept %q", kv)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(3)
	for _, s := range []string{"1\n", "2\n", "3\n", "4\n"} {
		b.add(s)
	}
	if got := b.String(); got != "2\n3\n4\n" {
		t.Errorf("tail = %q", got)
	}
}

func TestCPUTime(t *testing.T) {
	d, err := parseStatCPU("1234 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 12 0")
	if err != nil || d != 3*time.Second {
		t.Errorf("parseStatCPU = %v, %v; want 3s", d, err)
	}
	if _, err := parseStatCPU("garbage"); err == nil {
		t.Error("garbage parsed")
	}
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Error(err)
	}
	if SelfCPUTime() <= 0 {
		t.Error("no CPU time for this process")
	}
}

func TestParseProcStat(t *testing.T) {
	m, err := parseProcStat("cpu  100 5 50 9000 10 3 2 7 0 0\ncpu0 50 2 25 4500 5 1 1 3 0 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if m.Busy != 1600*time.Millisecond || m.Steal != 70*time.Millisecond {
		t.Errorf("parseProcStat = %+v", m)
	}
	if _, err := parseProcStat("intr 1 2 3"); err == nil {
		t.Error("garbage parsed")
	}
	if _, err := ReadMachineCPU(); err != nil {
		t.Error(err)
	}
}
