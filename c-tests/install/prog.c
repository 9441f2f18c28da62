/*
 * Built by c-tests/install_check.sh against an installed libgmp (pkg-config or CMake):
 * `#include <gmp.h>` must find our header (-I.../include/gmp-sched), not GNU MP's.
 *   prog LIBDIR   runs a few goroutines, checks their results, and checks (dladdr) that the
 *                 libgmp it loaded lives in LIBDIR. Prints "ok ..." and exits 0 on success.
 */
#define _GNU_SOURCE
#include <gmp.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef GMP_H
#error "<gmp.h> is not libgmp's (goroutine scheduler) header"
#endif

#define N 8

static atomic_long sum;
static atomic_int done;
static int64_t ids[N + 1];

static void worker(void *arg)
{
    long i = (long)(intptr_t)arg;
    for (int k = 0; k < 3; k++)
        gmp_gosched();
    atomic_fetch_add(&sum, i * i);
    atomic_fetch_add(&done, 1);
}

static void main_goroutine(void *arg)
{
    int *ok = arg;
    for (long i = 1; i <= N; i++) {
        ids[i] = gmp_spawn(worker, (void *)(intptr_t)i);
        if (ids[i] <= 0) {
            fprintf(stderr, "gmp_spawn returned %lld\n", (long long)ids[i]);
            return;
        }
    }
    while (atomic_load(&done) < N)
        gmp_gosched();
    *ok = 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s LIBDIR\n", argv[0]);
        return 2;
    }
    alarm(60);

    /* The library that provides gmp_spawn must be LIBDIR's libgmp.so*. */
    char want[PATH_MAX], got[PATH_MAX];
    Dl_info info;
    memset(&info, 0, sizeof info);
    if (!realpath(argv[1], want)) {
        fprintf(stderr, "realpath(%s) failed\n", argv[1]);
        return 1;
    }
    if (!dladdr((void *)&gmp_spawn, &info) || !info.dli_fname || !realpath(info.dli_fname, got)) {
        fprintf(stderr, "dladdr(gmp_spawn) failed\n");
        return 1;
    }
    size_t n = strlen(want);
    if (strncmp(got, want, n) != 0 || got[n] != '/' || strncmp(got + n + 1, "libgmp.so", 9) != 0) {
        fprintf(stderr, "libgmp loaded from %s, not from %s\n", got, want);
        return 1;
    }

    int ok = 0;
    int rc = gmp_main(main_goroutine, &ok);
    long want_sum = 0;
    for (long i = 1; i <= N; i++)
        want_sum += i * i;
    if (rc != 0 || !ok || atomic_load(&sum) != want_sum) {
        fprintf(stderr, "gmp_main=%d ok=%d sum=%ld (want %ld)\n", rc, ok, atomic_load(&sum), want_sum);
        return 1;
    }
    for (int i = 1; i <= N; i++)
        for (int j = 1; j < i; j++)
            if (ids[i] == ids[j]) {
                fprintf(stderr, "goroutines %d and %d share id %lld\n", i, j, (long long)ids[i]);
                return 1;
            }
    gmp_stats st;
    if (gmp_stats_read(&st) != 0 || st.spawned < N + 1) {
        fprintf(stderr, "gmp_stats_read: spawned=%llu\n", (unsigned long long)st.spawned);
        return 1;
    }
    printf("ok: %d goroutines, sum %ld, libgmp from %s\n", N, want_sum, got);
    return 0;
}
