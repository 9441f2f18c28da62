// skynet 1M, the classic benchmark: a root goroutine spawns 10 children, each spawns 10, ...
// 6 levels below the root (1,000,000 leaves). A leaf sends its number on its parent's
// channel; a node receives its 10 children's values, sums them and sends the sum up.
// Twin of bench/skynet.c. Sum = 499999500000.
//
// Output, one line per repetition (after one warm-up run):
//
//	skynet procs=P ms=<wall ms for one whole tree> sum=<root sum>
//
// Usage: skynet [procs [reps]]   (procs default: GOMAXPROCS as the runtime set it)
package main

import (
	"fmt"
	"time"
)

const (
	size = 1000000
	div  = 10
	want = 499999500000
)

func skynet(c chan int, num int, size int, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	var sum int
	for i := 0; i < div; i++ {
		subNum := num + i*(size/div)
		go skynet(rc, subNum, size/div, div)
	}
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func once() int {
	c := make(chan int)
	go skynet(c, 0, size, div)
	return <-c
}

func main() {
	procs, reps := args()
	if s := once(); s != want { // warm-up
		fatal("skynet warm-up: sum %d, want %d", s, want)
	}
	for r := 0; r < reps; r++ {
		t0 := time.Now()
		s := once()
		d := time.Since(t0)
		fmt.Printf("skynet procs=%d ms=%.1f sum=%d\n", procs, float64(d.Nanoseconds())/1e6, s)
		if s != want {
			fatal("skynet: sum %d, want %d", s, want)
		}
	}
}
