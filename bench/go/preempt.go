// preempt: twin of bench/preempt.c, on 1 P (GOMAXPROCS=1).
//
//  1. Wake-up lateness behind a spinner (2 s): one goroutine spins in a tight loop (an atomic
//     load per iteration, no calls: only asynchronous preemption stops it); the main goroutine
//     loops time.Sleep(1 ms). Lateness of one wake = actual wake - (start + 1 ms). Reported:
//     wakes, p50, p99, max in ms.
//  2. Cost of one preemption (1 s): two goroutines spin on the one P, each reading the clock
//     in its loop and publishing (its id, the time); neither yields, so each hand-over is a
//     preemption, and the goroutine that gets the P measures the gap since the other's last
//     clock read. Reported: median gap in microseconds (mean, p90 too). Go's spinner calls
//     time.Now, so Go may also preempt it synchronously at that call (stack-guard check).
//
// Output, one line per repetition (after one shorter warm-up run):
//
//	preempt procs=1 wakes=<n> p50_ms=<ms> p99_ms=<ms> max_ms=<ms> us_per_preemption=<us> us_mean=<us> us_p90=<us> switches=<n>
//
// Usage: preempt [procs [reps]]
package main

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

const (
	latDur  = 2 * time.Second
	costDur = 1 * time.Second
	warmDur = 200 * time.Millisecond
)

var base = time.Now()

func now() int64 { return int64(time.Since(base)) }

// pct: element floor(p*(n-1)) of a sorted slice, as bench/preempt.c.
func pct(v []int64, p float64) int64 {
	if len(v) == 0 {
		return 0
	}
	return v[int(p*float64(len(v)-1))]
}

func lateness(dur time.Duration) (wakes int, p50, p99, mx float64) {
	var stop int32
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		n := 0
		for atomic.LoadInt32(&stop) == 0 {
			n++
		}
		_ = n
		wg.Done()
	}()
	runtime.Gosched() // let the spinner start
	var lat []int64
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		t0 := time.Now()
		time.Sleep(time.Millisecond)
		lat = append(lat, int64(time.Since(t0)-time.Millisecond))
	}
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	wakes = len(lat)
	p50 = float64(pct(lat, 0.5)) / 1e6
	p99 = float64(pct(lat, 0.99)) / 1e6
	if wakes > 0 {
		mx = float64(lat[wakes-1]) / 1e6
	}
	return
}

var (
	lastT  int64
	lastID int32
	sw     []int64
	endT   int64
)

func costSpinner(me int32, wg *sync.WaitGroup) {
	for {
		t := now()
		if t >= atomic.LoadInt64(&endT) {
			break
		}
		if atomic.LoadInt32(&lastID) != me {
			t = now() // t may predate the switch
			if t >= atomic.LoadInt64(&endT) {
				break
			}
			if atomic.LoadInt32(&lastID) != 0 {
				sw = append(sw, t-atomic.LoadInt64(&lastT))
			}
			atomic.StoreInt32(&lastID, me)
		}
		atomic.StoreInt64(&lastT, t)
	}
	wg.Done()
}

func cost(dur time.Duration) (med, mean, p90 float64, n int) {
	sw = sw[:0]
	atomic.StoreInt32(&lastID, 0)
	atomic.StoreInt64(&endT, now()+int64(dur))
	var wg sync.WaitGroup
	wg.Add(2)
	go costSpinner(1, &wg)
	go costSpinner(2, &wg)
	wg.Wait()
	sort.Slice(sw, func(i, j int) bool { return sw[i] < sw[j] })
	n = len(sw)
	var sum float64
	for _, v := range sw {
		sum += float64(v)
	}
	med = float64(pct(sw, 0.5)) / 1e3
	p90 = float64(pct(sw, 0.9)) / 1e3
	if n > 0 {
		mean = sum / float64(n) / 1e3
	}
	return
}

func main() {
	procs, reps := args()
	lateness(warmDur)
	cost(warmDur)
	for r := 0; r < reps; r++ {
		wakes, p50, p99, mx := lateness(latDur)
		med, mean, p90, n := cost(costDur)
		if wakes < 10 || n < 5 {
			fatal("preempt: %d wakes, %d hand-overs: is the spinner ever preempted?", wakes, n)
		}
		fmt.Printf("preempt procs=%d wakes=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f us_per_preemption=%.1f us_mean=%.1f us_p90=%.1f switches=%d\n",
			procs, wakes, p50, p99, mx, med, mean, p90, n)
	}
}
