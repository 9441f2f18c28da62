/*
 * t_preempt_exact: asynchronous preemption is invisible to the preempted C code, bit for bit,
 * and the preempted goroutine keeps its OS thread.
 *
 * Always ONE P (gmp_init with procs = 1, whatever GMP_MAXPROCS says), so every switch away from
 * a spinning goroutine is an asynchronous preemption.
 *
 * Part 1, computed state. A spinner goroutine runs a loop with NO calls (checked with objdump
 * while writing this test: only two raw `syscall` instructions) for SPIN_TOTAL_NS of wall time
 * in all, split between the vector variants the CPU has: baseline SSE2, AVX2
 * (`target("avx2")`, picked with __builtin_cpu_supports) and AVX-512 (zmm0..31 and a mask
 * register). Each variant repeats rounds of a FIXED computation (ITERS iterations of 64-bit
 * integer mixing in general registers, scalar double math and x87 long double with the
 * rounding mode set to upward in MXCSR and the x87 control word, and 10-22 live vector
 * accumulators of doubles and 64-bit integers; the compiled loops also keep values in the red
 * zone); every round starts from the same seed (read through a volatile, so the round cannot
 * be hoisted) and so must produce the same bits as the reference: the same function run for
 * one round on a plain pthread before the runtime starts (never preempted). Each round's result
 * is compared with the reference inside the loop, and after each round the thread id (raw
 * `syscall` instruction, not a call) and the TCB pointer (%fs:0) are compared with the first
 * round's. The wall clock is only seen through a volatile flag set by a ticker goroutine, which
 * meanwhile calls gmp_gosched in a loop and counts (it can only run when the spinner is
 * preempted); every 4th step it blocks for 2 ms inside gmp_entersyscall/gmp_exitsyscall, so
 * sysmon hands the P to yet another thread, which must give it back to the spinner's thread.
 * Asserts: every round bit-exact (and the last round's result memcmp-equal to the reference);
 * rounding mode intact; same tid and TCB in every round; the ticker made >= 25 steps per second
 * of spinning (preemption every ~10 ms: ~100/s); stats.preemptions grew by >= 20 per second.
 *
 * Part 2, red zone, flags and general registers. rz_spin (top-level asm below, a leaf) stores
 * 16 known quadwords at -8(%rsp) .. -128(%rsp) -- the System V red zone, which a leaf may use
 * without moving rsp -- sets known values in 11 general registers and known flags, publishes
 * a round token and spins (no calls, no stack access, no flag-writing instruction: the flags
 * are live at every instruction boundary) until a release flag is set, then checks everything.
 * A watcher goroutine sets the release flag when it sees the token: on one P it can only run
 * while the spinner is inside that spin, i.e. preempted in it.
 * Part 3, the vector register file: the same with every xmm0-15 (SSE) or ymm0-15 (AVX2)
 * register holding a distinct pattern (compiled code keeps only some registers live).
 * Asserts (RZ_ROUNDS rounds of each kind): the spin was released (so it was preempted inside
 * the spin), nothing lost its value, preemptions grew across the call, gettid() is the same
 * before and after.
 *
 * Catches (each checked by breaking a copy of the runtime on purpose): Go's plain pushCall,
 * which writes into the red zone (parts 1 and 2); a general register or the flags not restored
 * by the trampoline (parts 1 and 2); a preempted goroutine resumed by another thread (part 1:
 * the syscall hand-off); no preemption at all (the ticker never runs: watchdog). Also a
 * trampoline that loses vector registers, rounding modes or x87 state *if* the runtime code
 * it calls clobbers them (today's preemption path happens not to: a copy without XSAVE/XRSTOR
 * still passed, so that part guards future changes).
 */
#define H_WATCHDOG_SECS 30
#include "harness.h"

#include <immintrin.h>

#define SPIN_TOTAL_NS 2000000000LL /* wall time of part 1, split between the variants */
#define ITERS 20000                /* iterations per round */
#define RZ_ROUNDS 5
#define NOUT 192 /* result words (AVX-512 uses 4 + 3 + 2 + 16 * 8 + 6 * 8 = 185) */

/* ------------------------------------------------------------------ the computation */

typedef struct spin_ctl {
    volatile int *stop;     /* set by the ticker: stop after the current round */
    uint64_t max_rounds;    /* 1 for the reference run */
    int have_ref;           /* compare every round with ref */
    uint64_t ref[NOUT];     /* the reference result */
    uint64_t last[NOUT];    /* the last round's result */
    uint64_t nout;          /* words used by this variant */
    uint64_t rounds, bad_rounds, first_bad_round, first_bad_word;
    long tid0;
    uint64_t fs0;
    uint64_t tid_changes, fs_changes;
    long bad_tid;
} spin_ctl;

