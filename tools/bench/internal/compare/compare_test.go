package compare

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMemKeys(t *testing.T) {
	for _, n := range []int{1, 2000, 10_000, 25_000, 1_000_003} {
		m := newMemKeys(n)
		seen := make(map[int]bool, n)
		keys := make(map[string]bool, n)
		for i := range n {
			idx := m.index(i)
			if idx < 0 || idx >= n || seen[idx] {
				t.Fatalf("n=%d: index(%d)=%d repeats or is out of range", n, i, idx)
			}
			seen[idx] = true
			k := m.key(idx)
			if len(k) < memMinKey || len(k) > memMaxKey {
				t.Fatalf("n=%d: key %q has %d bytes", n, k, len(k))
			}
			if !strings.HasPrefix(k, groupPrefix(idx/memGroup)) {
				t.Fatalf("key %q is not under %q", k, groupPrefix(idx/memGroup))
			}
			keys[k] = true
		}
		if len(keys) != n {
			t.Fatalf("n=%d: %d distinct keys", n, len(keys))
		}
	}
	m, again := newMemKeys(1_000_000), newMemKeys(1_000_000)
	if m.key(5) != again.key(5) || m.value(5) != again.value(5) || len(m.value(5)) != valSize || m.value(5) == m.value(6) {
		t.Error("keys and values must derive from the index alone, values differ")
	}
	// Sizes spread over the whole 16–32 range.
	sizes := map[int]bool{}
	for i := range 10_000 {
		sizes[len(m.key(i))] = true
	}
	if len(sizes) != memMaxKey-memMinKey+1 {
		t.Errorf("key sizes used: %d of %d", len(sizes), memMaxKey-memMinKey+1)
	}
}

func TestPrefixGroup(t *testing.T) {
	tests := []struct{ n, g, keys int }{
		{2000, 0, 2000},
		{10_000, 0, 10_000},
		{25_000, 1, 10_000},
		{1_000_000, 50, 10_000},
		{15_000, 1, 5_000},
	}
	for _, tt := range tests {
		g, keys := newMemKeys(tt.n).prefixGroup()
		if g != tt.g || keys != tt.keys {
			t.Errorf("n=%d: group %d with %d keys, want %d with %d", tt.n, g, keys, tt.g, tt.keys)
		}
		// Count the keys that really fall under that prefix.
		m := newMemKeys(tt.n)
		count := 0
		for idx := range tt.n {
			if strings.HasPrefix(m.key(idx), groupPrefix(g)) {
				count++
			}
		}
		if count != keys {
			t.Errorf("n=%d: %d keys under %q, prefixGroup says %d", tt.n, count, groupPrefix(g), keys)
		}
	}
}

func TestScaledAndWarmup(t *testing.T) {
	if scaled(20_000, 0.01) != 200 || scaled(10, 0.001) != 1 || scaled(3, 1) != 3 {
		t.Error("scaled")
	}
	if warmupFor(200) != 10 || warmupFor(20_000) != 1_000 || warmupFor(300_000) != 2_000 {
		t.Error("warmupFor")
	}
	if mixedKeySpace(200) != 100 || mixedKeySpace(200_000) != 10_000 || mixedKeySpace(50_000) != 2_500 {
		t.Error("mixedKeySpace")
	}
}

func TestFindRepoRoot(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "repo")
	sub := filepath.Join(root, "tools", "bench")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	must := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	must(filepath.Join(root, "go.mod"), "// Cairn\nmodule github.com/cairnkv/cairn\n\ngo 1.26.8\n")
	must(filepath.Join(sub, "go.mod"), "module github.com/cairnkv/cairn/tools/bench\n")
	got, err := FindRepoRoot(sub)
	if err != nil || got != root {
		t.Errorf("FindRepoRoot = %q, %v; want %q", got, err, root)
	}
	if _, err := FindRepoRoot(dir); err == nil {
		t.Error("found a root above the tree")
	}
	// This very tree.
	got, err = FindRepoRoot(".")
	if err != nil {
		t.Fatalf("FindRepoRoot(.): %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(got, "go.mod")); err != nil || !isCairnMod(b) {
		t.Errorf("FindRepoRoot(.) = %q: not the Cairn tree", got)
	}
}

func TestValidate(t *testing.T) {
	c := Defaults()
	c.Workloads = []string{"put-1", "nope"}
	if err := c.validate(); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown workload: %v", err)
	}
	c = Defaults()
	c.Keys = memMaxKeys + 1
	if err := c.validate(); err == nil {
		t.Error("too many keys accepted")
	}
	c = Defaults()
	if err := c.validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
