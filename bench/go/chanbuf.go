// buffered channel throughput: pairs producer goroutines send n int64 values in all into one
// make(chan int64, 64); pairs consumer goroutines range over it until the main goroutine
// closes it (once every producer is done). Reported: wall time / n = ns per message.
// Twin of bench/chanbuf.c (run at 2 Ps with pairs = 1 and 4); the same checks: n values,
// sum 0 + ... + (n - 1), each producer's values in increasing order at each consumer.
//
// Output, one line per repetition (after one warm-up run):
//
//	chanbuf procs=P pairs=K cap=64 n=2000000 ns_per_msg=<ns>
//
// Usage: chanbuf [procs [reps [pairs]]]   (pairs default 1, at most 64)
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

const (
	n        = 2000000
	capacity = 64
	maxPairs = 64
)

type consumer struct {
	count, sum int64
	last       [maxPairs]int64
	disorder   bool
}

func once(pairs int) {
	c := make(chan int64, capacity)
	var pwg, cwg sync.WaitGroup
	cons := make([]consumer, pairs)
	for i := range cons {
		for p := 0; p < pairs; p++ {
			cons[i].last[p] = -1
		}
	}
	cwg.Add(pairs)
	pwg.Add(pairs)
	for i := 0; i < pairs; i++ {
		me := &cons[i]
		go func() {
			var count, sum int64
			for v := range c {
				count++
				sum += v
				p := v % int64(pairs)
				if v <= me.last[p] {
					me.disorder = true
				}
				me.last[p] = v
			}
			me.count, me.sum = count, sum
			cwg.Done()
		}()
	}
	for i := 0; i < pairs; i++ {
		go func(p int64) {
			for v := p; v < n; v += int64(pairs) {
				c <- v
			}
			pwg.Done()
		}(int64(i))
	}
	pwg.Wait()
	close(c)
	cwg.Wait()
	var count, sum int64
	for i := range cons {
		count += cons[i].count
		sum += cons[i].sum
		if cons[i].disorder {
			fatal("chanbuf: consumer %d saw a producer's values out of order", i)
		}
	}
	if want := int64(n) * (n - 1) / 2; count != n || sum != want {
		fatal("chanbuf: received %d values summing to %d, want %d summing to %d", count, sum, n, want)
	}
}

func main() {
	procs, reps := args()
	pairs := 1
	if len(os.Args) > 3 {
		pairs = atoi(os.Args[3])
	}
	if pairs > maxPairs || n%pairs != 0 {
		fatal("pairs must divide %d and be at most %d", n, maxPairs)
	}
	once(pairs) // warm-up
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		once(pairs)
		d := time.Since(t0)
		fmt.Printf("chanbuf procs=%d pairs=%d cap=%d n=%d ns_per_msg=%.1f\n", procs, pairs,
			capacity, n, float64(d.Nanoseconds())/n)
	}
}
