/*
 * Goroutine context switch for x86-64 System V (Go's gogo and mcall).
 *
 * A switched-out goroutine's context is its Gobuf (asm/offsets.h): rsp, the pc to resume at,
 * the callee-saved registers (rbp rbx r12-r15), and the two control registers C code may change
 * and expects to keep per thread of execution: MXCSR (SSE rounding/exception masks) and the x87
 * control word. Caller-saved registers need no saving: every switch is a call.
 *
 * The current g lives at %gs:GREGS_G (the M's g-register block, src/arch/x86_64.rs);
 * %gs:GREGS_G0 is the M's g0.
 */
#include "offsets.h"

/* Save the caller of the current function into the Gobuf at \buf: resume at our return
 * address, with it popped. \tmp is clobbered. */
.macro SAVE_GOBUF buf, tmp
        movq    (%rsp), \tmp
        movq    \tmp, GOBUF_PC(\buf)
        leaq    8(%rsp), \tmp
        movq    \tmp, GOBUF_SP(\buf)
        movq    %rbp, GOBUF_RBP(\buf)
        movq    %rbx, GOBUF_RBX(\buf)
        movq    %r12, GOBUF_R12(\buf)
        movq    %r13, GOBUF_R13(\buf)
        movq    %r14, GOBUF_R14(\buf)
        movq    %r15, GOBUF_R15(\buf)
        stmxcsr GOBUF_MXCSR(\buf)
        fnstcw  GOBUF_FPUCW(\buf)
.endm

/* Load everything but sp and pc from the Gobuf at \buf. */
.macro LOAD_GOBUF buf
        ldmxcsr GOBUF_MXCSR(\buf)
        fldcw   GOBUF_FPUCW(\buf)
        movq    GOBUF_RBP(\buf), %rbp
        movq    GOBUF_RBX(\buf), %rbx
        movq    GOBUF_R12(\buf), %r12
        movq    GOBUF_R13(\buf), %r13
        movq    GOBUF_R14(\buf), %r14
        movq    GOBUF_R15(\buf), %r15
.endm

        .text

/*
 * void gmp_gogo(G *g) -- resume g; never returns.
 *   rdi = g (its Gobuf is at G_SCHED = 0)
 * Sets %gs:GREGS_G = g first: from then on this thread runs g.
 */
        .globl  gmp_gogo
        .hidden gmp_gogo
        .type   gmp_gogo, @function
        .p2align 4
gmp_gogo:
        .cfi_startproc
        movq    %rdi, %gs:GREGS_G
        LOAD_GOBUF %rdi
        movq    GOBUF_SP(%rdi), %rsp          /* now on g's stack */
        jmpq    *GOBUF_PC(%rdi)
        .cfi_endproc
        .size   gmp_gogo, .-gmp_gogo

/*
 * void gmp_mcall(void (*fn)(G *)) -- save the current goroutine's context in its Gobuf, switch
 * to this M's g0 stack and call fn(g). fn must not return (it ends in gmp_gogo or schedule()).
 *   rdi = fn
 *   rax = the goroutine being switched out, rcx = g0, r11 = fn
 * g0's stack is entered at g0->sched.sp, the top recorded by mstart: nothing on g0 is live
 * while a goroutine runs, because everything run on g0 ends by switching away.
 */
        .globl  gmp_mcall
        .hidden gmp_mcall
        .type   gmp_mcall, @function
        .p2align 4
gmp_mcall:
        .cfi_startproc
        movq    %rdi, %r11                    /* r11 = fn (caller-saved, free) */
        movq    %gs:GREGS_G, %rax             /* rax = g */
        SAVE_GOBUF %rax, %rdx
        movq    %gs:GREGS_G0, %rcx            /* rcx = g0 */
        movq    %rcx, %gs:GREGS_G             /* this thread now runs g0 */
        movq    GOBUF_SP(%rcx), %rsp          /* 16-byte aligned top of the g0 stack */
        .cfi_undefined rip                    /* g0's frames end here for unwinders */
        xorl    %ebp, %ebp                    /* and for frame-pointer walkers */
        movq    %rax, %rdi                    /* fn(g) */
        callq   *%r11
        ud2                                   /* fn returned: a broken invariant */
        .cfi_endproc
        .size   gmp_mcall, .-gmp_mcall

        .section .note.GNU-stack,"",@progbits
