/*
 * An ordinary C program that knows nothing of libgmp: it does not include gmp.h and is not
 * linked with -lgmp. It runs N tasks in pairs: one task of each pair sleeps 100 ms (usleep)
 * and then writes a byte into a pipe; the other blocks in read() on that pipe. The main task
 * blocks in read() on a "done" pipe until every task has reported.
 *
 * Run plainly, it runs each task on a pthread: N + 2 OS threads.
 * Run with LD_PRELOAD=<libgmp build>/libgmp.so, it finds gmp_spawn/gmp_main with dlsym and
 * runs each task as a goroutine instead; its unchanged usleep/read/write calls are libgmp's
 * interposers then, which park the goroutine rather than its thread: the same N tasks finish
 * in the same ~100 ms on a handful of threads.
 *
 *   sleepers [N [max_threads]]   (N default 1000, even; with max_threads, exit 1 if the
 *                                 peak OS thread count of the process went above it)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef void (*task_fn)(void *);
static int64_t (*go_spawn)(task_fn, void *); /* libgmp's gmp_spawn, when preloaded */
static int (*go_main)(task_fn, void *);      /* libgmp's gmp_main */

static int done_pipe[2];
static int npairs;
static int (*pipes)[2];
static atomic_int peak, stop;

static void sleeper(void *arg)
{
    int i = (int)(intptr_t)arg;
    usleep(100000);
    char c = 'x';
    if (write(pipes[i][1], &c, 1) != 1) { perror("write"); exit(1); }
    if (write(done_pipe[1], &c, 1) != 1) { perror("write"); exit(1); }
}

static void reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c;
    if (read(pipes[i][0], &c, 1) != 1 || c != 'x') { fprintf(stderr, "bad read\n"); exit(1); }
    if (write(done_pipe[1], &c, 1) != 1) { perror("write"); exit(1); }
}

static void *thread_tramp(void *arg)
{
    void **a = arg;
    ((task_fn)a[0])(a[1]);
    free(a);
    return NULL;
}

static void start(task_fn f, int i)
{
    if (go_spawn) {
        if (go_spawn(f, (void *)(intptr_t)i) <= 0) { fprintf(stderr, "gmp_spawn failed\n"); exit(1); }
        return;
    }
    void **a = malloc(2 * sizeof *a);
    a[0] = (void *)f;
    a[1] = (void *)(intptr_t)i;
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, 64 * 1024);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &at, thread_tramp, a) != 0) { fprintf(stderr, "pthread_create failed\n"); exit(1); }
    pthread_attr_destroy(&at);
}

static int os_threads(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "Threads:", 8) == 0)
            n = atoi(line + 8);
    if (f)
        fclose(f);
    return n;
}

static void *monitor(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop)) {
        int n = os_threads();
        if (n > atomic_load(&peak))
            atomic_store(&peak, n);
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static void run(void *arg)
{
    (void)arg;
    for (int i = 0; i < npairs; i++) {
        start(reader, i);
        start(sleeper, i);
    }
    char buf[256];
    for (int left = 2 * npairs; left > 0;) {
        ssize_t n = read(done_pipe[0], buf, left < (int)sizeof buf ? (size_t)left : sizeof buf);
        if (n <= 0) { perror("read"); exit(1); }
        left -= (int)n;
    }
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1000, max_threads = argc > 2 ? atoi(argv[2]) : 0;
    npairs = n / 2;
    pipes = calloc((size_t)npairs, sizeof *pipes);
    if (npairs < 1 || !pipes || pipe(done_pipe) < 0) { fprintf(stderr, "usage: sleepers [N [max_threads]]\n"); return 2; }
    for (int i = 0; i < npairs; i++)
        if (pipe(pipes[i]) < 0) { perror("pipe (raise ulimit -n)"); return 1; }

    go_spawn = (int64_t (*)(task_fn, void *))dlsym(RTLD_DEFAULT, "gmp_spawn");
    go_main = (int (*)(task_fn, void *))dlsym(RTLD_DEFAULT, "gmp_main");
    Dl_info info;
    if (go_spawn && go_main && dladdr((void *)go_main, &info) && info.dli_fname)
        printf("goroutines: gmp_main found in %s\n", info.dli_fname);
    else {
        go_spawn = NULL;
        printf("threads: libgmp not loaded\n");
    }

    pthread_t mon;
    pthread_create(&mon, NULL, monitor, NULL);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (go_main) {
        if (go_main(run, NULL) != 0) { fprintf(stderr, "gmp_main failed\n"); return 1; }
    } else
        run(NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    atomic_store(&stop, 1);
    pthread_join(mon, NULL);
    double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    printf("%d tasks (%d sleeping 100 ms in usleep, %d blocked in read on a pipe): %.0f ms, "
           "peak %d OS threads\n", 2 * npairs, npairs, npairs, ms, atomic_load(&peak));
    if (max_threads > 0 && atomic_load(&peak) > max_threads) {
        fprintf(stderr, "sleepers: FAIL: peak %d OS threads > %d\n", atomic_load(&peak), max_threads);
        return 1;
    }
    return 0;
}
