/*
 * hookcmp.h: shared helpers of the interposer tests (t_hooks_*.c). Not a test itself (run.sh
 * builds only t_*.c).
 *
 *  - rec_t: a log of what one run of a scenario observed: (label, return value, errno, up to
 *    64 bytes of data) per step. A scenario runs twice, once in a plain pthread (libc's answer:
 *    thread context forwards to libc unchanged, api.md) and once in a goroutine; hc_compare
 *    fails, listing both logs, unless the two logs are identical. Fd numbers, ports and
 *    addresses differ between runs, so scenarios log only what must be identical (results,
 *    errno, data, "the peer address matches" booleans).
 *  - hc_go(fn, arg): start a partner in the caller's context: a goroutine from a goroutine, a
 *    pthread from a thread, so the thread run of a scenario never touches the runtime.
 *  - hc_yield(), hc_wait_flag(): wait for a partner's announcement, in either context.
 *  - hc_settle(): after the blocking side announced "about to call", give it a moment to get
 *    into the call (1 ms of yielding). Results never depend on it (a call made before or after
 *    the partner acts returns the same thing); it only makes it likely that the blocking path
 *    (park / block in the kernel), not the fast path, is the one exercised.
 *  - hc_thread_in_syscall(nr, arg0): true if some thread of the process is now inside system
 *    call nr with first argument arg0 (/proc/self/task/ * /syscall). A goroutine parked by the
 *    netpoller leaves no thread in read(fd); a thread-blocking runtime does.
 */
#ifndef GMP_TEST_HOOKCMP_H
#define GMP_TEST_HOOKCMP_H

#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>

#define HC_MAXSTEPS 64

/* errno through a call the compiler cannot see into: glibc's __errno_location is `const`, so
 * gcc keeps errno's address across calls, and after a hooked call (or any switch) the
 * goroutine may run on another thread (api.md "What user code must know"; see
 * t_libc_migrate). Every errno access of these tests goes through these two. */
__attribute__((noipa, unused)) static int hc_errno(void) { return errno; }
__attribute__((noipa, unused)) static void hc_clear_errno(void) { errno = 0; }

typedef struct hc_step {
    char label[48];
    long r;
    int err;
    int len;
    unsigned char data[64];
} hc_step;

typedef struct rec_t {
    int n;
    hc_step s[HC_MAXSTEPS];
} rec_t;

/* Log one step: r, errno (only meaningful when r < 0: 0 otherwise), data (may be NULL). */
H_UNUSED static void hc_log(rec_t *rc, const char *label, long r, int err, const void *data,
                            int len)
{
    CHECK(rc->n < HC_MAXSTEPS, "too many steps");
    hc_step *s = &rc->s[rc->n++];
    snprintf(s->label, sizeof s->label, "%s", label);
    s->r = r;
    s->err = r < 0 ? err : 0;
    if (len < 0) len = 0;
    if (len > (int)sizeof s->data) len = (int)sizeof s->data;
    s->len = data ? len : 0;
    if (data && len) memcpy(s->data, data, (size_t)len);
}

/* Log r and the current errno. */
#define HC_LOG(rc, label, expr)                                                            \
    do {                                                                                   \
        hc_clear_errno();                                                                  \
        long hc_r_ = (long)(expr);                                                         \
        hc_log((rc), (label), hc_r_, hc_errno(), NULL, 0);                                 \
    } while (0)

H_UNUSED static void hc_print(const char *who, const rec_t *rc)
{
    fprintf(stderr, "  %s:\n", who);
    for (int i = 0; i < rc->n; i++) {
        const hc_step *s = &rc->s[i];
        fprintf(stderr, "    %-44s r=%ld errno=%d(%s)", s->label, s->r, s->err,
                s->err ? strerror(s->err) : "-");
        if (s->len) fprintf(stderr, " data=\"%.*s\"", s->len, (const char *)s->data);
        fprintf(stderr, "\n");
    }
}

