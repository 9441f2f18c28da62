// spawn-and-wait 1M: for i < 1e6 { wg.Add(1); go func() { wg.Done() }() }; wg.Wait().
// Reported: wall time / 1e6 = ns per spawn. Twin of bench/spawn.c.
//
// Output, one line per repetition (after one warm-up run):
//
//	spawn procs=P n=1000000 ns_per_spawn=<ns>
//
// Usage: spawn [procs [reps]]
package main

import (
	"fmt"
	"sync"
	"time"
)

const n = 1000000

func once() {
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() { wg.Done() }()
	}
	wg.Wait()
}

func main() {
	procs, reps := args()
	once() // warm-up
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		once()
		d := time.Since(t0)
		fmt.Printf("spawn procs=%d n=%d ns_per_spawn=%.1f\n", procs, n, float64(d.Nanoseconds())/n)
	}
}
