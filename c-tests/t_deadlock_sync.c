/*
 * t_deadlock_sync: gmp_main's deadlock detector sees goroutines blocked in channels, select
 * and the locks ("Deadlock detection counts goroutines blocked in any of them"), and does not
 * fire while something can still wake them.
 *
 * Each scenario runs in a child process (h_run_self); the child prints "gmp_main returned N"
 * on stderr and exits 0. Deadlocks (gmp_main must return -EDEADLK and stderr must hold
 * "gmp: fatal error: all goroutines are asleep - deadlock!"):
 *   chan     - the main goroutine receives on a channel nobody can send to;
 *   mutex    - the main goroutine locks a mutex held by a goroutine that is itself blocked
 *              forever (receiving on another dead channel);
 *   select   - a select over a receive, a send and a NULL case on channels nobody uses, no
 *              timeout;
 *   rwmutex  - read-lock while a goroutine holds the write lock and waits on a dead channel;
 *   cond     - cond_wait with nobody to signal;
 *   wg       - waitgroup_wait on a counter of 1 nobody will bring down;
 *   futex    - futex_wait with no timeout and no waker.
 * Controls (gmp_main must return 0 and print nothing about a deadlock):
 *   ctl_select_timeout - the main goroutine's select on dead channels has a 300 ms timeout;
 *   ctl_sleep_send     - the main goroutine receives while the only sender sleeps 100 ms first;
 *   ctl_futex_timeout, ctl_cond_timeout - timed waits (200 ms) with nobody to wake them;
 *   ctl_thread         - a plain thread that has already used the runtime (a rendezvous on a
 *                        channel) sends after 100 ms of a blocking nanosleep, while the main
 *                        goroutine waits in a receive: a thread outside the runtime can still
 *                        wake it, so this is no deadlock.
 * The child's only other thread is the harness watchdog, which calls into the runtime only if
 * it fires (after 60 s).
 */
#include "harness.h"

static gmp_chan *dead, *dead2;
static gmp_mutex mu;
static gmp_rwmutex rw;
static H_ATOMIC(int) holder_ready;

static gmp_chan *newchan(void)
{
    gmp_chan *c = NULL;
    CHECK_EQ(gmp_chan_new(sizeof(int64_t), 0, &c), 0);
    return c;
}

static void mutex_holder(void *a)
{
    (void)a;
    CHECK_EQ(gmp_mutex_lock(&mu), 0);
    atomic_store(&holder_ready, 1);
    int64_t v;
    gmp_chan_recv(dead2, &v); /* forever */
    fprintf(stderr, "the mutex holder woke up\n");
}

static void rw_holder(void *a)
{
    (void)a;
    CHECK_EQ(gmp_rwmutex_lock(&rw), 0);
    atomic_store(&holder_ready, 1);
    int64_t v;
    gmp_chan_recv(dead2, &v); /* forever */
    fprintf(stderr, "the rwmutex holder woke up\n");
}

static void sleep_sender(void *a)
{
    gmp_chan *c = (gmp_chan *)a;
    gmp_sleep(100 * 1000000);
    int64_t v = 5;
    CHECK_EQ(gmp_chan_send(c, &v), 0);
}

static gmp_chan *t_go, *t_back;
static void *ctl_thread_fn(void *a)
{
    (void)a;
    int64_t v = 0;
    CHECK_EQ(gmp_chan_recv(t_go, &v), 1); /* the thread is now known to the runtime */
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL); /* plain thread: libc's nanosleep */
    v = 9;
    CHECK_EQ(gmp_chan_send(t_back, &v), 0);
    return NULL;
}

