package app

import (
	"bufio"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// tuneGC sets Go's garbage collector for a server whose heap is small next
// to the machine: a GOGC of 400 (a collection when the heap grows 5x rather
// than 2x) cut the CPU spent on GC under 100 concurrent puts by about a
// tenth of the server's total, and a soft memory limit at 75% of the
// machine's memory keeps that from turning into an out-of-memory kill
// (CockroachDB does the same, see shared/PERF-NOTES.md). GOGC or GOMEMLIMIT
// in the environment win.
func tuneGC(env []string) {
	has := func(name string) bool {
		for _, kv := range env {
			if strings.HasPrefix(kv, name+"=") {
				return true
			}
		}
		return false
	}
	if !has("GOGC") {
		debug.SetGCPercent(400)
	}
	if !has("GOMEMLIMIT") {
		if total := memTotalBytes(); total > 0 {
			debug.SetMemoryLimit(total / 4 * 3)
		}
	}
}

// memTotalBytes reads MemTotal from /proc/meminfo (0 if it cannot).
func memTotalBytes() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
