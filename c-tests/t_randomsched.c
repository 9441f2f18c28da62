/*
 * t_randomsched: GMP_DEBUG=randomsched=1 (Go's randomizeScheduler) really varies the order in
 * which runnable goroutines run, and loses or doubles none.
 *
 * A child runs ROUNDS rounds at one P with asynchronous preemption off: a goroutine spawns K
 * children (each records its index in a shared order array) and waits for them; the child
 * prints one line per round's order. Without the knob the order is a fixed function of the
 * queues (runnext = the last spawned runs first, then FIFO): every round of every run is the
 * same. With it, runnext is skipped at random, so rounds differ; three runs with the knob must
 * show at least 3 distinct orders, and every round of every run must contain each index once.
 *
 * Catches: the knob not parsed or not consulted; a randomized runqput that drops or doubles a
 * goroutine; a seed so fixed that nothing varies.
 */
#include "harness.h"

#define K 8
#define ROUNDS 40

static H_ATOMIC(int) pos;
static int order[K];
static gmp_waitgroup wg;

static void kid(void *arg)
{
    order[atomic_fetch_add(&pos, 1)] = (int)(intptr_t)arg;
    gmp_waitgroup_done(&wg);
}

static void rounds(void *arg)
{
    (void)arg;
    CHECK(gmp_set_procs(1) > 0, "set_procs"); /* returns the previous count */
    for (int r = 0; r < ROUNDS; r++) {
        atomic_store(&pos, 0);
        gmp_waitgroup_add(&wg, K);
        for (int i = 0; i < K; i++) CHECK(gmp_spawn(kid, (void *)(intptr_t)i) > 0, "spawn");
        CHECK_EQ(gmp_waitgroup_wait(&wg), 0);
        char line[64];
        int n = 0;
        for (int i = 0; i < K; i++) n += snprintf(line + n, sizeof line - n, "%d", order[i]);
        fprintf(stderr, "order %s\n", line);
    }
}

/* Parse the child's "order" lines: each a permutation of 0..K-1; count distinct lines. */
static int distinct_orders(const char *out, int *lines)
{
    static char seen[ROUNDS * 3][K + 1];
    int nseen = 0;
    *lines = 0;
    for (const char *p = strstr(out, "order "); p; p = strstr(p + 1, "order ")) {
        const char *o = p + 6;
        int mask = 0;
        for (int i = 0; i < K; i++) {
            CHECK(o[i] >= '0' && o[i] < '0' + K, "bad order line: %.20s", p);
            mask |= 1 << (o[i] - '0');
        }
        CHECK(mask == (1 << K) - 1 && o[K] == '\n', "not a permutation (lost/doubled goroutine): %.20s", p);
        (*lines)++;
        bool dup = false;
        for (int j = 0; j < nseen && !dup; j++) dup = memcmp(seen[j], o, K) == 0;
        if (!dup && nseen < ROUNDS * 3) memcpy(seen[nseen++], o, K);
    }
    return nseen;
}

static char out[1 << 16];

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "child") == 0) return gmp_main(rounds, NULL) == 0 ? 0 : 1;
    h_check_lib();
    const char *args[] = {"child", NULL};
    int status = 0, lines = 0;

    const char *plain[] = {"GMP_DEBUG=asyncpreemptoff=1", NULL};
    for (int run = 0; run < 2; run++) {
        h_run_self(args, plain, out, sizeof out, &status);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x:\n%s", status, out);
        int d = distinct_orders(out, &lines);
        CHECK_EQ(lines, ROUNDS);
        CHECK(d == 1, "without randomsched the order should be fixed, saw %d orders:\n%s", d, out);
    }

    static char all[3 << 16];
    size_t at = 0;
    const char *random[] = {"GMP_DEBUG=asyncpreemptoff=1,randomsched=1", NULL};
    for (int run = 0; run < 3; run++) {
        h_run_self(args, random, out, sizeof out, &status);
        CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x:\n%s", status, out);
        CHECK(strstr(out, "gmp: ignoring") == NULL, "knob not accepted:\n%s", out);
        size_t n = strlen(out);
        memcpy(all + at, out, n);
        at += n;
    }
    all[at] = 0;
    int d = distinct_orders(all, &lines);
    CHECK_EQ(lines, 3 * ROUNDS);
    CHECK(d >= 3, "randomsched=1 showed only %d distinct orders in %d rounds", d, lines);
    printf("t_randomsched: ok (%d distinct orders in %d randomized rounds)\n", d, lines);
    return 0;
}
