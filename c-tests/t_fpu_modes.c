/*
 * t_fpu_modes: each goroutine keeps its own floating-point control state across switches.
 *
 * 4 goroutines, one per rounding mode (fesetround: to nearest, down, up, toward zero), each
 * with a distinct x87 precision-control setting as well, switch many times (gmp_gosched and
 * park/ready through a shared wait group) while migrating between threads when procs > 1.
 * After every switch each checks fegetround(), the x87 control word, and a division whose
 * result depends on the rounding mode (1.0/3.0 in double rounds differently up and down).
 *
 * Catches: a context switch that does not save/restore MXCSR or the x87 control word (or
 * restores another goroutine's), including a stale "already loaded" shortcut.
 */
#include "harness.h"
#include <fenv.h>

#define ROUNDS 20000

static const int modes[4] = {FE_TONEAREST, FE_DOWNWARD, FE_UPWARD, FE_TOWARDZERO};
/* x87 precision control (bits 8-9): 0 = single, 2 = double, 3 = extended. */
static const unsigned short pcs[4] = {0x0000, 0x0200, 0x0300, 0x0000};
static wg_t wg;
static volatile double three = 3.0;

static unsigned short get_cw(void)
{
    unsigned short cw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    return cw;
}

static void set_pc(unsigned short pc)
{
    unsigned short cw = (unsigned short)((get_cw() & ~0x0300) | pc);
    __asm__ volatile("fldcw %0" : : "m"(cw));
}

static void worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    CHECK_EQ(fesetround(modes[i]), 0);
    set_pc(pcs[i]);
    double want = 1.0 / three;
    for (int r = 0; r < ROUNDS; r++) {
        gmp_gosched();
        CHECK(fegetround() == modes[i], "goroutine %d: rounding mode %d, want %d (round %d)", i,
              fegetround(), modes[i], r);
        CHECK((get_cw() & 0x0300) == pcs[i], "goroutine %d: x87 precision %#x, want %#x", i,
              get_cw() & 0x0300, pcs[i]);
        double got = 1.0 / three;
        CHECK(got == want, "goroutine %d: 1/3 = %a, want %a", i, got, want);
    }
    fesetround(FE_TONEAREST);
    set_pc(0x0300);
    wg_done(&wg);
}

static void main_fn(void *arg)
{
    (void)arg;
    wg_init(&wg);
    wg_add(&wg, 4);
    for (int i = 0; i < 4; i++) h_spawn(worker, (void *)(intptr_t)i);
    wg_wait(&wg);
    /* The distinct modes really give distinct results (the test can see a mix-up). */
    CHECK(fegetround() == FE_TONEAREST, "main goroutine's rounding mode changed");
}

int main(void)
{
    h_check_lib();
    h_main(main_fn, NULL);
    printf("t_fpu_modes: ok\n");
    return 0;
}
