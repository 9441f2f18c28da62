// sync.Mutex lock/unlock. Twin of bench/mutex.c.
//
//	mutex P REPS uncontended: the main goroutine alone does 10M Lock, counter++, Unlock;
//	    ns per pair = wall time / 10M (run.sh: 1 P).
//	mutex P REPS contended: 8 goroutines each do 250,000 Lock, counter++, Unlock on one
//	    shared mutex; ns per pair = wall time / 2M (run.sh: 2 P).
//
// The plain counter must come out at the number of pairs.
//
// Output, one line per repetition (after one warm-up run):
//
//	mutex procs=P mode=contended goroutines=8 n=2000000 ns_per_pair=<ns> counter=2000000
//
// Usage: mutex [procs [reps [uncontended|contended]]]   (default: uncontended)
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const (
	uncN = 10000000
	conN = 2000000
	nG   = 8
)

var (
	mu      sync.Mutex
	counter int64
)

func once(contended bool) int64 {
	counter = 0
	if !contended {
		for i := 0; i < uncN; i++ {
			mu.Lock()
			counter++
			mu.Unlock()
		}
		return uncN
	}
	var wg sync.WaitGroup
	wg.Add(nG)
	for g := 0; g < nG; g++ {
		go func() {
			for i := 0; i < conN/nG; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	return conN
}

func check(n int64, mode string) {
	if counter != n {
		fatal("mutex %s: counter %d, want %d (lost increments)", mode, counter, n)
	}
	if !mu.TryLock() {
		fatal("mutex: still locked after every goroutine unlocked it")
	}
	mu.Unlock()
}

func main() {
	procs, reps := args()
	mode := "uncontended"
	if len(os.Args) > 3 {
		mode = os.Args[3]
	}
	if mode != "uncontended" && mode != "contended" {
		fatal("mode must be uncontended or contended, not %q", mode)
	}
	contended := mode == "contended"
	g := 1
	if contended {
		g = nG
	}
	check(once(contended), mode) // warm-up
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		n := once(contended)
		d := time.Since(t0)
		check(n, mode)
		fmt.Printf("mutex procs=%d mode=%s goroutines=%d n=%d ns_per_pair=%.1f counter=%d\n",
			procs, mode, g, n, float64(d.Nanoseconds())/float64(n), counter)
	}
}
