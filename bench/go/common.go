// common.go: the command line and error reporting shared by the Go twins of bench/*.c. Each
// twin is built from two files: go build -o X bench/go/common.go bench/go/X.go (bench/run.sh).
//
// Every twin takes the same arguments: X [procs [reps]] (procs default: GOMAXPROCS as the
// runtime set it; reps default 5), sets GOMAXPROCS to procs and checks it took.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
)

// args parses [procs [reps]] from os.Args and sets GOMAXPROCS to procs.
func args() (procs, reps int) {
	procs, reps = runtime.GOMAXPROCS(0), 5
	if len(os.Args) > 1 {
		procs = atoi(os.Args[1])
	}
	if len(os.Args) > 2 {
		reps = atoi(os.Args[2])
	}
	runtime.GOMAXPROCS(procs)
	if runtime.GOMAXPROCS(0) != procs {
		fatal("GOMAXPROCS is %d, want %d", runtime.GOMAXPROCS(0), procs)
	}
	return
}

// atoi parses a positive integer argument or exits.
func atoi(s string) int {
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		fatal("bad number %q", s)
	}
	return v
}

// fatal prints "bench: FATAL: ..." to stderr and exits with status 2.
func fatal(f string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "bench: FATAL: "+f+"\n", a...)
	os.Exit(2)
}
