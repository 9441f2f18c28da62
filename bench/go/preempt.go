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
// With the scenario argument "crowd" (bench/preempt.c's scenarios 3 and 4), instead, per
// repetition and without a warm-up:
//
//  3. Crowd: 400 goroutines of 10 ms of CPU each (a calibrated LCG loop, work(), measured on
//     the thread CPU clock, best of 5), all started at once; each checks the clock every 1/8
//     ms of work and, once per ms, does a non-blocking send of the time on an unbuffered
//     channel, which succeeds only while goroutine S waits in its receive (so S is readied
//     by another goroutine, into that goroutine's P's runnext). Lateness = S's clock after
//     the receive - the time sent. Reported: wall time, peak threads, S's wakes and lateness
//     p50 / p99 / max. Go preempts the crowd asynchronously, and also synchronously at the
//     next work() call once its slice is over (a function prologue), even with
//     GODEBUG=asyncpreemptoff=1.
//  4. Thread bound: 1000 goroutines of 11 ms of CPU each (one work() call: only asynchronous
//     preemption can stop them): wall time, peak threads.
//
// Peak threads = the process's threads (/proc/self/stat) at the end of the phase: Go does not
// destroy its threads (none of these goroutines locks one), so that is the peak.
//
//	crowd procs=2 crowd_n=400 crowd_wall_ms=<ms> crowd_peak_threads=<n> crowd_wakes=<n> crowd_p50_ms=<ms> crowd_p99_ms=<ms> crowd_max_ms=<ms>
//	bound procs=2 bound_n=1000 bound_wall_ms=<ms> bound_peak_threads=<n>
//
// With "sleep N" (bench/preempt.c's scenario 5), per repetition after a 0.2 s warm-up: the
// main goroutine calls time.Sleep(time.Millisecond) in a loop for 2 s while N goroutines spin
// as in 1.; lateness of one sleep = its wall time - 1 ms:
//
//	preempt_sleep procs=1 spinners=<N> wakes=<n> p50_ms=<ms> p99_ms=<ms> max_ms=<ms>
//
// Usage: preempt [procs [reps [crowd | sleep N]]]
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
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

const (
	crowdN  = 400
	crowdMs = 10
	boundN  = 1000
	boundMs = 11
)

var (
	itersPerMs uint64
	sinkv      uint64
)

// work: the unit of CPU work, an LCG step per iteration; no calls in the loop.
//
//go:noinline
func work(n, x uint64) uint64 {
	for i := uint64(0); i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	return x
}

func threadCPU() int64 {
	var ts syscall.Timespec
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, 3 /* CLOCK_THREAD_CPUTIME_ID */, uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

// calibrate: iterations of work per ms of CPU, best of 5 runs of 2^22 iterations.
func calibrate() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	best, x := 0.0, uint64(1)
	for i := 0; i < 5; i++ {
		t0 := threadCPU()
		x = work(1<<22, x)
		r := float64(1<<22) / float64(threadCPU()-t0) * 1e6
		if r > best {
			best = r
		}
	}
	atomic.AddUint64(&sinkv, x)
	itersPerMs = uint64(best)
}

// osThreads: field 20 (num_threads) of /proc/self/stat.
func osThreads() int {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		fatal("read /proc/self/stat: %v", err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // f[0] is field 3
	n, err := strconv.Atoi(f[17])
	if err != nil {
		fatal("/proc/self/stat: %v", err)
	}
	return n
}

func crowd(procs int) {
	c := make(chan int64)
	done := make(chan struct{})
	var lat []int64
	go func() {
		for t := range c {
			lat = append(lat, now()-t)
		}
		close(done)
	}()
	var wg sync.WaitGroup
	wg.Add(crowdN)
	t0 := now()
	for i := 0; i < crowdN; i++ {
		go func() {
			left, chunk := uint64(crowdMs)*itersPerMs, itersPerMs/8+1
			x := left
			var last int64
			for left > 0 {
				n := chunk
				if left < n {
					n = left
				}
				x = work(n, x)
				left -= n
				if t := now(); t-last >= 1000000 {
					last = t
					select {
					case c <- now():
					default:
					}
				}
			}
			atomic.AddUint64(&sinkv, x)
			wg.Done()
		}()
	}
	wg.Wait()
	wall := now() - t0
	threads := osThreads()
	close(c)
	<-done
	if len(lat) < 10 {
		fatal("crowd: S was readied only %d times", len(lat))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("crowd procs=%d crowd_n=%d crowd_wall_ms=%.1f crowd_peak_threads=%d crowd_wakes=%d crowd_p50_ms=%.2f crowd_p99_ms=%.2f crowd_max_ms=%.2f\n",
		procs, crowdN, float64(wall)/1e6, threads, len(lat), float64(pct(lat, 0.5))/1e6,
		float64(pct(lat, 0.99))/1e6, float64(lat[len(lat)-1])/1e6)
}

func bound(procs int) {
	var wg sync.WaitGroup
	wg.Add(boundN)
	t0 := now()
	for i := 0; i < boundN; i++ {
		go func() {
			atomic.AddUint64(&sinkv, work(uint64(boundMs)*itersPerMs, 7))
			wg.Done()
		}()
	}
	wg.Wait()
	wall := now() - t0
	fmt.Printf("bound procs=%d bound_n=%d bound_wall_ms=%.1f bound_peak_threads=%d\n",
		procs, boundN, float64(wall)/1e6, osThreads())
}

// sleepLateness: scenario 5 (bench/preempt.c "sleep N"): the main goroutine calls
// time.Sleep(1 ms) in a loop for dur while nspin goroutines spin (as in lateness); lateness
// of one sleep = its wall time - 1 ms.
func sleepLateness(dur time.Duration, nspin int) (wakes int, p50, p99, mx float64) {
	var stop int32
	var wg sync.WaitGroup
	wg.Add(nspin)
	for i := 0; i < nspin; i++ {
		go func() {
			n := 0
			for atomic.LoadInt32(&stop) == 0 {
				n++
			}
			_ = n
			wg.Done()
		}()
	}
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
	mx = float64(lat[wakes-1]) / 1e6
	return
}

func main() {
	procs, reps := args()
	if len(os.Args) == 5 && os.Args[3] == "sleep" {
		nspin, err := strconv.Atoi(os.Args[4])
		if err != nil || nspin < 0 {
			fatal("bad spinner count %q", os.Args[4])
		}
		sleepLateness(warmDur, nspin)
		for r := 0; r < reps; r++ {
			wakes, p50, p99, mx := sleepLateness(latDur, nspin)
			fmt.Printf("preempt_sleep procs=%d spinners=%d wakes=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
				procs, nspin, wakes, p50, p99, mx)
		}
		return
	}
	if len(os.Args) > 3 {
		if os.Args[3] != "crowd" || len(os.Args) != 4 {
			fatal("usage: preempt [procs [reps [crowd | sleep N]]]")
		}
		calibrate()
		for r := 0; r < reps; r++ {
			crowd(procs)
			bound(procs)
		}
		return
	}
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