static volatile uint64_t g_seed = 0x243f6a8885a308d3ULL;

/* Rounding mode without libm (run.sh links no -lm): MXCSR.RC (bits 13-14) for SSE/AVX, the
 * x87 control word's RC (bits 10-11) for long double. 0 = to nearest, 2 = upward. */
static void set_rounding(unsigned rc)
{
    unsigned mx;
    unsigned short cw;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    mx = (mx & ~(3u << 13)) | (rc << 13);
    __asm__ volatile("ldmxcsr %0" : : "m"(mx));
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    cw = (unsigned short)((cw & ~(3u << 10)) | (rc << 10));
    __asm__ volatile("fldcw %0" : : "m"(cw));
}
static unsigned get_rounding_mxcsr(void)
{
    unsigned mx;
    __asm__ volatile("stmxcsr %0" : "=m"(mx));
    return (mx >> 13) & 3;
}
static unsigned get_rounding_x87(void)
{
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return (cw >> 10) & 3;
}
#define ROUND_UP 2
#define ROUND_NEAREST 0

static inline long raw_gettid(void)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_gettid) : "rcx", "r11", "memory");
    return r;
}

static inline uint64_t tcb_self(void)
{
    uint64_t r;
    __asm__ volatile("movq %%fs:0, %0" : "=r"(r));
    return r;
}

/* Scalar part, shared by all variants: integer mixing, doubles, x87. */
#define SCALAR_DECL                                                                        \
    uint64_t ia = seed, ib = seed ^ 0x9e3779b97f4a7c15ULL, ic = seed >> 3, id = ~seed;     \
    double xa = 1.0 + (double)(seed & 0xff) * 1e-3, xb = 0.5, xc = 2.0;                    \
    long double la = 1.0L + (long double)(seed & 0xf) * 1e-4L;

#define SCALAR_STEP(k)                                                                     \
    ia = ia * 6364136223846793005ULL + 1442695040888963407ULL;                             \
    ib ^= ib << 13;                                                                        \
    ib ^= ib >> 7;                                                                         \
    ib ^= ib << 17;                                                                        \
    ic += (ia >> 33) ^ ib;                                                                 \
    id = (id ^ ic) * 0x9e3779b97f4a7c15ULL;                                                \
    id ^= id >> 29;                                                                        \
    xa = xa * 1.0000001 + 1e-9;                                                            \
    xb = xb * 0.9999999 + (double)((k)&7) * 1e-3;                                          \
    xc = 1.0 / (xc + 1.5);                                                                 \
    la = la * 1.0000001L + 1e-9L;

#define SCALAR_STORE(out, w)                                                               \
    do {                                                                                   \
        union {                                                                            \
            double d;                                                                      \
            uint64_t u;                                                                    \
        } cv_;                                                                             \
        union {                                                                            \
            long double l;                                                                 \
            uint64_t u[2];                                                                 \
        } lv_;                                                                             \
        (out)[(w)++] = ia;                                                                 \
        (out)[(w)++] = ib;                                                                 \
        (out)[(w)++] = ic;                                                                 \
        (out)[(w)++] = id;                                                                 \
        cv_.d = xa;                                                                        \
        (out)[(w)++] = cv_.u;                                                              \
        cv_.d = xb;                                                                        \
        (out)[(w)++] = cv_.u;                                                              \
        cv_.d = xc;                                                                        \
        (out)[(w)++] = cv_.u;                                                              \
        lv_.u[0] = 0;                                                                      \
        lv_.u[1] = 0;                                                                      \
        lv_.l = la;                                                                        \
        (out)[(w)++] = lv_.u[0];                                                           \
        (out)[(w)++] = lv_.u[1] & 0xffff;                                                  \
    } while (0)

/* Per-round bookkeeping, shared by all variants: compare with the reference, check the
 * thread. Plain loops over words (no memcmp/memcpy: they would be calls). */
#define ROUND_END(ctl, out, w)                                                             \
    do {                                                                                   \
        if ((ctl)->have_ref) {                                                             \
            uint64_t diff_ = 0, bw_ = NOUT;                                                \
            for (uint64_t i_ = 0; i_ < (w); i_++) {                                        \
                uint64_t d_ = (out)[i_] ^ (ctl)->ref[i_];                                  \
                if (d_ && bw_ == NOUT) bw_ = i_;                                           \
                diff_ |= d_;                                                               \
            }                                                                              \
            if (diff_) {                                                                   \
                if ((ctl)->bad_rounds == 0) {                                              \
                    (ctl)->first_bad_round = (ctl)->rounds;                                \
                    (ctl)->first_bad_word = bw_;                                           \
                }                                                                          \
                (ctl)->bad_rounds++;                                                       \
            }                                                                              \
        }                                                                                  \
        long t_ = raw_gettid();                                                            \
        if (t_ != (ctl)->tid0) {                                                           \
            (ctl)->tid_changes++;                                                          \
            (ctl)->bad_tid = t_;                                                           \
        }                                                                                  \
        if (tcb_self() != (ctl)->fs0) (ctl)->fs_changes++;                                 \
        (ctl)->rounds++;                                                                   \
    } while (0)

