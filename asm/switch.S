/*
 * Goroutine context switch for x86-64 System V (Go's gogo, gosave, mcall, systemstack).
 *
 * A switched-out goroutine's context is its Gobuf (asm/offsets.h): rsp, the pc to resume at,
 * the callee-saved registers (rbp rbx r12-r15), and the two control registers C code may change
 * and expects to keep per thread of execution: MXCSR (SSE rounding/exception masks) and the x87
 * control word. Caller-saved registers need no saving: every switch is a call.
 *
 * The current g lives at %gs:0 (the M's g-register block, see src/m.rs); %gs:24 is the M's g0.
 */
#include "offsets.h"

        .text

/*
 * void gmp_gogo(G *g) -- resume g; never returns.
 *   rdi = g (its Gobuf is at offset 0)
 * Sets %gs:0 = g first: from then on this thread runs g. eax = 1 so that a context saved by
 * gmp_gosave "returns 1" when resumed.
 */
        .globl  gmp_gogo
        .type   gmp_gogo, @function
        .p2align 4
gmp_gogo:
        .cfi_startproc
        movq    %rdi, %gs:M_TLS_G
        ldmxcsr GOBUF_MXCSR(%rdi)
        fldcw   GOBUF_FPUCW(%rdi)
        movq    GOBUF_RBP(%rdi), %rbp
        movq    GOBUF_RBX(%rdi), %rbx
        movq    GOBUF_R12(%rdi), %r12
        movq    GOBUF_R13(%rdi), %r13
        movq    GOBUF_R14(%rdi), %r14
        movq    GOBUF_R15(%rdi), %r15
        movq    GOBUF_SP(%rdi), %rsp          /* now on g's stack */
        movl    $1, %eax
        jmpq    *GOBUF_PC(%rdi)
        .cfi_endproc
        .size   gmp_gogo, .-gmp_gogo

/*
 * int gmp_gosave(G *g) -- save the caller's context in g->sched; returns 0 now, and 1 when a
 * later gmp_gogo(g) resumes it.
 *   rdi = g, (%rsp) = return address
 */
        .globl  gmp_gosave
        .type   gmp_gosave, @function
        .p2align 4
gmp_gosave:
        .cfi_startproc
        movq    (%rsp), %rax
        movq    %rax, GOBUF_PC(%rdi)          /* resume at our return address ... */
        leaq    8(%rsp), %rax
        movq    %rax, GOBUF_SP(%rdi)          /* ... with the return address popped */
        movq    %rbp, GOBUF_RBP(%rdi)
        movq    %rbx, GOBUF_RBX(%rdi)
        movq    %r12, GOBUF_R12(%rdi)
        movq    %r13, GOBUF_R13(%rdi)
        movq    %r14, GOBUF_R14(%rdi)
        movq    %r15, GOBUF_R15(%rdi)
        stmxcsr GOBUF_MXCSR(%rdi)
        fnstcw  GOBUF_FPUCW(%rdi)
        xorl    %eax, %eax
        ret
        .cfi_endproc
        .size   gmp_gosave, .-gmp_gosave

/*
 * void gmp_mcall(void (*fn)(G *)) -- save the current goroutine's context in its Gobuf, switch
 * to this M's g0 stack and call fn(g). fn must not return (it ends in gmp_gogo or schedule()).
 *   rdi = fn
 *   rax = the goroutine being switched out, rcx = g0
 * g0's stack is entered at g0->sched.sp, the top recorded by mstart: nothing on g0 is live
 * while a goroutine runs, because everything run on g0 ends by switching away.
 */
        .globl  gmp_mcall
        .type   gmp_mcall, @function
        .p2align 4
gmp_mcall:
        .cfi_startproc
        movq    %rdi, %r11                    /* r11 = fn (caller-saved, free) */
        movq    %gs:M_TLS_G, %rax             /* rax = g */
        movq    (%rsp), %rdx
        movq    %rdx, GOBUF_PC(%rax)
        leaq    8(%rsp), %rdx
        movq    %rdx, GOBUF_SP(%rax)
        movq    %rbp, GOBUF_RBP(%rax)
        movq    %rbx, GOBUF_RBX(%rax)
        movq    %r12, GOBUF_R12(%rax)
        movq    %r13, GOBUF_R13(%rax)
        movq    %r14, GOBUF_R14(%rax)
        movq    %r15, GOBUF_R15(%rax)
        stmxcsr GOBUF_MXCSR(%rax)
        fnstcw  GOBUF_FPUCW(%rax)
        movq    %gs:M_G0, %rcx                /* rcx = g0 */
        movq    %rcx, %gs:M_TLS_G             /* this thread now runs g0 */
        movq    GOBUF_SP(%rcx), %rsp          /* 16-byte aligned top of the g0 stack */
        xorl    %ebp, %ebp                    /* end the frame chain: nothing to unwind into */
        movq    %rax, %rdi                    /* fn(g) */
        callq   *%r11
        ud2                                   /* fn returned: a broken invariant */
        .cfi_endproc
        .size   gmp_mcall, .-gmp_mcall

/*
 * void gmp_systemstack(void (*fn)(void *), void *arg) -- run fn(arg) on this M's g0 stack and
 * come back. On g0 already, just calls fn.
 *   rdi = fn, rsi = arg
 *   rbx = the goroutine we came from, r12 = its stack pointer (both callee-saved, so they
 *         survive fn; their own values are pushed first)
 */
        .globl  gmp_systemstack
        .type   gmp_systemstack, @function
        .p2align 4
gmp_systemstack:
        .cfi_startproc
        movq    %gs:M_TLS_G, %rax
        movq    %gs:M_G0, %rcx
        cmpq    %rax, %rcx
        je      1f
        pushq   %rbp
        .cfi_adjust_cfa_offset 8
        .cfi_rel_offset rbp, 0
        movq    %rsp, %rbp
        .cfi_def_cfa_register rbp
        pushq   %rbx
        pushq   %r12
        movq    %rax, %rbx                    /* rbx = calling goroutine */
        movq    %rsp, %r12                    /* r12 = its sp */
        movq    %rcx, %gs:M_TLS_G
        movq    GOBUF_SP(%rcx), %rsp          /* aligned g0 top */
        movq    %rdi, %rax
        movq    %rsi, %rdi
        callq   *%rax
        movq    %r12, %rsp
        movq    %rbx, %gs:M_TLS_G
        popq    %r12
        popq    %rbx
        popq    %rbp
        .cfi_def_cfa rsp, 8
        ret
1:      movq    %rdi, %rax                    /* already on g0: tail call fn(arg) */
        movq    %rsi, %rdi
        jmpq    *%rax
        .cfi_endproc
        .size   gmp_systemstack, .-gmp_systemstack

        .section .note.GNU-stack,"",@progbits
