package stats

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func TestPercentile(t *testing.T) {
	// 1..100 ms: the p-th percentile by nearest rank is exactly p ms.
	var hundred []time.Duration
	for i := 1; i <= 100; i++ {
		hundred = append(hundred, ms(float64(i)))
	}
	// 1..1000 µs.
	var thousand []time.Duration
	for i := 1; i <= 1000; i++ {
		thousand = append(thousand, time.Duration(i)*time.Microsecond)
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample p50", []time.Duration{ms(3)}, 50, ms(3)},
		{"one sample p99.9", []time.Duration{ms(3)}, 99.9, ms(3)},
		{"two samples p50 is the lower", []time.Duration{ms(1), ms(2)}, 50, ms(1)},
		{"two samples p51 is the upper", []time.Duration{ms(1), ms(2)}, 51, ms(2)},
		{"p0 is the minimum", hundred, 0, ms(1)},
		{"p1", hundred, 1, ms(1)},
		{"p50", hundred, 50, ms(50)},
		{"p90", hundred, 90, ms(90)},
		{"p99", hundred, 99, ms(99)},
		{"p99.9 of 100 is the maximum", hundred, 99.9, ms(100)},
		{"p100", hundred, 100, ms(100)},
		{"p99.9 of 1000 is the 999th", thousand, 99.9, 999 * time.Microsecond},
		{"p99 of 1000 is the 990th", thousand, 99, 990 * time.Microsecond},
		{"above 100 clamps", hundred, 150, ms(100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Percentile(tt.sorted, tt.p); got != tt.want {
				t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	if got := Summarize(nil); got != (Latency{}) {
		t.Errorf("Summarize(nil) = %+v, want zero", got)
	}
	lats := []time.Duration{ms(4), ms(2), ms(1), ms(3)}
	got := Summarize(lats)
	want := Latency{
		Count: 4, Min: ms(1), Max: ms(4), Mean: ms(2.5),
		Stddev: time.Duration(math.Sqrt(1.25) * float64(time.Millisecond)),
		P50:    ms(2), P90: ms(4), P99: ms(4), P999: ms(4),
	}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
	for i := 1; i < len(lats); i++ {
		if lats[i-1] > lats[i] {
			t.Fatalf("Summarize did not sort its input: %v", lats)
		}
	}
}

// Shuffled input gives the same percentiles as sorted input.
func TestSummarizeOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a []time.Duration
	for range 10_000 {
		a = append(a, time.Duration(r.ExpFloat64()*float64(time.Millisecond)))
	}
	b := append([]time.Duration(nil), a...)
	r.Shuffle(len(b), func(i, j int) { b[i], b[j] = b[j], b[i] })
	sa, sb := Summarize(a), Summarize(b)
	if sa.P50 != sb.P50 || sa.P99 != sb.P99 || sa.P999 != sb.P999 || sa.Count != 10_000 {
		t.Errorf("order changed the summary: %+v vs %+v", sa, sb)
	}
	if !(sa.P50 <= sa.P90 && sa.P90 <= sa.P99 && sa.P99 <= sa.P999 && sa.P999 <= sa.Max) {
		t.Errorf("percentiles out of order: %+v", sa)
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"one", []float64{7}, 7},
		{"odd", []float64{3, 1, 2}, 2},
		{"even averages the middle two", []float64{4, 1, 3, 2}, 2.5},
		{"outlier does not move it", []float64{100, 101, 1e9}, 101},
		{"duplicates", []float64{5, 5, 1}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.xs...)
			if got := Median(tt.xs); got != tt.want {
				t.Errorf("Median(%v) = %v, want %v", tt.xs, got, tt.want)
			}
			for i := range in {
				if in[i] != tt.xs[i] {
					t.Fatalf("Median modified its input")
				}
			}
		})
	}
	if !math.IsNaN(Median(nil)) {
		t.Errorf("Median(nil) should be NaN")
	}
	if got := MedianDuration([]time.Duration{ms(3), ms(1), ms(2), ms(10)}); got != ms(2.5) {
		t.Errorf("MedianDuration = %v, want 2.5ms", got)
	}
	if got := MedianDuration(nil); got != 0 {
		t.Errorf("MedianDuration(nil) = %v, want 0", got)
	}
}

func TestRatio(t *testing.T) {
	tests := []struct {
		num, den float64
		want     float64 // NaN means NaN
	}{
		{30, 20, 1.5},
		{1, 4, 0.25},
		{0, 20, math.NaN()},
		{20, 0, math.NaN()},
		{-1, 2, math.NaN()},
		{math.NaN(), 2, math.NaN()},
		{math.Inf(1), 2, math.NaN()},
	}
	for _, tt := range tests {
		got := Ratio(tt.num, tt.den)
		if math.IsNaN(tt.want) != math.IsNaN(got) || (!math.IsNaN(got) && got != tt.want) {
			t.Errorf("Ratio(%v, %v) = %v, want %v", tt.num, tt.den, got, tt.want)
		}
	}
}

func TestPerSecond(t *testing.T) {
	if got := PerSecond(3000, 1500*time.Millisecond); got != 2000 {
		t.Errorf("PerSecond = %v, want 2000", got)
	}
	if got := PerSecond(10, 0); got != 0 {
		t.Errorf("PerSecond over 0 = %v, want 0", got)
	}
}