#define LOOP_HEAD(ctl)                                                                     \
    (ctl)->tid0 = raw_gettid();                                                            \
    (ctl)->fs0 = tcb_self();                                                               \
    while ((ctl)->rounds < (ctl)->max_rounds && !(*(ctl)->stop && (ctl)->rounds > 0))

/* Baseline x86-64: SSE2. 8 double accumulators + 2 integer vectors = 10 xmm + constants. */
__attribute__((noinline)) static void spin_sse2(spin_ctl *ctl)
{
    uint64_t out[NOUT];
    uint64_t w = 0;
    LOOP_HEAD(ctl)
    {
        uint64_t seed = g_seed;
        SCALAR_DECL
        __m128d m = _mm_set1_pd(1.0000001), c = _mm_set_pd(1e-7, 3e-7);
        __m128d v0 = _mm_set_pd(1.0, 1.5), v1 = _mm_set_pd(2.0, 2.5), v2 = _mm_set_pd(3.0, 3.5),
                v3 = _mm_set_pd(4.0, 4.5), v4 = _mm_set_pd(5.0, 5.5), v5 = _mm_set_pd(6.0, 6.5),
                v6 = _mm_set_pd(7.0, 7.5), v7 = _mm_set_pd(8.0, 8.5);
        __m128i q0 = _mm_set_epi64x((long long)seed, 7), q1 = _mm_set_epi64x(11, (long long)~seed);
        __m128i qk = _mm_set1_epi64x(0x5851f42d4c957f2dLL);
        for (int k = 0; k < ITERS; k++) {
            SCALAR_STEP(k)
            v0 = _mm_add_pd(_mm_mul_pd(v0, m), c);
            v1 = _mm_add_pd(_mm_mul_pd(v1, m), c);
            v2 = _mm_add_pd(_mm_mul_pd(v2, m), c);
            v3 = _mm_add_pd(_mm_mul_pd(v3, m), c);
            v4 = _mm_sub_pd(_mm_mul_pd(v4, m), c);
            v5 = _mm_sub_pd(_mm_mul_pd(v5, m), c);
            v6 = _mm_add_pd(_mm_mul_pd(v6, m), v0);
            v7 = _mm_add_pd(_mm_mul_pd(v7, c), v1);
            q0 = _mm_add_epi64(_mm_xor_si128(q0, _mm_slli_epi64(q0, 7)), qk);
            q1 = _mm_xor_si128(_mm_add_epi64(q1, q0), _mm_srli_epi64(q1, 11));
        }
        w = 0;
        SCALAR_STORE(out, w);
#define ST1(x) (_mm_storeu_pd((double *)&out[w], (x)), w += 2)
        ST1(v0), ST1(v1), ST1(v2), ST1(v3), ST1(v4), ST1(v5), ST1(v6), ST1(v7);
#undef ST1
        _mm_storeu_si128((__m128i *)&out[w], q0);
        w += 2;
        _mm_storeu_si128((__m128i *)&out[w], q1);
        w += 2;
        ROUND_END(ctl, out, w);
    }
    ctl->nout = w;
    memcpy(ctl->last, out, sizeof out);
}

