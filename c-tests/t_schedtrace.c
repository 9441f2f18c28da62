/*
 * t_schedtrace: GMP_DEBUG=schedtrace=MS and scheddetail=1 print Go's trace format.
 *
 * The parent runs this program again as a child (h_run_self: fork + exec of /proc/self/exe,
 * stderr captured through a pipe, 20 s deadline) with the P count run.sh gave (GMP_MAXPROCS).
 * The child keeps WORKERS goroutines busy (compute + gmp_gosched) for WORK_MS of wall time while
 * one more goroutine stays parked, and prints the workers' ids to stderr (one write per line).
 *
 *  1. GMP_DEBUG=schedtrace=20: at least 4 lines start with "SCHED ", and EVERY such line
 *     matches (regcomp, ERE)
 *       ^SCHED [0-9]+ms: gomaxprocs=[0-9]+ idleprocs=[0-9]+ threads=[0-9]+
 *        spinningthreads=[0-9]+ idlethreads=[0-9]+ runqueue=[0-9]+ \[[0-9 ]*\]$
 *     (one line); gomaxprocs= is the child's P count, the bracket holds one run-queue length
 *     per P, idleprocs <= gomaxprocs, the ms stamps never decrease and are on average 10-100 ms
 *     apart; no detail lines.
 *  2. GMP_DEBUG=schedtrace=20,scheddetail=1: summary lines as above but without the bracket
 *     (as Go), each followed by detail lines: "  P<i>: status=<n> ..." for every
 *     i < gomaxprocs, at least one "  M<i>: p=<n> ...", and "  G<id>: status=<n>(<name>) ..."
 *     lines; every worker's id appears in some G line.
 *  3. No GMP_DEBUG: no trace output at all.
 *
 * Catches: trace lines in the wrong format (tools that parse Go's schedtrace break), a wrong
 * P count or run-queue list, interleaved/partial lines, detail missing or printed without
 * being asked, trace printed when not asked, a trace that stops while goroutines run.
 */
#include "harness.h"

#include <regex.h>

#define WORKERS 4
#define WORK_MS 200

/* ------------------------------------------------------------------ child */

static int64_t work_until;
static wg_t wg;

static void worker(void *arg)
{
    (void)arg;
    char line[64];
    int n = snprintf(line, sizeof line, "child: worker goid=%lld\n", (long long)gmp_goid(NULL));
    CHECK(write(2, line, (size_t)n) == n, "write");
    volatile double x = 1.0;
    while (h_now_ns() < work_until) {
        for (int i = 0; i < 20000; i++) x = x * 1.0000001 + 1e-9;
        gmp_gosched();
    }
    wg_done(&wg);
}

static bool keep_parked(gmp_g *g, void *lock)
{
    (void)g;
    (void)lock;
    return true;
}

static void parked(void *arg)
{
    (void)arg;
    gmp_park(keep_parked, NULL); /* never readied: shows up as a waiting G */
}

static void child_main(void *arg)
{
    int ms = (int)(intptr_t)arg;
    work_until = h_now_ns() + (int64_t)ms * 1000000;
    h_spawn(parked, NULL);
    wg_init(&wg);
    wg_add(&wg, WORKERS);
    for (int i = 0; i < WORKERS; i++) h_spawn(worker, NULL);
    wg_wait(&wg);
}

/* ------------------------------------------------------------------ parent */

#define OUTSZ (1 << 20)
static char out[OUTSZ];

/* The child: this program with arguments "child <work_ms>" and GMP_DEBUG set (or unset). */
static void run_child(const char *gmp_debug, int work_ms, int *status)
{
    char arg[16], env_debug[128];
    snprintf(arg, sizeof arg, "%d", work_ms);
    const char *args[] = {"child", arg, NULL};
    if (gmp_debug)
        snprintf(env_debug, sizeof env_debug, "GMP_DEBUG=%s", gmp_debug);
    else
        snprintf(env_debug, sizeof env_debug, "GMP_DEBUG");
    const char *env[] = {env_debug, NULL};
    size_t n = h_run_self(args, env, out, OUTSZ, status);
    CHECK(n < OUTSZ - 1, "child wrote more than %d bytes", OUTSZ);
}

