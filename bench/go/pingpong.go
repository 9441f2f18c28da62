// ping-pong: goroutine A sends on unbuffered channel ping and receives from pong; B receives
// from ping and sends on pong; 1e6 round trips (one round trip = two hand-offs).
// Reported: wall time / 1e6 = ns per round trip. Twin of bench/pingpong.c.
//
// Output, one line per repetition (after one warm-up run):
//
//	pingpong procs=P n=1000000 ns_per_roundtrip=<ns>
//
// Usage: pingpong [procs [reps]]
package main

import (
	"fmt"
	"sync"
	"time"
)

const n = 1000000

func once() {
	ping, pong := make(chan int64), make(chan int64)
	var wg sync.WaitGroup
	var checksum int64 = -1
	wg.Add(2)
	go func() { // B
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v + 1
		}
		wg.Done()
	}()
	go func() { // A
		var sum int64
		for i := int64(0); i < n; i++ {
			ping <- i
			sum += <-pong
		}
		checksum = sum
		wg.Done()
	}()
	wg.Wait()
	if want := int64(n) * (n + 1) / 2; checksum != want {
		fatal("pingpong: checksum %d, want %d", checksum, want)
	}
}

func main() {
	procs, reps := args()
	once() // warm-up
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		once()
		d := time.Since(t0)
		fmt.Printf("pingpong procs=%d n=%d ns_per_roundtrip=%.1f\n", procs, n,
			float64(d.Nanoseconds())/n)
	}
}