/* AVX2: 8 ymm double accumulators + 4 ymm integer vectors + constants: upper halves live. */
__attribute__((noinline, target("avx2"))) static void spin_avx2(spin_ctl *ctl)
{
    uint64_t out[NOUT];
    uint64_t w = 0;
    LOOP_HEAD(ctl)
    {
        uint64_t seed = g_seed;
        SCALAR_DECL
        __m256d m = _mm256_set1_pd(1.0000001), c = _mm256_set_pd(1e-7, 3e-7, 5e-7, 7e-7);
        __m256d v0 = _mm256_set_pd(1.0, 1.25, 1.5, 1.75), v1 = _mm256_set_pd(2.0, 2.25, 2.5, 2.75),
                v2 = _mm256_set_pd(3.0, 3.25, 3.5, 3.75), v3 = _mm256_set_pd(4.0, 4.25, 4.5, 4.75),
                v4 = _mm256_set_pd(5.0, 5.25, 5.5, 5.75), v5 = _mm256_set_pd(6.0, 6.25, 6.5, 6.75),
                v6 = _mm256_set_pd(7.0, 7.25, 7.5, 7.75), v7 = _mm256_set_pd(8.0, 8.25, 8.5, 8.75);
        __m256i q0 = _mm256_set_epi64x((long long)seed, 7, 9, 13),
                q1 = _mm256_set_epi64x(11, (long long)~seed, 17, 19),
                q2 = _mm256_set_epi64x(23, 29, (long long)(seed >> 7), 31),
                q3 = _mm256_set_epi64x(37, 41, 43, (long long)(seed * 3));
        __m256i qk = _mm256_set1_epi64x(0x5851f42d4c957f2dLL);
        for (int k = 0; k < ITERS; k++) {
            SCALAR_STEP(k)
            v0 = _mm256_add_pd(_mm256_mul_pd(v0, m), c);
            v1 = _mm256_add_pd(_mm256_mul_pd(v1, m), c);
            v2 = _mm256_add_pd(_mm256_mul_pd(v2, m), c);
            v3 = _mm256_add_pd(_mm256_mul_pd(v3, m), c);
            v4 = _mm256_sub_pd(_mm256_mul_pd(v4, m), c);
            v5 = _mm256_sub_pd(_mm256_mul_pd(v5, m), c);
            v6 = _mm256_add_pd(_mm256_mul_pd(v6, m), v0);
            v7 = _mm256_add_pd(_mm256_mul_pd(v7, c), v1);
            q0 = _mm256_add_epi64(_mm256_xor_si256(q0, _mm256_slli_epi64(q0, 7)), qk);
            q1 = _mm256_xor_si256(_mm256_add_epi64(q1, q0), _mm256_srli_epi64(q1, 11));
            q2 = _mm256_add_epi64(_mm256_permute4x64_epi64(q2, 0x39), q1);
            q3 = _mm256_xor_si256(q3, _mm256_slli_epi64(q2, 3));
        }
        w = 0;
        SCALAR_STORE(out, w);
#define ST2(x) (_mm256_storeu_pd((double *)&out[w], (x)), w += 4)
#define ST2I(x) (_mm256_storeu_si256((__m256i *)&out[w], (x)), w += 4)
        ST2(v0), ST2(v1), ST2(v2), ST2(v3), ST2(v4), ST2(v5), ST2(v6), ST2(v7);
        ST2I(q0), ST2I(q1), ST2I(q2), ST2I(q3);
#undef ST2
#undef ST2I
        ROUND_END(ctl, out, w);
    }
    ctl->nout = w;
    memcpy(ctl->last, out, sizeof out);
}

/* AVX-512: 16 zmm double accumulators + 6 zmm integer vectors + constants (> 16 registers, so
 * zmm16..31 are live) and a mask register. */
__attribute__((noinline, target("avx512f"))) static void spin_avx512(spin_ctl *ctl)
{
    uint64_t out[NOUT];
    uint64_t w = 0;
    LOOP_HEAD(ctl)
    {
        uint64_t seed = g_seed;
        SCALAR_DECL
        __m512d m = _mm512_set1_pd(1.0000001), c = _mm512_set_pd(1e-7, 2e-7, 3e-7, 4e-7, 5e-7, 6e-7, 7e-7, 8e-7);
        __m512d v[16];
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) v[j] = _mm512_set1_pd(1.0 + j * 0.125);
        __m512i q[6];
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++) q[j] = _mm512_set1_epi64((long long)(seed + (uint64_t)j * 977));
        __m512i qk = _mm512_set1_epi64(0x5851f42d4c957f2dLL);
        __mmask8 mk = (__mmask8)(seed | 1);
        for (int k = 0; k < ITERS; k++) {
            SCALAR_STEP(k)
#pragma GCC unroll 16
            for (int j = 0; j < 16; j++) v[j] = _mm512_add_pd(_mm512_mul_pd(v[j], m), c);
            v[3] = _mm512_mask_add_pd(v[3], mk, v[3], v[15]);
            mk = (__mmask8)((mk << 1) | (mk >> 7));
            q[0] = _mm512_add_epi64(_mm512_xor_si512(q[0], _mm512_slli_epi64(q[0], 7)), qk);
#pragma GCC unroll 5
            for (int j = 1; j < 6; j++)
                q[j] = _mm512_xor_si512(_mm512_add_epi64(q[j], q[j - 1]), _mm512_srli_epi64(q[j], 11));
        }
        w = 0;
        SCALAR_STORE(out, w);
#pragma GCC unroll 16
        for (int j = 0; j < 16; j++) _mm512_storeu_pd((double *)&out[w + 8 * j], v[j]);
        w += 16 * 8;