static regex_t re_summary, re_head, re_p, re_m, re_g;

static void compile(regex_t *re, const char *pat)
{
    int r = regcomp(re, pat, REG_EXTENDED);
    CHECK(r == 0, "regcomp(%s) = %d", pat, r);
}

static bool match(regex_t *re, const char *line) { return regexec(re, line, 0, NULL, 0) == 0; }

/* Field "name=<int>" from a line; -1 if absent. */
static long field(const char *line, const char *name)
{
    char key[64];
    snprintf(key, sizeof key, " %s=", name);
    const char *p = strstr(line, key);
    return p ? atol(p + strlen(key)) : -1;
}

/* Splits out[] into lines in place; returns the count. */
static int split_lines(char **lines, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l && n < max; l = strtok_r(NULL, "\n", &save))
        lines[n++] = l;
    return n;
}

static char *lines[65536];

static void check_plain(int procs)
{
    int st;
    run_child("schedtrace=20", WORK_MS, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x; stderr: %.2000s", st, out);
    int n = split_lines(lines, 65536), sched = 0;
    long first_ms = -1, last_ms = -1;
    for (int i = 0; i < n; i++) {
        const char *l = lines[i];
        CHECK(strncmp(l, "  P", 3) != 0 && strncmp(l, "  M", 3) != 0 && strncmp(l, "  G", 3) != 0,
              "detail line without scheddetail=1: '%s'", l);
        if (strncmp(l, "SCHED ", 6) != 0) continue;
        sched++;
        CHECK(match(&re_summary, l), "schedtrace line does not match Go's format: '%s'", l);
        long ms = atol(l + 6), gmp = field(l, "gomaxprocs"), idle = field(l, "idleprocs");
        if (procs > 0) CHECK(gmp == procs, "gomaxprocs=%ld, the child has %d Ps: '%s'", gmp, procs, l);
        CHECK(idle >= 0 && idle <= gmp, "idleprocs=%ld of %ld: '%s'", idle, gmp, l);
        const char *b = strchr(l, '[');
        int nums = 0;
        for (const char *q = b + 1; *q != ']'; q++)
            if (*q >= '0' && *q <= '9' && (q == b + 1 || q[-1] == ' ')) nums++;
        CHECK(nums == gmp, "%d run-queue lengths in the bracket for %ld Ps: '%s'", nums, gmp, l);
        CHECK(ms >= last_ms, "time went backwards: %ld ms after %ld ms", ms, last_ms);
        if (first_ms < 0) first_ms = ms;
        last_ms = ms;
    }
    CHECK(sched >= 4, "only %d SCHED lines in %d ms with schedtrace=20; stderr: %.2000s", sched,
          WORK_MS, out);
    double avg = (double)(last_ms - first_ms) / (sched - 1);
    CHECK(avg >= 10 && avg <= 100, "SCHED lines %.1f ms apart on average with schedtrace=20",
          avg);
    printf("t_schedtrace: schedtrace=20: %d well-formed SCHED lines, %.1f ms apart\n", sched, avg);
}

static void check_detail(int procs)
{
    int st;
    run_child("schedtrace=20,scheddetail=1", WORK_MS, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x; stderr: %.2000s", st, out);
    /* Worker ids first (strtok_r below writes into out[]). */
    long long ids[WORKERS];
    int nids = 0;
    for (const char *p = out; (p = strstr(p, "child: worker goid=")) != NULL && nids < WORKERS; p++)
        ids[nids++] = atoll(p + strlen("child: worker goid="));
    CHECK(nids == WORKERS, "%d of %d workers reported their id", nids, WORKERS);
    bool seen[WORKERS] = {false};
    int n = split_lines(lines, 65536), blocks = 0;
    long gmp = -1;
    int next_p = 0, nm = 0, ng = 0;
    for (int i = 0; i <= n; i++) {
        const char *l = i < n ? lines[i] : NULL;
        if (l == NULL || strncmp(l, "SCHED ", 6) == 0) {
            if (blocks > 0) { /* close the previous block */
                CHECK(next_p >= gmp, "block %d: P lines for P0..P%d only, gomaxprocs=%ld", blocks,
                      next_p - 1, gmp);
                CHECK(nm >= 1, "block %d: no M lines", blocks);
                CHECK(ng >= 1, "block %d: no G lines", blocks);
            }
            if (l == NULL) break;
            CHECK(match(&re_head, l), "scheddetail summary line does not match: '%s'", l);
            CHECK(strchr(l, '[') == NULL, "scheddetail summary line has a run-queue list: '%s'", l);
            gmp = field(l, "gomaxprocs");
            if (procs > 0) CHECK(gmp == procs, "gomaxprocs=%ld, the child has %d Ps", gmp, procs);
            blocks++;
            next_p = 0;
            nm = ng = 0;
            continue;
        }
        if (strncmp(l, "  P", 3) == 0) {
            CHECK(blocks > 0, "P line before any SCHED line: '%s'", l);
            CHECK(match(&re_p, l), "P line does not match: '%s'", l);
            if (atol(l + 3) == next_p) next_p++;
        } else if (strncmp(l, "  M", 3) == 0) {
            CHECK(blocks > 0, "M line before any SCHED line: '%s'", l);
            CHECK(match(&re_m, l), "M line does not match: '%s'", l);
            nm++;
        } else if (strncmp(l, "  G", 3) == 0) {
            CHECK(blocks > 0, "G line before any SCHED line: '%s'", l);
            CHECK(match(&re_g, l), "G line does not match: '%s'", l);
            ng++;
            long long id = atoll(l + 3);
            for (int k = 0; k < WORKERS; k++)
                if (ids[k] == id) seen[k] = true;
        } else {
            CHECK(strncmp(l, "child: ", 7) == 0, "unexpected stderr line: '%s'", l);
        }
    }
    CHECK(blocks >= 4, "only %d trace blocks in %d ms with schedtrace=20", blocks, WORK_MS);
    for (int k = 0; k < WORKERS; k++)
        CHECK(seen[k], "worker goroutine %lld never appears in a G line", ids[k]);
    printf("t_schedtrace: scheddetail=1: %d well-formed blocks (P, M and G lines)\n", blocks);
}

static void check_off(void)
{
    int st;
    run_child(NULL, 60, &st);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status 0x%x; stderr: %.2000s", st, out);
    CHECK(strstr(out, "SCHED") == NULL, "trace output without GMP_DEBUG: %.2000s", out);
    printf("t_schedtrace: no GMP_DEBUG: no trace\n");
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "child") == 0) {
        h_main(child_main, (void *)(intptr_t)atoi(argv[2]));
        return 0;
    }
    h_check_lib();
    compile(&re_summary, "^SCHED [0-9]+ms: gomaxprocs=[0-9]+ idleprocs=[0-9]+ threads=[0-9]+ "
                         "spinningthreads=[0-9]+ idlethreads=[0-9]+ runqueue=[0-9]+ "
                         "preempted=[0-9]+ preemptq=[0-9]+ preemptlong=[0-9]+ \\[[0-9 ]*\\]$");
    compile(&re_head, "^SCHED [0-9]+ms: gomaxprocs=[0-9]+ idleprocs=[0-9]+ threads=[0-9]+ "
                      "spinningthreads=[0-9]+ idlethreads=[0-9]+ runqueue=[0-9]+( [a-z]+=[0-9]+)*$");
    compile(&re_p, "^  P[0-9]+: status=[0-9]+ schedtick=[0-9]+ syscalltick=[0-9]+ m=-?[0-9]+ "
                   "runqsize=[0-9]+ gfreecnt=[0-9]+( .*)?$");
    compile(&re_m, "^  M[0-9]+: p=-?[0-9]+ curg=-?[0-9]+ .*lockedg=-?[0-9]+( .*)?$");
    compile(&re_g, "^  G[0-9]+: status=[0-9]+\\(.+\\) m=-?[0-9]+ lockedm=-?[0-9]+$");
    int procs = h_env_procs();
    check_plain(procs);
    check_detail(procs);
    check_off();
    printf("t_schedtrace: ok\n");
    return 0;
}
