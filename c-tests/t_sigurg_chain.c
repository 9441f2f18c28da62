/*
 * t_sigurg_chain: the program's own SIGURG handler keeps working, and never sees the runtime's
 * preemption signals.
 *
 * Before the runtime starts, the program installs a SIGURG handler (SA_SIGINFO) that counts
 * deliveries: SI_USER / SI_TKILL signals from this process in `user`, anything else (e.g. the
 * runtime's own SI_QUEUE preemption signals, if they leaked through) in `foreign`. Then, on ONE
 * P (gmp_init procs = 1), a spinner goroutine spins without calls while a progress goroutine
 * loops on gmp_gosched, counting steps: each step needs the spinner to be preempted. A plain
 * thread (created before the runtime started; it never calls into the runtime) sends SIGURG
 * N_KILL times with kill(getpid()) (process-directed: the kernel picks any thread; usually
 * one that is not an M) and N_TGKILL times with tgkill to the thread the progress goroutine
 * last ran on (an M, so the handler's M path: preemption check, then forwarding). Sends are
 * paced by the preemptions: before each send the thread waits for a new progress step, and
 * after it for `user` to grow (5 s deadline each), so no two of its signals are ever pending
 * at once (standard signals would merge). Finally the goroutines let >= 5 more preemptions
 * happen and stop.
 * Asserts: user == N_KILL + N_TGKILL exactly (the runtime forwards every foreign SIGURG, once;
 * none of its own, although >= N_KILL + N_TGKILL preemptions happened meanwhile), foreign == 0,
 * the last kill arrived as SI_USER and the last tgkill as SI_TKILL (siginfo passed through),
 * the spinner stayed on its thread.
 *
 * Catches: a runtime that overwrites the program's SIGURG handler without chaining (count
 * stays 0: deadline failure), forwards its own preemption signals (count too high / foreign),
 * drops signals that arrive at an M, or breaks preemption when foreign SIGURGs arrive.
 */
#define H_WATCHDOG_SECS 30
#include "harness.h"

#include <signal.h>

#define N_KILL 12
#define N_TGKILL 8

static H_ATOMIC(int) user;
static H_ATOMIC(int) foreign;
static H_ATOMIC(int) last_code;
static H_ATOMIC(int) foreign_code;

static void my_urg(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)uc;
    int e = errno;
    if ((si->si_code == SI_USER || si->si_code == SI_TKILL) && si->si_pid == getpid()) {
        atomic_store(&last_code, si->si_code);
        atomic_fetch_add(&user, 1);
        h_futex_wake(&user);
    } else {
        atomic_store(&foreign_code, si->si_code);
        atomic_fetch_add(&foreign, 1);
    }
    errno = e;
}

/* futex wait with a timeout, thread context */
static void futex_wait_ms(H_ATOMIC(int) *addr, int val, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    syscall(SYS_futex, (void *)addr, FUTEX_WAIT_PRIVATE, val, &ts, NULL, 0);
}

/* Wait until *addr != old, failing after secs. */
static int wait_change(H_ATOMIC(int) *addr, int old, int secs, const char *what, int i)
{
    int64_t dl = h_now_ns() + (int64_t)secs * 1000000000;
    int v;
    while ((v = atomic_load(addr)) == old) {
        CHECK(h_now_ns() < dl, "%s did not change in %d s (send %d; user=%d foreign=%d)", what,
              secs, i, atomic_load(&user), atomic_load(&foreign));
        futex_wait_ms(addr, old, 100);
    }
    return v;
}

static volatile int stop_spin;
static H_ATOMIC(int) spinner_started;
static H_ATOMIC(int) progress;
static H_ATOMIC(int) progress_tid;
static H_ATOMIC(int) sender_done;
static wg_t wg;

static void spinner(void *arg)
{
    (void)arg;
    pid_t tid = h_gettid();
    atomic_store(&spinner_started, 1);
    h_futex_wake(&spinner_started);
    while (!stop_spin) {
    }
    CHECK(h_gettid() == tid, "spinner moved from thread %d to %d", (int)tid, (int)h_gettid());
    wg_done(&wg);
}