#pragma GCC unroll 6
        for (int j = 0; j < 6; j++) _mm512_storeu_si512((void *)&out[w + 8 * j], q[j]);
        w += 6 * 8;
        ROUND_END(ctl, out, w);
    }
    ctl->nout = w;
    memcpy(ctl->last, out, sizeof out);
}

typedef void (*spin_fn)(spin_ctl *);
typedef struct variant {
    const char *name;
    spin_fn fn;
    spin_ctl ref;  /* computed on a plain pthread */
    spin_ctl run;  /* computed in a goroutine, preempted */
} variant;

static variant variants[3];
static int nvariants;
static volatile int never_stop = 0;

static void *ref_thread(void *arg)
{
    variant *v = (variant *)arg;
    memset(&v->ref, 0, sizeof v->ref);
    v->ref.stop = &never_stop;
    v->ref.max_rounds = 1;
    set_rounding(ROUND_UP);
    v->fn(&v->ref);
    set_rounding(ROUND_NEAREST);
    return NULL;
}

/* ------------------------------------------------------------------ part 1: goroutines */

static volatile int stop_flag;
static H_ATOMIC(int) spinner_started;
static H_ATOMIC(long) ticks;
static int64_t spin_ns;
static wg_t wg;

static void spinner(void *arg)
{
    variant *v = (variant *)arg;
    spin_ctl *c = &v->run;
    memset(c, 0, sizeof *c);
    memcpy(c->ref, v->ref.last, sizeof c->ref);
    c->have_ref = 1;
    c->stop = &stop_flag;
    c->max_rounds = UINT64_MAX;
    set_rounding(ROUND_UP);
    pid_t tid = h_gettid();
    atomic_store(&spinner_started, 1);
    v->fn(c);
    CHECK(get_rounding_mxcsr() == ROUND_UP && get_rounding_x87() == ROUND_UP,
          "rounding mode lost across preemption: MXCSR.RC=%u x87 RC=%u", get_rounding_mxcsr(),
          get_rounding_x87());
    set_rounding(ROUND_NEAREST);
    CHECK(h_gettid() == tid, "spinner on thread %d after the loop, %d before", (int)h_gettid(),
          (int)tid);
    wg_done(&wg);
}

static void ticker(void *arg)
{
    (void)arg;
    /* On one P this loop only gets the processor back when the spinner is preempted. */
    while (!atomic_load(&spinner_started)) gmp_gosched();
    int64_t t0 = h_now_ns();
    long n = 0;
    while (h_now_ns() - t0 < spin_ns) {
        gmp_gosched();
        n++;
        if (n % 4 == 0) {
            /* A blocking call in a syscall bracket: sysmon hands the P to another thread,
             * which must give it back to the spinner's own thread (a preempted goroutine
             * keeps its thread) rather than resume the spinner itself. */
            gmp_entersyscall();
            struct timespec ts = {0, 2 * 1000000};
            nanosleep(&ts, NULL); /* the blocking call itself, not synchronisation */
            gmp_exitsyscall();
        }
    }
    atomic_store(&ticks, n);
    stop_flag = 1;
    wg_done(&wg);
}

static void run_variant(variant *v)
{
    stop_flag = 0;
    atomic_store(&spinner_started, 0);
    atomic_store(&ticks, 0L);
    gmp_stats s0 = h_stats();
    int64_t t0 = h_now_ns();
    wg_init(&wg);
    wg_add(&wg, 2);
    h_spawn(spinner, v);
    h_spawn(ticker, NULL);
    wg_wait(&wg);
    int64_t dt = h_now_ns() - t0;
    gmp_stats s1 = h_stats();
    spin_ctl *c = &v->run;
    uint64_t npre = s1.preemptions - s0.preemptions;
    long nt = atomic_load(&ticks);
    double secs = (double)spin_ns / 1e9;
    printf("t_preempt_exact: %s: %llu rounds in %.2f s, %llu preemptions, %ld ticker steps\n",
           v->name, (unsigned long long)c->rounds, dt / 1e9, (unsigned long long)npre, nt);
    CHECK(c->nout == v->ref.nout && c->nout > 0 && c->nout <= NOUT, "%s: nout %llu vs %llu",
          v->name, (unsigned long long)c->nout, (unsigned long long)v->ref.nout);
    CHECK(c->bad_rounds == 0,
          "%s: %llu of %llu rounds differ from the pthread reference (first: round %llu, "
          "word %llu of %llu) -- state corrupted by preemption",
          v->name, (unsigned long long)c->bad_rounds, (unsigned long long)c->rounds,
          (unsigned long long)c->first_bad_round, (unsigned long long)c->first_bad_word,
          (unsigned long long)c->nout);
    CHECK(memcmp(c->last, v->ref.last, c->nout * sizeof(uint64_t)) == 0,
          "%s: last round differs from the reference", v->name);
    CHECK(c->tid_changes == 0, "%s: preempted goroutine changed thread %llu times (%ld -> %ld)",
          v->name, (unsigned long long)c->tid_changes, c->tid0, c->bad_tid);
    CHECK(c->fs_changes == 0, "%s: TCB pointer changed %llu times", v->name,
          (unsigned long long)c->fs_changes);
    CHECK(nt >= (long)(25 * secs), "%s: ticker made only %ld steps in %.2f s (preemption too rare)",
          v->name, nt, secs);
    CHECK(npre >= (uint64_t)(20 * secs), "%s: only %llu preemptions in %.2f s", v->name,
          (unsigned long long)npre, secs);
    CHECK(c->rounds >= 2, "%s: only %llu rounds", v->name, (unsigned long long)c->rounds);
}

