// Package stats owns the arithmetic of the benchmark reports: exact latency
// percentiles from every recorded sample, medians across repetitions and the
// Cairn/etcd ratios. Request counts are bounded, so every latency is kept and
// sorted; nothing is estimated from histograms.
package stats

import (
	"math"
	"slices"
	"time"
)

// Latency summarises a set of request latencies.
type Latency struct {
	Count  int           `json:"count"`
	Min    time.Duration `json:"min_ns"`
	Max    time.Duration `json:"max_ns"`
	Mean   time.Duration `json:"mean_ns"`
	Stddev time.Duration `json:"stddev_ns"`
	P50    time.Duration `json:"p50_ns"`
	P90    time.Duration `json:"p90_ns"`
	P99    time.Duration `json:"p99_ns"`
	P999   time.Duration `json:"p999_ns"`
}

// Summarize sorts lats in place and returns their summary. An empty slice
// gives the zero Latency.
func Summarize(lats []time.Duration) Latency {
	if len(lats) == 0 {
		return Latency{}
	}
	slices.Sort(lats)
	var sum float64
	for _, l := range lats {
		sum += float64(l)
	}
	mean := sum / float64(len(lats))
	var sq float64
	for _, l := range lats {
		d := float64(l) - mean
		sq += d * d
	}
	return Latency{
		Count:  len(lats),
		Min:    lats[0],
		Max:    lats[len(lats)-1],
		Mean:   time.Duration(mean),
		Stddev: time.Duration(math.Sqrt(sq / float64(len(lats)))),
		P50:    Percentile(lats, 50),
		P90:    Percentile(lats, 90),
		P99:    Percentile(lats, 99),
		P999:   Percentile(lats, 99.9),
	}
}

// Percentile is the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method: the smallest sample such that at least p% of the
// samples are less than or equal to it. It is always one of the samples,
// never an interpolation. Empty input gives 0.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// The epsilon keeps p*n that are whole numbers in floating point (for
	// example 99.9% of 1000) from rounding up one rank.
	rank := int(math.Ceil(p/100*float64(n) - 1e-9))
	rank = max(1, min(rank, n))
	return sorted[rank-1]
}

// Median is the median of xs (the mean of the two middle values when their
// number is even). It does not modify xs. Empty input gives NaN.
func Median(xs []float64) float64 {
	n := len(xs)
	if n == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// MedianDuration is Median for durations, rounded to the nanosecond.
func MedianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	m := Median(xs)
	if math.IsNaN(m) {
		return 0
	}
	return time.Duration(math.Round(m))
}

// Ratio is num/den, or NaN when either is not a positive finite number (a
// ratio against a missing or failed measurement means nothing).
func Ratio(num, den float64) float64 {
	if !(num > 0) || !(den > 0) || math.IsInf(num, 0) || math.IsInf(den, 0) {
		return math.NaN()
	}
	return num / den
}

// PerSecond is n events over d as a rate; 0 when d is not positive.
func PerSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