static void stepper(void *arg)
{
    (void)arg;
    while (!atomic_load(&spinner_started)) gmp_gosched();
    /* From here on each gmp_gosched returns only after the spinner was preempted. */
    while (!atomic_load(&sender_done)) {
        atomic_store(&progress_tid, (int)h_gettid());
        atomic_fetch_add(&progress, 1);
        h_futex_wake(&progress);
        gmp_gosched();
    }
    uint64_t p = h_stats().preemptions;
    H_GOSCHED_UNTIL(h_stats().preemptions >= p + 5, 10, "preemption stopped after the sends");
    stop_spin = 1;
    wg_done(&wg);
}

static void *sender(void *arg)
{
    (void)arg;
    while (!atomic_load(&spinner_started)) futex_wait_ms(&spinner_started, 0, 100);
    pid_t pid = getpid();
    for (int i = 0; i < N_KILL + N_TGKILL; i++) {
        int p = atomic_load(&progress);
        wait_change(&progress, p, 5, "progress (no preemption?)", i);
        int u = atomic_load(&user);
        if (i < N_KILL) {
            CHECK(kill(pid, SIGURG) == 0, "kill");
        } else {
            int tid = atomic_load(&progress_tid);
            CHECK(syscall(SYS_tgkill, pid, tid, SIGURG) == 0, "tgkill(%d)", tid);
        }
        int now = wait_change(&user, u, 5, "the program's SIGURG count", i);
        CHECK(now == u + 1, "one SIGURG sent, handler count went %d -> %d", u, now);
        if (i == N_KILL - 1)
            CHECK(atomic_load(&last_code) == SI_USER, "kill arrived with si_code %d",
                  atomic_load(&last_code));
    }
    CHECK(atomic_load(&last_code) == SI_TKILL, "tgkill arrived with si_code %d",
          atomic_load(&last_code));
    atomic_store(&sender_done, 1);
    return NULL;
}

static void main_fn(void *arg)
{
    (void)arg;
    CHECK_EQ(gmp_set_procs(0), 1);
    gmp_stats s0 = h_stats();
    wg_init(&wg);
    wg_add(&wg, 2);
    h_spawn(spinner, NULL);
    h_spawn(stepper, NULL);
    wg_wait(&wg);
    gmp_stats s1 = h_stats();
    uint64_t npre = s1.preemptions - s0.preemptions;
    int u = atomic_load(&user), f = atomic_load(&foreign);
    printf("t_sigurg_chain: %d program SIGURGs delivered (%d sent), %d foreign, %llu preemptions, "
           "%d progress steps\n",
           u, N_KILL + N_TGKILL, f, (unsigned long long)npre, atomic_load(&progress));
    CHECK(f == 0, "the program's handler got %d SIGURGs it did not send (si_code %d): the "
          "runtime forwarded its own preemption signals", f, atomic_load(&foreign_code));
    CHECK(u == N_KILL + N_TGKILL, "handler counted %d, sent %d", u, N_KILL + N_TGKILL);
    CHECK(npre >= (uint64_t)(N_KILL + N_TGKILL), "only %llu preemptions", (unsigned long long)npre);
}

int main(void)
{
    h_check_lib();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = my_urg;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGURG, &sa, NULL) == 0, "sigaction");
    pthread_t t;
    CHECK(pthread_create(&t, NULL, sender, NULL) == 0, "pthread_create");
    gmp_config cfg = {.procs = 1, .stack_size = 0};
    CHECK_EQ(gmp_init(&cfg), 0);
    h_main(main_fn, NULL);
    CHECK(pthread_join(t, NULL) == 0, "pthread_join");
    CHECK(atomic_load(&user) == N_KILL + N_TGKILL && atomic_load(&foreign) == 0,
          "late deliveries: user=%d foreign=%d", atomic_load(&user), atomic_load(&foreign));
    printf("t_sigurg_chain: ok\n");
    return 0;
}