/* ------------------------------------------------------------------ part 2: the red zone */

/* long rz_spin(uint64_t max_iters, const int *release, int *in_spin, int token)
 * A leaf: saves the callee-saved registers, fills the red zone below the new rsp with 16
 * known quadwords, sets the flags to CF=1 SF=1 ZF=0 (cmp 1, 2) and every general register it
 * can spare (rax, rbx, rbp, r8-r15) to a known value, stores token to *in_spin and spins until
 * *release != 0. The spin loop touches no stack memory and contains no flag-writing
 * instruction (jrcxz and lea instead of cmp/dec), so the flags are live at every instruction
 * boundary where the preemption signal can land; each iteration checks them. Returns the
 * number of red-zone words and registers that lost their value, -1 if max_iters ran out
 * (never released), -2 if the flags changed. rdi (counter), rsi (release), rdx (in_spin) and
 * rcx (scratch) are in use during the spin. */
long rz_spin(uint64_t max_iters, const int *release, int *in_spin, int token);
#define RZ_SETREG(reg, val) "  movabsq $" val ", %" reg "\n"
#define RZ_CHKREG(reg, val)                                                                \
    "  movabsq $" val ", %rdi\n"                                                           \
    "  xorl %edx, %edx\n"                                                                  \
    "  cmpq %rdi, %" reg "\n"                                                              \
    "  setne %dl\n"                                                                        \
    "  addq %rdx, %rsi\n"
#define RZ_REGS(X)                                                                         \
    X("rax", "0x0a0a0a0a0a0a0a0a") X("rbx", "0x0b0b0b0b0b0b0b0b")                          \
    X("rbp", "0x0d0d0d0d0d0d0d0d") X("r8", "0x0808080808080808")                           \
    X("r9", "0x0909090909090909") X("r10", "0x1010101010101010")                           \
    X("r11", "0x1111111111111111") X("r12", "0x1212121212121212")                          \
    X("r13", "0x1313131313131313") X("r14", "0x1414141414141414")                          \
    X("r15", "0x1515151515151515")
__asm__(".text\n"
        ".globl rz_spin\n"
        ".type rz_spin, @function\n"
        "rz_spin:\n"
        "  pushq %rbx\n"
        "  pushq %rbp\n"
        "  pushq %r12\n"
        "  pushq %r13\n"
        "  pushq %r14\n"
        "  pushq %r15\n"
        "  .set i, 1\n"
        "  .rept 16\n"
        "  movabsq $(0x5eed0000cafe0000 + i * 0x10001), %rax\n"
        "  movq %rax, -(8 * i)(%rsp)\n"
        "  .set i, i + 1\n"
        "  .endr\n"
        "  movl $1, %eax\n"
        "  cmpl $2, %eax\n" /* CF=1 SF=1 ZF=0; nothing below writes the flags until 2: */
        RZ_REGS(RZ_SETREG)
        "  movl %ecx, (%rdx)\n" /* publish the token only once everything is in place */
        "1:\n"
        "  movl (%rsi), %ecx\n"
        "  jrcxz 3f\n"
        "  jmp 2f\n"
        "3:\n"
        "  jnc 8f\n"
        "  jns 8f\n"
        "  jz 8f\n"
        "  leaq -1(%rdi), %rdi\n"
        "  movq %rdi, %rcx\n"
        "  jrcxz 7f\n"
        "  jmp 1b\n"
        "7:\n"
        "  movl $0, (%rdx)\n"
        "  movq $-1, %rax\n"
        "  jmp 9f\n"
        "8:\n"
        "  movl $0, (%rdx)\n"
        "  movq $-2, %rax\n"
        "  jmp 9f\n"
        "2:\n"
        "  movl $0, (%rdx)\n"
        "  xorl %esi, %esi\n"
        "  .set i, 1\n"
        "  .rept 16\n"
        "  movabsq $(0x5eed0000cafe0000 + i * 0x10001), %rdi\n"
        "  xorl %edx, %edx\n"
        "  cmpq %rdi, -(8 * i)(%rsp)\n"
        "  setne %dl\n"
        "  addq %rdx, %rsi\n"
        "  .set i, i + 1\n"
        "  .endr\n"
        RZ_REGS(RZ_CHKREG)
        "  movq %rsi, %rax\n"
        "9:\n"
        "  popq %r15\n"
        "  popq %r14\n"
        "  popq %r13\n"
        "  popq %r12\n"
        "  popq %rbp\n"
        "  popq %rbx\n"
        "  ret\n"
        ".size rz_spin, .-rz_spin\n");

