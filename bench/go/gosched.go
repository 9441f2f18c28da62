// gosched: two goroutines each call runtime.Gosched() 1e6 times (run on 1 P); main waits.
// Reported: wall time / 2e6 calls = ns per Gosched call. Twin of bench/gosched.c.
//
// Output, one line per repetition (after one warm-up run):
//
//	gosched procs=P calls=2000000 ns_per_gosched=<ns>
//
// Usage: gosched [procs [reps]]
package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

const (
	gs = 2
	n  = 1000000
)

func once() {
	var wg sync.WaitGroup
	wg.Add(gs)
	for g := 0; g < gs; g++ {
		go func() {
			for i := 0; i < n; i++ {
				runtime.Gosched()
			}
			wg.Done()
		}()
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
		fmt.Printf("gosched procs=%d calls=%d ns_per_gosched=%.1f\n", procs, gs*n,
			float64(d.Nanoseconds())/(gs*n))
	}
}
