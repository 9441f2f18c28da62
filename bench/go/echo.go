// echo: twin of bench/echo.c. TCP echo round trips with 1,000 connections, server and
// clients in one process (net package: one goroutine per connection, blocking-style code on
// Go's netpoller). Setup (not timed): a listener on 127.0.0.1:0, an acceptor goroutine that
// starts one server goroutine per connection (read up to 16 KiB, write it back, until EOF),
// and 1,000 client goroutines that dial (Go sets TCP_NODELAY by default). Per repetition the
// clients are released together (a closed channel) and each does 100 round trips of 64
// bytes, checking every byte. Reported: wall / (conns x rounds) in ns, round trips per
// second, and the process's threads (/proc/self/stat) at the end of the repetition.
//
// Output, one line per repetition (after one warm-up repetition):
//
//	echo procs=2 conns=1000 size=64 rounds=100 ns_per_rt=<ns> rt_per_s=<n> threads=<n>
//
// Usage: echo [procs [reps]]
package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	conns  = 1000
	rounds = 100
	size   = 64
)

func threads() int {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		fatal("read /proc/self/stat: %v", err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	n, _ := strconv.Atoi(f[17])
	return n
}

func main() {
	procs, reps := args()
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fatal("listen: %v", err)
	}
	go func() {
		for i := 0; i < conns; i++ {
			c, err := ln.Accept()
			if err != nil {
				fatal("accept: %v", err)
			}
			go func(c net.Conn) {
				buf := make([]byte, 16384)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							fatal("server write: %v", werr)
						}
					}
					if err != nil {
						if err != io.EOF {
							fatal("server read: %v", err)
						}
						break
					}
				}
				c.Close()
			}(c)
		}
	}()
	gates := make([]chan struct{}, reps+1)
	for i := range gates {
		gates[i] = make(chan struct{})
	}
	var bad int64
	var wg sync.WaitGroup
	wg.Add(conns)
	for id := 0; id < conns; id++ {
		go func(id int) {
			c, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				fatal("dial: %v", err)
			}
			wg.Done()
			out, in := make([]byte, size), make([]byte, size)
			for rep := 0; rep <= reps; rep++ {
				<-gates[rep]
				for r := 0; r < rounds; r++ {
					for i := range out {
						out[i] = byte(id + r*7 + i)
					}
					if _, err := c.Write(out); err != nil {
						fatal("client write: %v", err)
					}
					if _, err := io.ReadFull(c, in); err != nil {
						fatal("client read: %v", err)
					}
					if !bytes.Equal(in, out) {
						atomic.AddInt64(&bad, 1)
					}
				}
				wg.Done()
			}
			c.Close()
		}(id)
	}
	wg.Wait()
	for rep := 0; rep <= reps; rep++ {
		wg.Add(conns)
		t0 := time.Now()
		close(gates[rep])
		wg.Wait()
		dt := time.Since(t0)
		if atomic.LoadInt64(&bad) != 0 {
			fatal("echo: %d round trips came back with wrong bytes", bad)
		}
		n := float64(conns * rounds)
		if rep > 0 {
			fmt.Printf("echo procs=%d conns=%d size=%d rounds=%d ns_per_rt=%.1f rt_per_s=%.0f threads=%d\n",
				procs, conns, size, rounds, float64(dt.Nanoseconds())/n, n/dt.Seconds(), threads())
		}
	}
}