/* Part 3: the whole vector register file. Compiled C code keeps only some vector registers
 * live (and the runtime's preemption path does clobber some: e.g. `xorps %xmm0, %xmm0` when it
 * zeroes a struct), so these leaves load a distinct pattern into EVERY xmm0-15 (SSE) or
 * ymm0-15 (AVX2) register, spin like rz_spin, and count the registers that no longer hold
 * their pattern. Same arguments as rz_spin plus r8 = the patterns (16 or 32 bytes per
 * register, 32-byte aligned). */
long vec_spin_sse(uint64_t max_iters, const int *release, int *in_spin, int token,
                  const uint64_t *patterns);
long vec_spin_avx2(uint64_t max_iters, const int *release, int *in_spin, int token,
                   const uint64_t *patterns);
#define REGS16 "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15"
__asm__(".text\n"
        ".globl vec_spin_sse\n"
        ".type vec_spin_sse, @function\n"
        "vec_spin_sse:\n"
        "  .irp i," REGS16 "\n"
        "  movdqa (16 * \\i)(%r8), %xmm\\i\n"
        "  .endr\n"
        "  movl %ecx, (%rdx)\n"
        "1:\n"
        "  cmpl $0, (%rsi)\n"
        "  jne 2f\n"
        "  decq %rdi\n"
        "  jnz 1b\n"
        "  movl $0, (%rdx)\n"
        "  movq $-1, %rax\n"
        "  ret\n"
        "2:\n"
        "  movl $0, (%rdx)\n"
        "  xorl %eax, %eax\n"
        "  .irp i," REGS16 "\n"
        "  pcmpeqd (16 * \\i)(%r8), %xmm\\i\n"
        "  pmovmskb %xmm\\i, %ecx\n"
        "  cmpl $0xffff, %ecx\n"
        "  setne %cl\n"
        "  movzbl %cl, %ecx\n"
        "  addq %rcx, %rax\n"
        "  .endr\n"
        "  ret\n"
        ".size vec_spin_sse, .-vec_spin_sse\n"
        ".globl vec_spin_avx2\n"
        ".type vec_spin_avx2, @function\n"
        "vec_spin_avx2:\n"
        "  .irp i," REGS16 "\n"
        "  vmovdqa (32 * \\i)(%r8), %ymm\\i\n"
        "  .endr\n"
        "  movl %ecx, (%rdx)\n"
        "1:\n"
        "  cmpl $0, (%rsi)\n"
        "  jne 2f\n"
        "  decq %rdi\n"
        "  jnz 1b\n"
        "  movl $0, (%rdx)\n"
        "  movq $-1, %rax\n"
        "  vzeroupper\n"
        "  ret\n"
        "2:\n"
        "  movl $0, (%rdx)\n"
        "  xorl %eax, %eax\n"
        "  .irp i," REGS16 "\n"
        "  vpcmpeqq (32 * \\i)(%r8), %ymm\\i, %ymm\\i\n"
        "  vmovmskpd %ymm\\i, %ecx\n"
        "  cmpl $0xf, %ecx\n"
        "  setne %cl\n"
        "  movzbl %cl, %ecx\n"
        "  addq %rcx, %rax\n"
        "  .endr\n"
        "  vzeroupper\n"
        "  ret\n"
        ".size vec_spin_avx2, .-vec_spin_avx2\n");

static _Alignas(32) uint64_t vec_patterns[16 * 4];

/* The spins of parts 2 and 3, round-robin over the kinds the CPU has. */
typedef enum { SPIN_REDZONE, SPIN_SSE, SPIN_AVX2 } spin_kind;
static spin_kind kinds[3];
static int nkinds;
static const char *kind_name[] = {"red zone + flags + 11 GPRs", "xmm0-15", "ymm0-15"};
#define SPIN_ROUNDS (RZ_ROUNDS * nkinds)

static int rz_release;
static int rz_in_spin;

