// sleep: twin of bench/sleep.c. Timer precision on an idle runtime: the main goroutine calls
// time.Sleep(time.Millisecond) 500 times in a row; lateness = wall time of one call - 1 ms.
// Reported in microseconds: p50, p99, max (element floor(p*(n-1)) of the sorted sample).
//
// Output, one line per repetition (after one warm-up repetition):
//
//	sleep procs=P n=500 p50_us=<us> p99_us=<us> max_us=<us>
//
// Usage: sleep [procs [reps]]
package main

import (
	"fmt"
	"sort"
	"time"
)

const sleepN = 500

func sleepOnce(procs int, print bool) {
	lat := make([]int64, sleepN)
	for i := range lat {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		dt := time.Since(t0)
		if dt < time.Millisecond {
			fatal("time.Sleep(1 ms) returned after %v", dt)
		}
		lat[i] = int64(dt - time.Millisecond)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if print {
		fmt.Printf("sleep procs=%d n=%d p50_us=%.1f p99_us=%.1f max_us=%.1f\n", procs, sleepN,
			float64(lat[sleepN/2])/1e3, float64(lat[pctIndex(0.99, sleepN)])/1e3,
			float64(lat[sleepN-1])/1e3)
	}
}

func main() {
	procs, reps := args()
	sleepOnce(procs, false)
	for r := 0; r < reps; r++ {
		sleepOnce(procs, true)
	}
}

// pctIndex: floor(p*(n-1)), as bench/sleep.c.
func pctIndex(p float64, n int) int { return int(p * float64(n-1)) }
