package storage

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
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