static void rz_watcher(void *arg)
{
    (void)arg;
    for (int r = 1; r <= SPIN_ROUNDS; r++) {
        /* On one P we run here only while the spinner is preempted. Seeing token r means it
         * was preempted inside the spin of round r. */
        H_GOSCHED_UNTIL(__atomic_load_n(&rz_in_spin, __ATOMIC_ACQUIRE) == r, 30,
                        "round %d: never saw the spinner inside its asm spin (in_spin=%d)", r,
                        __atomic_load_n(&rz_in_spin, __ATOMIC_ACQUIRE));
        __atomic_store_n(&rz_release, 1, __ATOMIC_RELEASE);
    }
    wg_done(&wg);
}

static void rz_spinner(void *arg)
{
    (void)arg;
    for (int r = 1; r <= SPIN_ROUNDS; r++) {
        spin_kind k = kinds[(r - 1) % nkinds];
        __atomic_store_n(&rz_release, 0, __ATOMIC_RELEASE);
        uint64_t p0 = h_stats().preemptions;
        pid_t tid0 = h_gettid();
        const uint64_t max = 20000000000ULL;
        long bad = k == SPIN_REDZONE ? rz_spin(max, &rz_release, &rz_in_spin, r)
                   : k == SPIN_SSE   ? vec_spin_sse(max, &rz_release, &rz_in_spin, r, vec_patterns)
                                     : vec_spin_avx2(max, &rz_release, &rz_in_spin, r, vec_patterns);
        pid_t tid1 = h_gettid();
        uint64_t p1 = h_stats().preemptions;
        CHECK(bad != -1, "round %d (%s): the spin was never released: not preempted inside it",
              r, kind_name[k]);
        CHECK(bad != -2, "round %d (%s): the flags register changed across a preemption", r,
              kind_name[k]);
        CHECK(bad == 0, "round %d: %ld of the %s lost their value across preemption", r, bad,
              kind_name[k]);
        CHECK(p1 > p0, "round %d (%s): released, but preemptions did not grow (%llu)", r,
              kind_name[k], (unsigned long long)p1);
        CHECK(tid0 == tid1, "round %d (%s): preempted on thread %d, resumed on %d", r,
              kind_name[k], (int)tid0, (int)tid1);
    }
    wg_done(&wg);
}

static void main_fn(void *arg)
{
    (void)arg;
    CHECK_EQ(gmp_set_procs(0), 1);
    spin_ns = SPIN_TOTAL_NS / nvariants;
    for (int i = 0; i < nvariants; i++) run_variant(&variants[i]);

    gmp_stats s0 = h_stats();
    wg_init(&wg);
    wg_add(&wg, 2);
    h_spawn(rz_spinner, NULL);
    h_spawn(rz_watcher, NULL);
    wg_wait(&wg);
    for (int i = 0; i < nkinds; i++)
        printf("t_preempt_exact: %s intact over %d preempted spins\n", kind_name[kinds[i]],
               RZ_ROUNDS);
    printf("t_preempt_exact: parts 2+3: %llu preemptions\n",
           (unsigned long long)(h_stats().preemptions - s0.preemptions));
}

int main(void)
{
    h_check_lib();
    __builtin_cpu_init();
    variants[nvariants++] = (variant){.name = "sse2", .fn = spin_sse2};
    if (__builtin_cpu_supports("avx2")) variants[nvariants++] = (variant){.name = "avx2", .fn = spin_avx2};
    if (__builtin_cpu_supports("avx512f"))
        variants[nvariants++] = (variant){.name = "avx512f", .fn = spin_avx512};
    kinds[nkinds++] = SPIN_REDZONE;
    kinds[nkinds++] = SPIN_SSE;
    if (__builtin_cpu_supports("avx2")) kinds[nkinds++] = SPIN_AVX2;
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 16 * 4; i++) { /* splitmix64: distinct, non-trivial lane values */
        uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        vec_patterns[i] = z ^ (z >> 31);
    }
    /* References on a plain pthread, before the runtime exists. */
    for (int i = 0; i < nvariants; i++) {
        pthread_t t;
        CHECK(pthread_create(&t, NULL, ref_thread, &variants[i]) == 0, "pthread_create");
        CHECK(pthread_join(t, NULL) == 0, "pthread_join");
        CHECK(variants[i].ref.rounds == 1 && variants[i].ref.nout > 0, "reference run");
    }
    gmp_config cfg = {.procs = 1, .stack_size = 0};
    CHECK_EQ(gmp_init(&cfg), 0);
    h_main(main_fn, NULL);
    printf("t_preempt_exact: ok (%d variants; preemptions %llu)\n", nvariants,
           (unsigned long long)h_stats().preemptions);
    return 0;
}
