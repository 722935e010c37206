package storage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestHoldLock is the child of TestOpenInOtherProcessSaysInUse: it opens the
// database named by CAIRN_STORAGE_HOLD and keeps it open until stdin closes.
func TestHoldLock(t *testing.T) {
	dir := os.Getenv("CAIRN_STORAGE_HOLD")
	if dir == "" {
		return // not the child
	}
	db, err := Open(Config{Dir: dir, CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	os.Stdout.WriteString("open\n")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
}

func TestOpenInOtherProcessSaysInUse(t *testing.T) {
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run=^TestHoldLock$")
	child.Env = append(os.Environ(), "CAIRN_STORAGE_HOLD="+dir)
	stdin, err := child.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); _ = child.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "open\n" {
		t.Fatalf("child did not open the database: %q %v", line, err)
	}
	_, err = Open(Config{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "is in use by another process") {
		t.Fatalf("open of a database another process holds: %v", err)
	}
}

func TestOpenRejectsEmptyDir(t *testing.T) {
	if _, err := Open(Config{}); err == nil {
		t.Fatal("open with no directory succeeded")
	}
}

// TestLargeValuesSeparated: values of SeparateValueBytes and more are kept in
// blob files, smaller ones in the sstables, and both read back whole after a
// flush and a reopen.
func TestLargeValuesSeparated(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(Config{Dir: dir, CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	large := bytes.Repeat([]byte("L"), SeparateValueBytes)
	small := bytes.Repeat([]byte("s"), SeparateValueBytes-1)
	if err := db.Set([]byte("small"), small, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := db.Metrics().BlobFiles.LiveCount; n != 0 {
		t.Fatalf("%d blob files for a value under SeparateValueBytes", n)
	}
	if err := db.Set([]byte("large"), large, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if m := db.Metrics().BlobFiles; m.LiveCount != 1 || m.ValueSize != uint64(len(large)) {
		t.Fatalf("blob files after flushing a %d-byte value: %d holding %d bytes, want 1 holding it", len(large), m.LiveCount, m.ValueSize)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(Config{Dir: dir, CacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for key, want := range map[string][]byte{"small": small, "large": large} {
		v, closer, err := db.Get([]byte(key))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if !bytes.Equal(v, want) {
			t.Errorf("%s: read %d bytes, want the %d written", key, len(v), len(want))
		}
		closer.Close()
	}
}

// TestLargeValueTablesNotTiny: pebble sizes compaction outputs counting the
// blob values their keys reference, so with its default targets (2 MiB at
// L0, doubling per level) a full compaction of 16 MiB of live 64 KiB values
// makes 4 sstables here, and put-large's compactions into L0 and Lbase made
// files of a few dozen keys; Open's targets (16 MiB and up) keep it to one
// or two.
func TestLargeValueTablesNotTiny(t *testing.T) {
	db, err := Open(Config{Dir: t.TempDir(), CacheBytes: 1 << 20, MemTableBytes: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	val := bytes.Repeat([]byte("v"), 64<<10)
	const keys = 256 // 16 MiB live, written 3 times over in overlapping flushes
	for pass := range 3 {
		for i := range keys {
			k := (i*97 + pass*31) % keys // a different order each pass
			if err := db.Set(fmt.Appendf(nil, "k%04d", k), val, pebble.NoSync); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(context.Background(), []byte("k"), []byte("l"), false); err != nil {
		t.Fatal(err)
	}
	var tables int64
	for _, l := range db.Metrics().Levels {
		tables += l.TablesCount
	}
	if tables > 2 {
		t.Errorf("%d sstables hold %d keys of 64 KiB values after a full compaction, want at most 2", tables, keys)
	}
}