static void child_main(void *arg)
{
    const char *s = (const char *)arg;
    dead = newchan();
    dead2 = newchan();
    int64_t v = 0;
    int r;
    if (!strcmp(s, "chan")) {
        r = gmp_chan_recv(dead, &v);
    } else if (!strcmp(s, "mutex")) {
        h_spawn(mutex_holder, NULL);
        H_GOSCHED_UNTIL(atomic_load(&holder_ready), 20, "holder never locked");
        r = gmp_mutex_lock(&mu);
    } else if (!strcmp(s, "select")) {
        gmp_case cs[3] = {{dead, GMP_RECV, &v, false}, {dead2, GMP_SEND, &v, false},
                          {NULL, GMP_RECV, &v, false}};
        r = gmp_select(cs, 3, -1);
    } else if (!strcmp(s, "rwmutex")) {
        h_spawn(rw_holder, NULL);
        H_GOSCHED_UNTIL(atomic_load(&holder_ready), 20, "holder never locked");
        r = gmp_rwmutex_rlock(&rw);
    } else if (!strcmp(s, "cond")) {
        static gmp_cond c;
        CHECK_EQ(gmp_mutex_lock(&mu), 0);
        r = gmp_cond_wait(&c, &mu);
    } else if (!strcmp(s, "wg")) {
        static gmp_waitgroup wg;
        CHECK_EQ(gmp_waitgroup_add(&wg, 1), 0);
        r = gmp_waitgroup_wait(&wg);
    } else if (!strcmp(s, "futex")) {
        static uint32_t word;
        r = gmp_futex_wait(&word, 0, -1);
    } else if (!strcmp(s, "ctl_select_timeout")) {
        gmp_case cs[2] = {{dead, GMP_RECV, &v, false}, {dead2, GMP_SEND, &v, false}};
        r = gmp_select(cs, 2, 300 * 1000000);
        CHECK(r == -ETIMEDOUT, "select = %d", r);
        return;
    } else if (!strcmp(s, "ctl_sleep_send")) {
        h_spawn(sleep_sender, dead);
        r = gmp_chan_recv(dead, &v);
        CHECK(r == 1 && v == 5, "recv = %d, v = %lld", r, (long long)v);
        return;
    } else if (!strcmp(s, "ctl_futex_timeout")) {
        static uint32_t word;
        r = gmp_futex_wait(&word, 0, 200 * 1000000);
        CHECK(r == -ETIMEDOUT, "futex_wait = %d", r);
        return;
    } else if (!strcmp(s, "ctl_cond_timeout")) {
        static gmp_cond c;
        CHECK_EQ(gmp_mutex_lock(&mu), 0);
        r = gmp_cond_wait_timeout(&c, &mu, 200 * 1000000);
        CHECK(r == -ETIMEDOUT, "cond_wait_timeout = %d", r);
        CHECK_EQ(gmp_mutex_unlock(&mu), 0);
        return;
    } else if (!strcmp(s, "ctl_thread")) {
        t_go = newchan();
        t_back = newchan();
        pthread_t th;
        CHECK(pthread_create(&th, NULL, ctl_thread_fn, NULL) == 0, "pthread_create");
        v = 1;
        CHECK_EQ(gmp_chan_send(t_go, &v), 0);
        r = gmp_chan_recv(t_back, &v);
        CHECK(r == 1 && v == 9, "recv = %d, v = %lld", r, (long long)v);
        CHECK(pthread_join(th, NULL) == 0, "join");
        return;
    } else {
        CHECK(0, "unknown scenario %s", s);
    }
    fprintf(stderr, "scenario %s: the deadlocked main goroutine resumed (%d)\n", s, r);
    _exit(1);
}

static const char *const deadlocks[] = {"chan", "mutex", "select", "rwmutex", "cond", "wg",
                                        "futex"};
static const char *const controls[] = {"ctl_select_timeout", "ctl_sleep_send",
                                       "ctl_futex_timeout", "ctl_cond_timeout", "ctl_thread"};
#define MSG "gmp: fatal error: all goroutines are asleep - deadlock!"

static void run_child(const char *name, bool deadlock)
{
    char out[8192], want[64];
    int st;
    const char *args[] = {name, NULL};
    h_run_self(args, NULL, out, sizeof out, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scenario %s: child %s; stderr: %s", name,
          h_describe_status(st), out);
    snprintf(want, sizeof want, "gmp_main returned %d\n", deadlock ? -EDEADLK : 0);
    CHECK(strstr(out, want) != NULL, "scenario %s: want '%.*s'; stderr: %s", name,
          (int)strlen(want) - 1, want, out);
    if (deadlock)
        CHECK(strstr(out, MSG) != NULL, "scenario %s: no deadlock message; stderr: %s", name, out);
    else
        CHECK(strstr(out, "deadlock") == NULL, "scenario %s: a false deadlock; stderr: %s", name,
              out);
    printf("t_deadlock_sync: %s: ok\n", name);
}

int main(int argc, char **argv)
{
    h_check_lib();
    if (argc > 1) {
        int r = gmp_main(child_main, argv[1]);
        fprintf(stderr, "gmp_main returned %d\n", r);
        return 0;
    }
    for (size_t i = 0; i < sizeof deadlocks / sizeof *deadlocks; i++) run_child(deadlocks[i], true);
    for (size_t i = 0; i < sizeof controls / sizeof *controls; i++) run_child(controls[i], false);
    printf("t_deadlock_sync: ok\n");
    return 0;
}