/* Fails (with both logs) unless thread and goroutine runs logged the same steps. */
H_UNUSED static void hc_compare(const char *name, const rec_t *th, const rec_t *go)
{
    int bad = th->n != go->n;
    for (int i = 0; !bad && i < th->n; i++) {
        const hc_step *a = &th->s[i], *b = &go->s[i];
        if (strcmp(a->label, b->label) || a->r != b->r || a->err != b->err || a->len != b->len ||
            memcmp(a->data, b->data, (size_t)a->len))
            bad = i + 1;
    }
    if (bad) {
        fprintf(stderr, "%s: goroutine results differ from libc's (plain thread)%s%s:\n", name,
                bad > 1 || th->n == go->n ? " at step " : "",
                bad > 1 || th->n == go->n ? th->s[bad - 1].label : " (step counts differ)");
        hc_print("plain thread (libc)", th);
        hc_print("goroutine", go);
        fflush(stderr);
        CHECK(0, "%s: a hooked call returned something libc would not have", name);
    }
    printf("  %-40s %d steps identical in a thread and a goroutine\n", name, th->n);
}

/* ------------------------------------------------------------------ context helpers */

typedef struct hc_start {
    gmp_fn fn;
    void *arg;
} hc_start;

static void *hc_thread_main(void *p)
{
    hc_start s = *(hc_start *)p;
    free(p);
    s.fn(s.arg);
    return NULL;
}

/* Start fn(arg) as a goroutine from a goroutine, as a detached pthread from a thread. */
H_UNUSED static void hc_go(gmp_fn fn, void *arg)
{
    if (gmp_self()) {
        h_spawn(fn, arg);
        return;
    }
    hc_start *s = (hc_start *)malloc(sizeof *s);
    CHECK(s != NULL, "malloc");
    s->fn = fn;
    s->arg = arg;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    CHECK(pthread_create(&t, &a, hc_thread_main, s) == 0, "pthread_create");
    pthread_attr_destroy(&a);
}

H_UNUSED static void hc_yield(void)
{
    if (gmp_self())
        gmp_gosched();
    else
        sched_yield();
}

/* Wait (yielding) until *flag != 0; fail after secs seconds. */
#define hc_wait_flag(flag, secs, what)                                                     \
    do {                                                                                   \
        int64_t hc_dl_ = h_now_ns() + (int64_t)(secs) * 1000000000;                        \
        while (!atomic_load(flag)) {                                                       \
            CHECK(h_now_ns() < hc_dl_, "waited %d s for %s", (int)(secs), what);           \
            hc_yield();                                                                    \
        }                                                                                  \
    } while (0)

H_UNUSED static void hc_settle(void)
{
    int64_t end = h_now_ns() + 1000000;
    while (h_now_ns() < end) hc_yield();
}

/* Milliseconds since t0 (h_now_ns). */
H_UNUSED static double hc_ms(int64_t t0) { return (double)(h_now_ns() - t0) / 1e6; }

/* Some thread of this process is now in syscall nr with first argument arg0. */
H_UNUSED static bool hc_thread_in_syscall(long nr, long arg0)
{
    DIR *d = opendir("/proc/self/task");
    if (!d) return false;
    bool found = false;
    struct dirent *e;
    while (!found && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[320], buf[256];
        snprintf(path, sizeof path, "/proc/self/task/%s/syscall", e->d_name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) continue;
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n <= 0) continue;
        buf[n] = 0;
        char *p;
        long got = strtol(buf, &p, 10);
        if (p == buf || got != nr) continue;
        long a0 = strtol(p, NULL, 16);
        if (a0 == arg0) found = true;
    }
    closedir(d);
    return found;
}

/* Threads of this process (/proc/self/task entries). */
H_UNUSED static int hc_task_count(void)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL, "opendir /proc/self/task");
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

/* State letter of thread tid (R, S, D, ...), or '?'. */
H_UNUSED static char hc_thread_state(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return '?';
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return '?';
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    return p && p[1] && p[2] ? p[2] : '?';
}

/* Raise RLIMIT_NOFILE's soft limit to the hard one (tests with hundreds of fds). */
H_UNUSED static void hc_raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

#endif /* GMP_TEST_HOOKCMP_H */
